//! The `torch.nn` definition of a network, as Python source: an `nn.Sequential` named `layers`
//! whose i-th module is the lab's layer i, so `load_state_dict` takes the lab's safetensors file
//! as it is (`io::net_safetensors`), and the lab loads a state_dict saved from it.

use super::spec::{Layer, NetSpec, Shortcut};
use crate::error::LabResult;

/// The residual block's module (the lab's `Layer::Residual`): its parameter names are those of
/// `NetSpec::params`; dropout sits between the two Conv-BN-ReLU as in Wide-ResNet.
const BLOCK: &str = r#"class Block(nn.Module):
    """He et al. 2016 basic block; option A: x[:, :, ::s, ::s] with zero channels on both sides."""

    def __init__(self, cin, cout, stride, option, p, channelwise):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.drop = (nn.Dropout2d if channelwise else nn.Dropout)(p)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, (cout - cin) // 2
        self.project = option == "b" and (stride != 1 or cin != cout)
        if self.project:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(self.drop(F.relu(self.bn1(self.conv1(x))))))
        if self.project:
            s = self.shortcut(x)
        else:
            s = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + s)
"#;

/// Python source defining `Net` for `spec` (and `Block` when it has residual blocks).
pub fn torch_module(spec: &NetSpec) -> LabResult<String> {
    let shapes = spec.shapes()?;
    let mut lines = Vec::new();
    let mut flat = false;
    for (i, layer) in spec.layers.iter().enumerate() {
        let [c, h, w] = if i == 0 { spec.input } else { shapes[i - 1] };
        let py = |b: bool| if b { "True" } else { "False" };
        lines.push(match *layer {
            Layer::Pad { pixels } => format!("nn.ZeroPad2d({pixels})"),
            Layer::Conv {
                out,
                kernel,
                stride,
                padding,
                bias,
            } => format!(
                "nn.Conv2d({c}, {out}, {kernel}, stride={stride}, padding={padding}, bias={})",
                py(bias)
            ),
            Layer::Dense { out } => format!("nn.Linear({}, {out})", c * h * w),
            Layer::MaxPool {
                kernel,
                stride,
                ceil,
            } => format!("nn.MaxPool2d({kernel}, {stride}, ceil_mode={})", py(ceil)),
            Layer::AvgPool {
                kernel,
                stride,
                ceil,
            } => format!(
                "nn.AvgPool2d({kernel}, {stride}, ceil_mode={}, count_include_pad=False)",
                py(ceil)
            ),
            Layer::GlobalAvgPool => "nn.AdaptiveAvgPool2d(1)".into(),
            Layer::BatchNorm if flat => format!("nn.BatchNorm1d({c})"),
            Layer::BatchNorm => format!("nn.BatchNorm2d({c})"),
            Layer::Relu => "nn.ReLU()".into(),
            Layer::Tanh => "nn.Tanh()".into(),
            Layer::Flatten => {
                flat = true;
                "nn.Flatten()".into()
            }
            Layer::Dropout { rate, channelwise } if channelwise && !flat => {
                format!("nn.Dropout2d({rate})")
            }
            Layer::Dropout { rate, .. } => format!("nn.Dropout({rate})"),
            Layer::Residual {
                out,
                stride,
                shortcut,
                drop_rate,
                channelwise,
            } => format!(
                "Block({c}, {out}, {stride}, \"{}\", {drop_rate}, {})",
                match shortcut {
                    Shortcut::A => "a",
                    Shortcut::B => "b",
                },
                py(channelwise)
            ),
        });
    }
    let has_block = spec
        .layers
        .iter()
        .any(|l| matches!(l, Layer::Residual { .. }));
    let mut src = String::from("import torch.nn as nn\nimport torch.nn.functional as F\n\n\n");
    if has_block {
        src.push_str(BLOCK);
        src.push_str("\n\n");
    }
    let [c, h, w] = spec.input;
    src.push_str(&format!(
        "class Net(nn.Module):\n    \"\"\"Input [batch, {c}, {h}, {w}], {} classes.\"\"\"\n\n    def __init__(self):\n        super().__init__()\n        self.layers = nn.Sequential(\n",
        spec.classes
    ));
    for (i, l) in lines.iter().enumerate() {
        src.push_str(&format!("            {l},  # {i}\n"));
    }
    src.push_str("        )\n\n    def forward(self, x):\n        return self.layers(x)\n");
    Ok(src)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::net::{Arch, ArchConfig};

    #[test]
    fn one_module_per_layer_with_the_state_dict_shapes() {
        for arch in Arch::ALL {
            let mut a = ArchConfig::new(arch);
            a.drop_rate = 0.3;
            let spec = a.build([3, 32, 32], 10).unwrap();
            let src = torch_module(&spec).unwrap();
            let modules: Vec<&str> = src.lines().filter(|l| l.contains("  # ")).collect();
            assert_eq!(modules.len(), spec.layers.len(), "{}", arch.id());
            // Every parameter's module line: the weights' leading dimensions appear in it.
            for p in spec.params().unwrap() {
                let i: usize = p.name.split('.').nth(1).unwrap().parse().unwrap();
                let line = modules[i];
                assert!(
                    line.contains(&p.shape[0].to_string()),
                    "{}: {} {:?} vs {line}",
                    arch.id(),
                    p.name,
                    p.shape
                );
            }
            assert_eq!(src.contains("class Block"), arch == Arch::Resnet20);
        }
        let vgg9 = ArchConfig::new(Arch::Vgg9).build([3, 32, 32], 10).unwrap();
        let src = torch_module(&vgg9).unwrap();
        assert!(src.contains("nn.Linear(4096, 256),  # 28"), "{src}");
        assert!(src.contains("nn.BatchNorm1d(256),  # 29"), "{src}");
    }
}
