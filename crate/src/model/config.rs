//! The architecture of an MLP and its validation.

use serde::{Deserialize, Serialize};

use crate::error::{LabError, LabResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Relu,
    Tanh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitScheme {
    /// He/Kaiming normal: N(0, 2 / fan_in), for ReLU.
    He,
    /// Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)), for tanh.
    Xavier,
}

impl InitScheme {
    /// The scheme each activation was derived for: He for ReLU, Xavier for tanh (the page's "auto").
    pub fn for_activation(activation: Activation) -> Self {
        match activation {
            Activation::Relu => InitScheme::He,
            Activation::Tanh => InitScheme::Xavier,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Layer widths from input to output, e.g. [784, 50, 50, 10].
    pub widths: Vec<usize>,
    pub activation: Activation,
    /// Drop probability after each hidden layer (len = widths.len() - 2); 0 = no dropout there.
    pub drop_rates: Vec<f32>,
    pub init: InitScheme,
}

/// Largest parameter count accepted: 784-1024-1024-10 has 1.86M; leave room, refuse the absurd.
const MAX_PARAMS: usize = 50_000_000;

impl MlpConfig {
    pub fn hidden_layers(&self) -> usize {
        self.widths.len().saturating_sub(2)
    }

    pub fn param_count(&self) -> usize {
        self.widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
    }

    pub fn validate(&self, input_dim: usize, classes: usize) -> LabResult<()> {
        if self.widths.len() < 2 {
            return Err(LabError::Config(
                "an MLP needs at least an input and an output width".into(),
            ));
        }
        if let Some(i) = self.widths.iter().position(|&w| w == 0) {
            return Err(LabError::Config(format!("layer {i} has width 0")));
        }
        if self.widths[0] != input_dim {
            return Err(LabError::Config(format!(
                "input width {} does not match the data's {input_dim} features",
                self.widths[0]
            )));
        }
        let out = *self.widths.last().unwrap();
        if out != classes {
            return Err(LabError::Config(format!(
                "output width {out} does not match the {classes} classes"
            )));
        }
        if self.drop_rates.len() != self.hidden_layers() {
            return Err(LabError::Config(format!(
                "{} drop rates given for {} hidden layers",
                self.drop_rates.len(),
                self.hidden_layers()
            )));
        }
        for (i, &p) in self.drop_rates.iter().enumerate() {
            if !(0.0..1.0).contains(&p) {
                return Err(LabError::Config(format!(
                    "drop_rate {p} after hidden layer {} must be in [0, 1)",
                    i + 1
                )));
            }
        }
        if self.param_count() > MAX_PARAMS {
            return Err(LabError::Config(format!(
                "{} parameters exceed the limit of {MAX_PARAMS}",
                self.param_count()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(widths: Vec<usize>, drops: Vec<f32>) -> MlpConfig {
        MlpConfig {
            widths,
            activation: Activation::Relu,
            drop_rates: drops,
            init: InitScheme::He,
        }
    }

    #[test]
    fn counts_parameters() {
        assert_eq!(
            cfg(vec![784, 50, 50, 10], vec![0.0, 0.5]).param_count(),
            784 * 50 + 50 + 50 * 50 + 50 + 50 * 10 + 10
        );
    }

    #[test]
    fn rejects_impossible_configs() {
        let msg = |c: MlpConfig| c.validate(784, 10).unwrap_err().to_string();
        assert!(msg(cfg(vec![784, 50, 10], vec![1.0])).contains("must be in [0, 1)"));
        assert!(msg(cfg(vec![784, 50, 10], vec![-0.1])).contains("must be in [0, 1)"));
        assert!(msg(cfg(vec![784, 50, 10], vec![f32::NAN])).contains("must be in [0, 1)"));
        assert!(msg(cfg(vec![784, 50, 10], vec![])).contains("drop rates"));
        assert!(msg(cfg(vec![100, 50, 10], vec![0.0])).contains("input width"));
        assert!(msg(cfg(vec![784, 0, 10], vec![0.0])).contains("width 0"));
        assert!(msg(cfg(vec![784, 50, 7], vec![0.0])).contains("classes"));
        assert!(cfg(vec![784, 50, 50, 10], vec![0.0, 0.5])
            .validate(784, 10)
            .is_ok());
    }
}
