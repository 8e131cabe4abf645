//! The papers' named architectures, each with its source and its paper's dropout placement, and a
//! width multiplier for demo scale (channel and unit counts scaled and rounded, at least 1).

use serde::{Deserialize, Serialize};

use super::spec::{Layer, NetSpec, Shortcut};
use crate::error::{LabError, LabResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    Lenet5,
    ConvnetQuick,
    Vgg9,
    Vgg11,
    Resnet20,
}

impl Arch {
    pub const ALL: [Arch; 5] = [
        Arch::Lenet5,
        Arch::ConvnetQuick,
        Arch::Vgg9,
        Arch::Vgg11,
        Arch::Resnet20,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Arch::Lenet5 => "lenet5",
            Arch::ConvnetQuick => "convnet-quick",
            Arch::Vgg9 => "vgg9",
            Arch::Vgg11 => "vgg11",
            Arch::Resnet20 => "resnet20",
        }
    }

    pub fn parse(s: &str) -> LabResult<Arch> {
        Arch::ALL.into_iter().find(|a| a.id() == s).ok_or_else(|| {
            LabError::Config(format!(
                "unknown architecture '{s}' (known: {})",
                Arch::ALL.map(Arch::id).join(", ")
            ))
        })
    }

    /// Its name as a person reads it, for forms and titles.
    pub fn label(self) -> &'static str {
        match self {
            Arch::Lenet5 => "LeNet-5 (Caffe's MNIST net)",
            Arch::ConvnetQuick => "Caffe's CIFAR-10 quick net",
            Arch::Vgg9 => "VGG-9 (Li et al. 2018)",
            Arch::Vgg11 => "VGG-11 (paper 002 Table 5)",
            Arch::Resnet20 => "ResNet-20 (He et al. 2016)",
        }
    }

    /// Where the architecture comes from and where its paper puts dropout.
    pub fn source(self) -> &'static str {
        match self {
            Arch::Lenet5 => {
                "Caffe examples/mnist/lenet_train_test.prototxt: conv 20 5x5, max pool 2, conv 50 \
                 5x5, max pool 2, ip 500, ReLU, ip 10 (no ReLU after the convolutions). Paper 004 \
                 Table 3: dropout on the input of the last fully connected layer."
            }
            Arch::ConvnetQuick => {
                "Caffe examples/cifar10/cifar10_quick_train_test.prototxt: conv 32 5x5 pad 2, max \
                 pool 3/2, ReLU, conv 32 5x5 pad 2, ReLU, avg pool 3/2, conv 64 5x5 pad 2, ReLU, avg \
                 pool 3/2 (Caffe rounds pooled sizes up: 32→16→8→4), ip 64, ip 10 (no ReLU between \
                 the two ip layers, as in Caffe). Paper 004 Sec. 4: dropout on the inputs of both \
                 fully connected layers."
            }
            Arch::Vgg9 => {
                "The VGG-9 of Li et al. 2018 (loss-landscape, cifar10/models/vgg.py) used by paper \
                 000 Fig 1(b): 3x3 conv-BN-ReLU 64, 64, max pool, 128, 128, max pool, 256, 256, \
                 256, max pool, Linear(256·4·4, 256)-BN-ReLU, Linear(256, classes). Paper 000 \
                 Fig 1(b)'s caption: dropout layers after the pooling layers (its rate 0.8 is a \
                 keep probability, Sec. 2: drop rate 0.2)."
            }
            Arch::Vgg11 => {
                "Paper 002 Table 5: conv 64, max pool, conv 128, max pool, conv 256, dropout, conv \
                 256, max pool, conv 512, dropout, conv 512, max pool, conv 512, dropout, conv 512, \
                 max pool, dropout, dense 512, dropout, dense classes; 3x3 convolutions with \
                 padding 1 and ReLU (the table lists no BatchNorm, so none). The table's rates are \
                 0.3 after convolutions and 0.1 around the dense layer; the lab's drop_rate p sets \
                 the convolutions' rate and p/3 the dense ones (0.3 → the table)."
            }
            Arch::Resnet20 => {
                "He et al. 2016 Sec. 4.2: conv 16 3x3-BN-ReLU, three stages of three basic blocks \
                 with 16, 32 and 64 channels (stride 2 at the first block of stages 2 and 3, option \
                 A shortcuts), global average pooling, Linear(64, classes); 0.27M parameters. \
                 Paper 004 Sec. 4, after Wide-ResNet: dropout between the two Conv-BN-ReLU of each \
                 block."
            }
        }
    }

    /// The input side length the architecture was designed for (28x28 MNIST for LeNet; CIFAR's
    /// 32x32 for the others, so grey 28x28 images are zero-padded by 2 pixels).
    pub fn native_side(self) -> usize {
        match self {
            Arch::Lenet5 => 28,
            _ => 32,
        }
    }
}

