//! A network as a list of layers, each mapping to one `torch.nn` module of a `nn.Sequential`
//! named `layers` (so a PyTorch state_dict's keys are `layers.{i}.{name}`), with shape inference
//! and the list of parameters and buffers in state_dict order.
//!
//! Every activation is a [batch, channels, height, width] map; a flat vector of n features is the
//! map [n, 1, 1] (so BatchNorm1d and BatchNorm2d are one layer, and dropout masks one shape).

use serde::{Deserialize, Serialize};

use crate::error::{LabError, LabResult};

/// The shortcut of a residual block when its shape changes (He et al. 2016, Sec. 3.3 and 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shortcut {
    /// Option A: identity on x[:, :, ::s, ::s], extra channels zero (no parameters; the CIFAR
    /// ResNets of the paper's Sec. 4.2 use it). New channels are split evenly on both sides, as
    /// the widely used `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, c/4, c/4))`.
    A,
    /// Option B: a 1x1 convolution with stride s and a BatchNorm (parameters).
    B,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Layer {
    /// `nn.ZeroPad2d(pixels)`: grey 28x28 inputs padded to the 32x32 a CIFAR net expects.
    Pad {
        pixels: usize,
    },
    /// `nn.Conv2d(in, out, kernel, stride, padding, bias)`.
    Conv {
        out: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        bias: bool,
    },
    /// `nn.Linear(in, out)` on a flat input.
    Dense {
        out: usize,
    },
    /// `nn.MaxPool2d(kernel, stride, ceil_mode)`.
    MaxPool {
        kernel: usize,
        stride: usize,
        ceil: bool,
    },
    /// `nn.AvgPool2d(kernel, stride, ceil_mode)`; windows cut by the border average what they
    /// cover (PyTorch without padding, Caffe's AVE).
    AvgPool {
        kernel: usize,
        stride: usize,
        ceil: bool,
    },
    /// `nn.AdaptiveAvgPool2d(1)`: [c, h, w] -> [c, 1, 1].
    GlobalAvgPool,
    /// `nn.BatchNorm2d(c)` (or `BatchNorm1d` on a flat input): PyTorch's eps 1e-5, momentum 0.1.
    BatchNorm,
    Relu,
    Tanh,
    /// `nn.Flatten()`: [c, h, w] -> [c·h·w, 1, 1] in PyTorch's (c, h, w) order.
    Flatten,
    /// Inverted dropout (`nn.Dropout`, or `nn.Dropout2d` when `channelwise`: one draw per
    /// channel and example, Tompson et al. 2015).
    Dropout {
        rate: f32,
        channelwise: bool,
    },
    /// The basic block of He et al. 2016: relu(bn2(conv2(drop(relu(bn1(conv1(x)))))) + s(x)),
    /// 3x3 convolutions without bias; dropout between the two Conv-BN-ReLU as in Wide-ResNet
    /// (Zagoruyko & Komodakis 2016), which paper 004 follows.
    Residual {
        out: usize,
        stride: usize,
        shortcut: Shortcut,
        drop_rate: f32,
        channelwise: bool,
    },
}

/// BatchNorm's constants (PyTorch's defaults).
pub const BN_EPS: f64 = 1e-5;
pub const BN_MOMENTUM: f64 = 0.1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetSpec {
    /// [channels, height, width] of one input example.
    pub input: [usize; 3],
    pub classes: usize,
    pub layers: Vec<Layer>,
}

/// What a parameter is, for initialisation and for the analyses that pick weight blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A conv or dense weight with its fan-in (in_channels · kh · kw, or in_features).
    Weight {
        fan_in: usize,
    },
    Bias,
    /// BatchNorm's γ.
    Scale,
    /// BatchNorm's β.
    Shift,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// The state_dict key, e.g. `layers.3.conv1.weight`.
    pub name: String,
    /// PyTorch's layout: conv [out, in, kh, kw], dense [out, in], vectors [n].
    pub shape: Vec<usize>,
    pub role: Role,
}

impl ParamSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A dropout site: where a mask multiplies the activations, and the mask's per-example shape.
#[derive(Debug, Clone, PartialEq)]
pub struct DropoutSite {
    /// Index of the layer in `NetSpec::layers` (a residual block's inner dropout counts as its
    /// block's index).
    pub layer: usize,
    pub rate: f32,
    /// [c, h, w] of the activations, or [c, 1, 1] when channel-wise.
    pub mask_shape: [usize; 3],
}

