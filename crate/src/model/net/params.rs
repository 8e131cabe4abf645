//! A network's parameters and BatchNorm buffers on the host, in PyTorch's state_dict layout, and
//! their seeded initialisation (drawn on the host so every backend starts from the same numbers).

use rand::Rng;
use rand_distr::{Distribution, Normal};

use super::spec::{NetSpec, ParamSpec, Role};
use crate::error::{LabError, LabResult};

/// One BatchNorm's buffers (PyTorch's running_mean, running_var, num_batches_tracked).
#[derive(Debug, Clone, PartialEq)]
pub struct RunningStats {
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
    pub batches: u64,
}

impl RunningStats {
    /// PyTorch's initial buffers: mean 0, variance 1, no batch seen.
    pub fn fresh(channels: usize) -> Self {
        RunningStats {
            mean: vec![0.0; channels],
            var: vec![1.0; channels],
            batches: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetParams {
    pub spec: NetSpec,
    /// One vector per parameter of `spec.params()`, in that order and layout.
    pub params: Vec<Vec<f32>>,
    /// One entry per BatchNorm of `spec.batch_norms()`.
    pub running: Vec<RunningStats>,
}

impl NetParams {
    /// He-normal weights N(0, 2/fan_in) for every convolution and dense layer (He et al. 2015,
    /// which papers 000 and 004's ResNet use; PyTorch's default differs), zero biases, BatchNorm
    /// γ = 1 and β = 0, fresh buffers.
    pub fn init(spec: &NetSpec, rng: &mut impl Rng) -> LabResult<Self> {
        let params = spec
            .params()?
            .iter()
            .map(|p| match p.role {
                Role::Weight { fan_in } => {
                    let normal = Normal::new(0.0, (2.0 / fan_in as f64).sqrt()).unwrap();
                    (0..p.len()).map(|_| normal.sample(rng) as f32).collect()
                }
                Role::Bias | Role::Shift => vec![0.0; p.len()],
                Role::Scale => vec![1.0; p.len()],
            })
            .collect();
        let running = spec
            .batch_norms()?
            .into_iter()
            .map(|(_, c)| RunningStats::fresh(c))
            .collect();
        Ok(NetParams {
            spec: spec.clone(),
            params,
            running,
        })
    }

    /// Check the vectors against the spec (after a file load or a hand edit).
    /// The same weights in `spec`, a network with the same parameters and BatchNorms that may
    /// differ in what stores nothing (dropout rates: a state_dict has none).
    pub fn with_spec(&self, spec: &NetSpec) -> LabResult<NetParams> {
        let shapes = |s: &NetSpec| -> LabResult<Vec<(String, Vec<usize>)>> {
            Ok(s.params()?.into_iter().map(|p| (p.name, p.shape)).collect())
        };
        if shapes(spec)? != shapes(&self.spec)? || spec.batch_norms()? != self.spec.batch_norms()? {
            return Err(LabError::Weights(
                "the weights are of another network than the configured one (names or shapes \
                 differ)"
                    .into(),
            ));
        }
        Ok(NetParams {
            spec: spec.clone(),
            ..self.clone()
        })
    }

    pub fn validate(&self) -> LabResult<Vec<ParamSpec>> {
        let specs = self.spec.params()?;
        if specs.len() != self.params.len() {
            return Err(LabError::Weights(format!(
                "{} parameter tensors for a network with {}",
                self.params.len(),
                specs.len()
            )));
        }
        for (s, p) in specs.iter().zip(&self.params) {
            if s.len() != p.len() {
                return Err(LabError::Weights(format!(
                    "{} has {} values, its shape {:?} needs {}",
                    s.name,
                    p.len(),
                    s.shape,
                    s.len()
                )));
            }
        }
        let bns = self.spec.batch_norms()?;
        if bns.len() != self.running.len()
            || bns
                .iter()
                .zip(&self.running)
                .any(|((_, c), r)| r.mean.len() != *c || r.var.len() != *c)
        {
            return Err(LabError::Weights(
                "BatchNorm buffers do not match the network's BatchNorm layers".into(),
            ));
        }
        Ok(specs)
    }

    /// All parameters as one vector, in state_dict order (buffers excluded).
    pub fn flatten(&self) -> Vec<f32> {
        self.params.concat()
    }

    pub fn param_count(&self) -> usize {
        self.params.iter().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::net::arch::{Arch, ArchConfig};
    use crate::rng::{stream, Stream};

    #[test]
    fn init_is_seeded_with_he_variance() {
        let spec = ArchConfig::new(Arch::Resnet20)
            .build([3, 32, 32], 10)
            .unwrap();
        let a = NetParams::init(&spec, &mut stream(3, Stream::Init)).unwrap();
        let b = NetParams::init(&spec, &mut stream(3, Stream::Init)).unwrap();
        let c = NetParams::init(&spec, &mut stream(4, Stream::Init)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.validate().unwrap().len(), a.params.len());
        // The last stage's 3x3 64→64 convolutions: 36864 draws of N(0, 2/576); the sample
        // variance's relative standard error is sqrt(2/n) ≈ 0.7%.
        let specs = spec.params().unwrap();
        let i = specs
            .iter()
            .position(|p| p.name == "layers.11.conv2.weight")
            .unwrap();
        let v = &a.params[i];
        let var = v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / v.len() as f64;
        assert!((var / (2.0 / 576.0) - 1.0).abs() < 0.03, "{var}");
        let bn = specs.iter().position(|p| p.role == Role::Scale).unwrap();
        assert!(a.params[bn].iter().all(|&g| g == 1.0));
    }
}