/// Everything that picks one network: architecture, width multiplier, dropout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchConfig {
    pub arch: Arch,
    /// Scales every channel and hidden-unit count (1 = the paper's network).
    pub width: f64,
    /// The drop rate at the architecture's dropout sites (0 = no dropout).
    pub drop_rate: f32,
    /// One mask value per channel instead of per unit at convolutional sites (`Dropout2d`).
    pub channelwise: bool,
    /// The residual shortcut where the shape changes (ResNet only).
    pub shortcut: Shortcut,
    /// Where the dropout sites are: the architecture's paper (default), or paper 000's ResNet-20
    /// of Fig 1(c), 3 and 5, "dropout layers after the convolutional layers".
    #[serde(default, skip_serializing_if = "Placement::is_paper")]
    pub placement: Placement,
}

/// Where an architecture's dropout layers sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// The sites of the paper the architecture comes from (`Arch::source`).
    #[default]
    Paper,
    /// ResNet-20 only: after the stem's Conv-BN-ReLU, between the two Conv-BN-ReLU of every
    /// block and after every block's output (its second convolution, added to the shortcut):
    /// a site after each convolution unit, paper 000 Sec. 4 / Fig 1(c).
    AfterConvs,
}

impl Placement {
    fn is_paper(&self) -> bool {
        *self == Placement::Paper
    }
}

impl ArchConfig {
    pub fn new(arch: Arch) -> Self {
        ArchConfig {
            arch,
            width: 1.0,
            drop_rate: 0.0,
            channelwise: false,
            shortcut: Shortcut::A,
            placement: Placement::Paper,
        }
    }