/// Output size of a window of `kernel` with `stride` over `size` (+ 2·padding), PyTorch's rule:
/// floor, or ceil without starting a window in the right padding.
pub fn window_out(size: usize, kernel: usize, stride: usize, padding: usize, ceil: bool) -> usize {
    let span = size + 2 * padding - kernel;
    let mut out = if ceil {
        span.div_ceil(stride) + 1
    } else {
        span / stride + 1
    };
    if ceil && (out - 1) * stride >= size + padding {
        out -= 1;
    }
    out
}

/// Largest parameter count accepted (VGG-11 at full width has 9.2M).
const MAX_PARAMS: usize = 50_000_000;

impl NetSpec {
    /// The shape after each layer ([c, h, w]), validating every layer on the way.
    pub fn shapes(&self) -> LabResult<Vec<[usize; 3]>> {
        let mut s = self.input;
        if s.contains(&0) {
            return Err(LabError::Config(format!("input shape {s:?} has a zero")));
        }
        let mut out = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let bad = |m: String| LabError::Config(format!("layer {i} ({}): {m}", layer.label()));
            let [c, h, w] = s;
            s = match *layer {
                Layer::Pad { pixels } => [c, h + 2 * pixels, w + 2 * pixels],
                Layer::Conv {
                    out,
                    kernel,
                    stride,
                    padding,
                    ..
                } => {
                    if out == 0 || kernel == 0 || stride == 0 {
                        return Err(bad("channels, kernel and stride must be positive".into()));
                    }
                    if h + 2 * padding < kernel || w + 2 * padding < kernel {
                        return Err(bad(format!(
                            "a {kernel}x{kernel} kernel does not fit a {h}x{w} input"
                        )));
                    }
                    [
                        out,
                        window_out(h, kernel, stride, padding, false),
                        window_out(w, kernel, stride, padding, false),
                    ]
                }
                Layer::Dense { out } => {
                    if h != 1 || w != 1 {
                        return Err(bad(format!(
                            "needs a flat input, got a {c}x{h}x{w} map (add a flatten layer)"
                        )));
                    }
                    if out == 0 {
                        return Err(bad("width 0".into()));
                    }
                    [out, 1, 1]
                }
                Layer::MaxPool {
                    kernel,
                    stride,
                    ceil,
                }
                | Layer::AvgPool {
                    kernel,
                    stride,
                    ceil,
                } => {
                    if kernel == 0 || stride == 0 {
                        return Err(bad("kernel and stride must be positive".into()));
                    }
                    if h < kernel || w < kernel {
                        return Err(bad(format!(
                            "a {kernel}x{kernel} window does not fit a {h}x{w} input"
                        )));
                    }
                    [
                        c,
                        window_out(h, kernel, stride, 0, ceil),
                        window_out(w, kernel, stride, 0, ceil),
                    ]
                }
                Layer::GlobalAvgPool => [c, 1, 1],
                Layer::BatchNorm | Layer::Relu | Layer::Tanh => s,
                Layer::Flatten => [c * h * w, 1, 1],
                Layer::Dropout { rate, .. } => {
                    check_rate(rate).map_err(bad)?;
                    s
                }
                Layer::Residual {
                    out,
                    stride,
                    shortcut,
                    drop_rate,
                    ..
                } => {
                    check_rate(drop_rate).map_err(bad)?;
                    if out == 0 || stride == 0 {
                        return Err(bad("channels and stride must be positive".into()));
                    }
                    if shortcut == Shortcut::A && (out < c || (out - c) % 2 != 0) {
                        return Err(bad(format!(
                            "option A pads {c} channels with zeros on both sides: {out} must be \
                             at least {c} and differ from it by an even number (or use option B)"
                        )));
                    }
                    [
                        out,
                        window_out(h, 3, stride, 1, false),
                        window_out(w, 3, stride, 1, false),
                    ]
                }
            };
            out.push(s);
        }
        match out.last() {
            Some(&[k, 1, 1]) if k == self.classes => {}
            Some(last) => {
                return Err(LabError::Config(format!(
                    "the network ends in {last:?}, not the {} class logits",
                    self.classes
                )))
            }
            None => return Err(LabError::Config("the network has no layers".into())),
        }
        let count = self.param_count_of(&out);
        if count > MAX_PARAMS {
            return Err(LabError::Config(format!(
                "{count} parameters exceed the limit of {MAX_PARAMS}"
            )));
        }
        Ok(out)
    }

    /// Check the spec against data of `input_dim` features per example and `classes` classes.
    pub fn validate(&self, input_dim: usize, classes: usize) -> LabResult<()> {
        let [c, h, w] = self.input;
        if c * h * w != input_dim {
            return Err(LabError::Config(format!(
                "the network takes {c}x{h}x{w} = {} inputs, the data has {input_dim} features",
                c * h * w
            )));
        }
        if self.classes != classes {
            return Err(LabError::Config(format!(
                "the network has {} outputs, the data {classes} classes",
                self.classes
            )));
        }
        self.shapes().map(|_| ())
    }

    /// The input shape of layer i.
    fn input_of(&self, shapes: &[[usize; 3]], i: usize) -> [usize; 3] {
        if i == 0 {
            self.input
        } else {
            shapes[i - 1]
        }
    }

    /// Parameters in state_dict order (buffers excluded).
    pub fn params(&self) -> LabResult<Vec<ParamSpec>> {
        let shapes = self.shapes()?;
        Ok(self.params_of(&shapes))
    }

    fn params_of(&self, shapes: &[[usize; 3]]) -> Vec<ParamSpec> {
        let mut v = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            let [c, h, w] = self.input_of(shapes, i);
            let p = |name: &str, shape: Vec<usize>, role| ParamSpec {
                name: format!("layers.{i}.{name}"),
                shape,
                role,
            };
            match *layer {
                Layer::Conv {
                    out, kernel, bias, ..
                } => {
                    v.push(p(
                        "weight",
                        vec![out, c, kernel, kernel],
                        Role::Weight {
                            fan_in: c * kernel * kernel,
                        },
                    ));
                    if bias {
                        v.push(p("bias", vec![out], Role::Bias));
                    }
                }
                Layer::Dense { out } => {
                    v.push(p(
                        "weight",
                        vec![out, c * h * w],
                        Role::Weight { fan_in: c },
                    ));
                    v.push(p("bias", vec![out], Role::Bias));
                }
                Layer::BatchNorm => {
                    v.push(p("weight", vec![c], Role::Scale));
                    v.push(p("bias", vec![c], Role::Shift));
                }
                Layer::Residual {
                    out,
                    stride,
                    shortcut,
                    ..
                } => {
                    let conv = |name: &str, cin: usize, k: usize| {
                        p(
                            name,
                            vec![out, cin, k, k],
                            Role::Weight {
                                fan_in: cin * k * k,
                            },
                        )
                    };
                    v.push(conv("conv1.weight", c, 3));
                    v.push(p("bn1.weight", vec![out], Role::Scale));
                    v.push(p("bn1.bias", vec![out], Role::Shift));
                    v.push(conv("conv2.weight", out, 3));
                    v.push(p("bn2.weight", vec![out], Role::Scale));
                    v.push(p("bn2.bias", vec![out], Role::Shift));
                    if shortcut == Shortcut::B && (stride != 1 || out != c) {
                        v.push(conv("shortcut.0.weight", c, 1));
                        v.push(p("shortcut.1.weight", vec![out], Role::Scale));
                        v.push(p("shortcut.1.bias", vec![out], Role::Shift));
                    }
                }
                _ => {}
            }
        }
        v
    }

    fn param_count_of(&self, shapes: &[[usize; 3]]) -> usize {
        self.params_of(shapes).iter().map(ParamSpec::len).sum()
    }

    pub fn param_count(&self) -> LabResult<usize> {
        Ok(self.params()?.iter().map(ParamSpec::len).sum())
    }

    /// BatchNorm buffers in state_dict order: (prefix such as `layers.1` or `layers.3.bn1`,
    /// channels); each has running_mean, running_var and num_batches_tracked.
    pub fn batch_norms(&self) -> LabResult<Vec<(String, usize)>> {
        let shapes = self.shapes()?;
        let mut v = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            let [c, ..] = self.input_of(&shapes, i);
            match *layer {
                Layer::BatchNorm => v.push((format!("layers.{i}"), c)),
                Layer::Residual {
                    out,
                    stride,
                    shortcut,
                    ..
                } => {
                    v.push((format!("layers.{i}.bn1"), out));
                    v.push((format!("layers.{i}.bn2"), out));
                    if shortcut == Shortcut::B && (stride != 1 || out != c) {
                        v.push((format!("layers.{i}.shortcut.1"), out));
                    }
                }
                _ => {}
            }
        }
        Ok(v)
    }

    /// The dropout sites in forward order (rate 0 sites are left out).
    pub fn dropout_sites(&self) -> LabResult<Vec<DropoutSite>> {
        let shapes = self.shapes()?;
        let mut v = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            let (rate, channelwise, [c, h, w]) = match *layer {
                Layer::Dropout { rate, channelwise } => (rate, channelwise, shapes[i]),
                Layer::Residual {
                    drop_rate,
                    channelwise,
                    ..
                } => (drop_rate, channelwise, shapes[i]),
                _ => continue,
            };
            if rate > 0.0 {
                v.push(DropoutSite {
                    layer: i,
                    rate,
                    mask_shape: if channelwise { [c, 1, 1] } else { [c, h, w] },
                });
            }
        }
        Ok(v)
    }

    pub fn has_batch_norm(&self) -> bool {
        self.layers
            .iter()
            .any(|l| matches!(l, Layer::BatchNorm | Layer::Residual { .. }))
    }
}

