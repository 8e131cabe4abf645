//! Which network a run trains: an MLP (widths, activation, drop rates, init) or one of the
//! papers' named architectures (`net::arch`). Both build the one network type, a `NetSpec`; an MLP
//! is the Sequential of Linear, activation and Dropout layers of `net::mlp`.
//!
//! In a `TrainConfig` it is flattened under the key of its kind, as each was written before the two
//! were one type: `"model": {"widths": …}` for an MLP, `"arch": {"arch": "lenet5", …}` for a named
//! one, so every config, result file and page field path of before still reads.

use serde::{Deserialize, Serialize};

use super::config::MlpConfig;
use super::init::initial_params;
use super::net::{ArchConfig, NetParams, NetSpec};
use crate::data::augment::image_shape;
use crate::error::{LabError, LabResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ModelConfig {
    #[serde(rename = "model")]
    Mlp(MlpConfig),
    #[serde(rename = "arch")]
    Arch(ArchConfig),
}

impl From<MlpConfig> for ModelConfig {
    fn from(c: MlpConfig) -> Self {
        ModelConfig::Mlp(c)
    }
}

impl From<ArchConfig> for ModelConfig {
    fn from(c: ArchConfig) -> Self {
        ModelConfig::Arch(c)
    }
}

impl ModelConfig {
    /// The network for data of `dim` features per example and `classes` classes.
    pub fn build(&self, dim: usize, classes: usize) -> LabResult<NetSpec> {
        match self {
            ModelConfig::Mlp(c) => {
                c.validate(dim, classes)?;
                Ok(c.net_spec())
            }
            ModelConfig::Arch(a) => {
                let shape = image_shape(dim).ok_or_else(|| {
                    LabError::Config(format!(
                        "{dim} features are not a square grey or RGB image: conv nets need images"
                    ))
                })?;
                a.build(shape, classes)
            }
        }
    }

    /// Seeded initial parameters of `spec` (built by `build`): an MLP's own scheme (He or
    /// Xavier, drawn layer by layer as the MLP always drew them), He-normal for the named ones.
    pub fn init(&self, spec: &NetSpec, rng: &mut impl rand::Rng) -> LabResult<NetParams> {
        match self {
            ModelConfig::Mlp(c) => initial_params(c, rng).to_net(c),
            ModelConfig::Arch(_) => NetParams::init(spec, rng),
        }
    }

    pub fn mlp(&self) -> Option<&MlpConfig> {
        match self {
            ModelConfig::Mlp(c) => Some(c),
            ModelConfig::Arch(_) => None,
        }
    }

    pub fn mlp_mut(&mut self) -> Option<&mut MlpConfig> {
        match self {
            ModelConfig::Mlp(c) => Some(c),
            ModelConfig::Arch(_) => None,
        }
    }

    pub fn arch(&self) -> Option<&ArchConfig> {
        match self {
            ModelConfig::Arch(a) => Some(a),
            ModelConfig::Mlp(_) => None,
        }
    }

    pub fn arch_mut(&mut self) -> Option<&mut ArchConfig> {
        match self {
            ModelConfig::Arch(a) => Some(a),
            ModelConfig::Mlp(_) => None,
        }
    }

    /// One drop rate at every dropout site: a named network's sites, every hidden layer of an
    /// MLP (the presets that sweep "the" drop rate).
    pub fn set_drop_rate(&mut self, rate: f32) {
        match self {
            ModelConfig::Mlp(c) => c.drop_rates.iter_mut().for_each(|p| *p = rate),
            ModelConfig::Arch(a) => a.drop_rate = rate,
        }
    }

    /// For messages and labels: "784-50-50-10 relu" or "lenet5 (width 0.5)".
    pub fn label(&self) -> String {
        match self {
            ModelConfig::Mlp(c) => {
                let w: Vec<String> = c.widths.iter().map(usize::to_string).collect();
                format!("{} {:?}", w.join("-"), c.activation).to_lowercase()
            }
            ModelConfig::Arch(a) if a.width == 1.0 => a.arch.id().to_string(),
            ModelConfig::Arch(a) => format!("{} (width {})", a.arch.id(), a.width),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, InitScheme};

    #[test]
    fn an_mlp_builds_its_network_and_draws_its_own_init() {
        let c = MlpConfig {
            widths: vec![4, 3, 2],
            activation: Activation::Relu,
            drop_rates: vec![0.1],
            init: InitScheme::He,
        };
        let m = ModelConfig::from(c.clone());
        let spec = m.build(4, 2).unwrap();
        assert_eq!(spec, c.net_spec());
        assert!(m
            .build(5, 2)
            .unwrap_err()
            .to_string()
            .contains("input width"));
        let rng = || crate::rng::stream(7, crate::rng::Stream::Init);
        let want = initial_params(&c, &mut rng()).to_net(&c).unwrap();
        assert_eq!(m.init(&spec, &mut rng()).unwrap(), want);
        assert_eq!(m.label(), "4-3-2 relu");
    }
}