    /// The network for images of `input` = [channels, side, side] and `classes` classes.
    pub fn build(&self, input: [usize; 3], classes: usize) -> LabResult<NetSpec> {
        if !(self.width.is_finite() && self.width > 0.0 && self.width <= 8.0) {
            return Err(LabError::Config(format!(
                "width multiplier {} must be in (0, 8]",
                self.width
            )));
        }
        if !(0.0..1.0).contains(&self.drop_rate) {
            return Err(LabError::Config(format!(
                "drop_rate {} must be in [0, 1)",
                self.drop_rate
            )));
        }
        if self.placement == Placement::AfterConvs && self.arch != Arch::Resnet20 {
            return Err(LabError::Config(format!(
                "the after-convolutions placement is paper 000's ResNet-20; {} keeps its paper's \
                 dropout sites",
                self.arch.id()
            )));
        }
        let [_, h, w] = input;
        if h != w {
            return Err(LabError::Config(format!(
                "{} takes square images, got {h}x{w}",
                self.arch.id()
            )));
        }
        let native = self.arch.native_side();
        let mut layers = Vec::new();
        if h < native {
            if (native - h) % 2 != 0 {
                return Err(LabError::Config(format!(
                    "{} expects {native}x{native} images; {h}x{h} cannot be padded evenly",
                    self.arch.id()
                )));
            }
            layers.push(Layer::Pad {
                pixels: (native - h) / 2,
            });
        }
        let c = |n: usize| ((n as f64 * self.width).round() as usize).max(1);
        let p = self.drop_rate;
        let drop = |rate: f32, channelwise: bool| Layer::Dropout { rate, channelwise };
        let conv = |out, kernel, padding, bias| Layer::Conv {
            out,
            kernel,
            stride: 1,
            padding,
            bias,
        };
        match self.arch {
            Arch::Lenet5 => {
                layers.extend([
                    conv(c(20), 5, 0, true),
                    max_pool(2, 2, false),
                    conv(c(50), 5, 0, true),
                    max_pool(2, 2, false),
                    Layer::Flatten,
                    Layer::Dense { out: c(500) },
                    Layer::Relu,
                    drop(p, false),
                    Layer::Dense { out: classes },
                ]);
            }
            Arch::ConvnetQuick => {
                let avg = Layer::AvgPool {
                    kernel: 3,
                    stride: 2,
                    ceil: true,
                };
                layers.extend([
                    conv(c(32), 5, 2, true),
                    max_pool(3, 2, true),
                    Layer::Relu,
                    conv(c(32), 5, 2, true),
                    Layer::Relu,
                    avg.clone(),
                    conv(c(64), 5, 2, true),
                    Layer::Relu,
                    avg,
                    Layer::Flatten,
                    drop(p, false),
                    Layer::Dense { out: c(64) },
                    drop(p, false),
                    Layer::Dense { out: classes },
                ]);
            }
            Arch::Vgg9 => {
                for item in [64, 64, 0, 128, 128, 0, 256, 256, 256, 0] {
                    if item == 0 {
                        layers.extend([max_pool(2, 2, true), drop(p, self.channelwise)]);
                    } else {
                        layers.extend([conv(c(item), 3, 1, true), Layer::BatchNorm, Layer::Relu]);
                    }
                }
                layers.extend([
                    Layer::Flatten,
                    Layer::Dense { out: c(256) },
                    Layer::BatchNorm,
                    Layer::Relu,
                    Layer::Dense { out: classes },
                ]);
            }
            Arch::Vgg11 => {
                // 0: max pool; negative: a conv followed by dropout.
                for item in [64i64, 0, 128, 0, -256, 256, 0, -512, 512, 0, -512, 512, 0] {
                    if item == 0 {
                        layers.push(max_pool(2, 2, false));
                    } else {
                        layers.extend([
                            conv(c(item.unsigned_abs() as usize), 3, 1, true),
                            Layer::Relu,
                        ]);
                        if item < 0 {
                            layers.push(drop(p, self.channelwise));
                        }
                    }
                }
                layers.extend([
                    Layer::Flatten,
                    drop(p / 3.0, false),
                    Layer::Dense { out: c(512) },
                    Layer::Relu,
                    drop(p / 3.0, false),
                    Layer::Dense { out: classes },
                ]);
            }
            Arch::Resnet20 => {
                let after = self.placement == Placement::AfterConvs;
                layers.extend([conv(c(16), 3, 1, false), Layer::BatchNorm, Layer::Relu]);
                if after {
                    layers.push(drop(p, self.channelwise));
                }
                for (stage, channels) in [16, 32, 64].into_iter().enumerate() {
                    for block in 0..3 {
                        layers.push(Layer::Residual {
                            out: c(channels),
                            stride: if stage > 0 && block == 0 { 2 } else { 1 },
                            shortcut: self.shortcut,
                            drop_rate: p,
                            channelwise: self.channelwise,
                        });
                        if after {
                            layers.push(drop(p, self.channelwise));
                        }
                    }
                }
                layers.extend([
                    Layer::GlobalAvgPool,
                    Layer::Flatten,
                    Layer::Dense { out: classes },
                ]);
            }
        }
        // Dropout layers stay at rate 0 (no site, no mask): a network's state_dict names then do
        // not depend on its drop rate, as in PyTorch, where nn.Dropout(0) keeps its index.
        let spec = NetSpec {
            input,
            classes,
            layers,
        };
        spec.shapes()?;
        Ok(spec)
    }
}