fn check_rate(rate: f32) -> Result<(), String> {
    if (0.0..1.0).contains(&rate) {
        Ok(())
    } else {
        Err(format!("drop_rate {rate} must be in [0, 1)"))
    }
}

impl Layer {
    /// The torch.nn module this layer is, for messages and README.
    pub fn label(&self) -> String {
        match self {
            Layer::Pad { pixels } => format!("ZeroPad2d({pixels})"),
            Layer::Conv {
                out,
                kernel,
                stride,
                padding,
                bias,
            } => format!("Conv2d(→{out}, {kernel}x{kernel}, stride {stride}, padding {padding}, bias {bias})"),
            Layer::Dense { out } => format!("Linear(→{out})"),
            Layer::MaxPool { kernel, stride, ceil } => {
                format!("MaxPool2d({kernel}, stride {stride}, ceil_mode {ceil})")
            }
            Layer::AvgPool { kernel, stride, ceil } => {
                format!("AvgPool2d({kernel}, stride {stride}, ceil_mode {ceil})")
            }
            Layer::GlobalAvgPool => "AdaptiveAvgPool2d(1)".into(),
            Layer::BatchNorm => "BatchNorm".into(),
            Layer::Relu => "ReLU".into(),
            Layer::Tanh => "Tanh".into(),
            Layer::Flatten => "Flatten".into(),
            Layer::Dropout { rate, channelwise } => {
                format!("Dropout{}({rate})", if *channelwise { "2d" } else { "" })
            }
            Layer::Residual {
                out,
                stride,
                shortcut,
                drop_rate,
                ..
            } => format!("BasicBlock(→{out}, stride {stride}, option {shortcut:?}, dropout {drop_rate})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_sizes_follow_pytorch() {
        // cifar10_quick's 3x3 stride-2 pools with Caffe's ceil: 32 -> 16 -> 8 -> 4.
        assert_eq!(window_out(32, 3, 2, 0, true), 16);
        assert_eq!(window_out(16, 3, 2, 0, true), 8);
        assert_eq!(window_out(8, 3, 2, 0, true), 4);
        assert_eq!(window_out(32, 3, 2, 0, false), 15);
        assert_eq!(window_out(28, 5, 1, 0, false), 24);
        assert_eq!(window_out(32, 3, 2, 1, false), 16);
        // A window may not start in the right padding (PyTorch's rule): 5 with k 2 s 2 -> 3.
        assert_eq!(window_out(5, 2, 2, 0, true), 3);
        assert_eq!(window_out(4, 2, 2, 0, true), 2);
    }

    #[test]
    fn bad_layers_are_named() {
        let net = |layers| NetSpec {
            input: [1, 8, 8],
            classes: 10,
            layers,
        };
        let e = net(vec![Layer::Dense { out: 10 }]).shapes().unwrap_err();
        assert!(e.to_string().contains("flatten"), "{e}");
        let e = net(vec![
            Layer::Conv {
                out: 4,
                kernel: 9,
                stride: 1,
                padding: 0,
                bias: true,
            },
            Layer::Flatten,
            Layer::Dense { out: 10 },
        ])
        .shapes()
        .unwrap_err();
        assert!(e.to_string().contains("does not fit"), "{e}");
        let e = net(vec![Layer::Flatten, Layer::Dense { out: 7 }])
            .shapes()
            .unwrap_err();
        assert!(e.to_string().contains("10 class logits"), "{e}");
        let e = net(vec![
            Layer::Residual {
                out: 4,
                stride: 2,
                shortcut: Shortcut::A,
                drop_rate: 0.0,
                channelwise: false,
            },
            Layer::GlobalAvgPool,
            Layer::Flatten,
            Layer::Dense { out: 10 },
        ])
        .shapes()
        .unwrap_err();
        assert!(e.to_string().contains("option B"), "{e}");
        let e = net(vec![
            Layer::Flatten,
            Layer::Dropout {
                rate: 1.0,
                channelwise: false,
            },
            Layer::Dense { out: 10 },
        ])
        .shapes()
        .unwrap_err();
        assert!(e.to_string().contains("[0, 1)"), "{e}");
    }
}