fn max_pool(kernel: usize, stride: usize, ceil: bool) -> Layer {
    Layer::MaxPool {
        kernel,
        stride,
        ceil,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(arch: Arch, input: [usize; 3], classes: usize) -> usize {
        ArchConfig::new(arch)
            .build(input, classes)
            .unwrap()
            .param_count()
            .unwrap()
    }

    /// Parameter counts from the architectures' definitions, counted by hand layer by layer.
    #[test]
    fn parameter_counts_match_the_sources() {
        // LeNet: 20·25+20, 50·20·25+50, 500·800+500, 10·500+10.
        assert_eq!(
            count(Arch::Lenet5, [1, 28, 28], 10),
            520 + 25_050 + 400_500 + 5_010
        );
        // cifar10_quick: 32·3·25+32, 32·32·25+32, 64·32·25+64, 64·1024+64, 10·64+10.
        assert_eq!(
            count(Arch::ConvnetQuick, [3, 32, 32], 10),
            2_432 + 25_632 + 51_264 + 65_600 + 650
        );
        // ResNet-20: He et al. report 0.27M.
        let resnet = count(Arch::Resnet20, [3, 32, 32], 10);
        assert!((265_000..275_000).contains(&resnet), "{resnet}");
        // Stem 16·27 + BN 32; stage 1: 6 convs 16·16·9 + 6 BN; stage 2: 32·16·9 + 5·32·32·9 +
        // 6 BN; stage 3: 64·32·9 + 5·64·64·9 + 6 BN; fc 650.
        let exact = 432
            + 32
            + 6 * (2304 + 32)
            + (4608 + 5 * 9216 + 6 * 64)
            + (18432 + 5 * 36864 + 6 * 128)
            + 650;
        assert_eq!(resnet, exact);
        // VGG-9: convs 3→64→64→128→128→256→256→256 (3x3, bias), BNs, fc 4096→256, BN, 256→10.
        let convs = [
            (3, 64),
            (64, 64),
            (64, 128),
            (128, 128),
            (128, 256),
            (256, 256),
            (256, 256),
        ];
        let vgg9: usize = convs
            .iter()
            .map(|(i, o)| i * o * 9 + o + 2 * o)
            .sum::<usize>()
            + (4096 * 256 + 256 + 512)
            + 2570;
        assert_eq!(count(Arch::Vgg9, [3, 32, 32], 10), vgg9);
    }

    #[test]
    fn grey_28_is_padded_and_width_scales() {
        let spec = ArchConfig::new(Arch::Resnet20)
            .build([1, 28, 28], 10)
            .unwrap();
        assert_eq!(spec.layers[0], Layer::Pad { pixels: 2 });
        let lenet = ArchConfig::new(Arch::Lenet5)
            .build([1, 28, 28], 10)
            .unwrap();
        assert!(!matches!(lenet.layers[0], Layer::Pad { .. }));
        let mut half = ArchConfig::new(Arch::ConvnetQuick);
        half.width = 0.5;
        let s = half.build([3, 32, 32], 10).unwrap();
        assert_eq!(
            s.layers[0],
            Layer::Conv {
                out: 16,
                kernel: 5,
                stride: 1,
                padding: 2,
                bias: true
            }
        );
        half.width = 0.0;
        assert!(half.build([3, 32, 32], 10).is_err());
    }

    #[test]
    fn dropout_sites_follow_the_papers() {
        let with = |arch, p| {
            let mut a = ArchConfig::new(arch);
            a.drop_rate = p;
            a.build([3, 32, 32], 10).unwrap().dropout_sites().unwrap()
        };
        assert_eq!(with(Arch::ConvnetQuick, 0.5).len(), 2);
        assert_eq!(with(Arch::Lenet5, 0.5).len(), 1);
        assert_eq!(with(Arch::Resnet20, 0.3).len(), 9);
        let vgg11 = with(Arch::Vgg11, 0.3);
        assert_eq!(vgg11.len(), 5);
        assert!((vgg11[4].rate - 0.1).abs() < 1e-6);
        assert!(with(Arch::Vgg9, 0.0).is_empty());
        // Paper 000 Fig 1(b): after each of VGG-9's three pooling layers.
        let vgg9 = ArchConfig {
            drop_rate: 0.2,
            ..ArchConfig::new(Arch::Vgg9)
        }
        .build([3, 32, 32], 10)
        .unwrap();
        let sites = vgg9.dropout_sites().unwrap();
        assert_eq!(sites.len(), 3);
        assert!(sites
            .iter()
            .all(|s| matches!(vgg9.layers[s.layer - 1], Layer::MaxPool { .. })));
        // Paper 000 Fig 1(c): after the stem and inside and after each of the nine blocks.
        let mut after = ArchConfig::new(Arch::Resnet20);
        (after.drop_rate, after.placement) = (0.2, Placement::AfterConvs);
        assert_eq!(
            after
                .build([3, 32, 32], 100)
                .unwrap()
                .dropout_sites()
                .unwrap()
                .len(),
            19
        );
        after.arch = Arch::Vgg11;
        assert!(after
            .build([3, 32, 32], 10)
            .unwrap_err()
            .to_string()
            .contains("paper 000's ResNet-20"));
        assert_eq!(Arch::parse("resnet20").unwrap(), Arch::Resnet20);
        assert!(Arch::parse("resnet50")
            .unwrap_err()
            .to_string()
            .contains("vgg9"));
    }
}
