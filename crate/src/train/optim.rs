//! The optimisers, written out on tensors so every update rule is visible and testable.

use burn::tensor::Tensor;

use super::config::{OptimizerKind, TrainConfig};
use crate::model::mlp::{Dense, Mlp};

#[derive(Debug, Clone, Copy)]
pub struct Hyper {
    pub kind: OptimizerKind,
    pub lr: f64,
    pub momentum: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Hyper {
    pub fn from_config(c: &TrainConfig) -> Self {
        Hyper {
            kind: c.optimizer,
            lr: c.lr,
            momentum: c.momentum,
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            weight_decay: c.weight_decay,
        }
    }
}

/// Per-tensor state: the velocity (momentum) or first moment (Adam), and Adam's second moment.
#[derive(Debug, Clone, Default)]
pub struct Slot<const D: usize> {
    m: Option<Tensor<D>>,
    v: Option<Tensor<D>>,
}

/// One update of one tensor at step `t` (1-based, used by Adam's bias correction).
pub fn update<const D: usize>(
    h: &Hyper,
    t: usize,
    p: Tensor<D>,
    g: Tensor<D>,
    s: &mut Slot<D>,
) -> Tensor<D> {
    // torch.optim's L2 form: the decay joins the gradient before momentum or Adam's moments.
    let g = if h.weight_decay == 0.0 {
        g
    } else {
        g + p.clone().mul_scalar(h.weight_decay)
    };
    match h.kind {
        OptimizerKind::Gd | OptimizerKind::Sgd => p - g.mul_scalar(h.lr),
        OptimizerKind::Momentum | OptimizerKind::Nesterov => {
            let v = match s.m.take() {
                Some(v) => v.mul_scalar(h.momentum) + g.clone(),
                None => g.clone(),
            };
            let dir = if h.kind == OptimizerKind::Nesterov {
                g + v.clone().mul_scalar(h.momentum)
            } else {
                v.clone()
            };
            s.m = Some(v);
            p - dir.mul_scalar(h.lr)
        }
        OptimizerKind::Adam => {
            let m = match s.m.take() {
                Some(m) => m.mul_scalar(h.beta1) + g.clone().mul_scalar(1.0 - h.beta1),
                None => g.clone().mul_scalar(1.0 - h.beta1),
            };
            let g2 = g.clone() * g;
            let v = match s.v.take() {
                Some(v) => v.mul_scalar(h.beta2) + g2.mul_scalar(1.0 - h.beta2),
                None => g2.mul_scalar(1.0 - h.beta2),
            };
            let m_hat = m.clone().div_scalar(1.0 - h.beta1.powi(t as i32));
            let v_hat = v.clone().div_scalar(1.0 - h.beta2.powi(t as i32));
            s.m = Some(m);
            s.v = Some(v);
            p - (m_hat / v_hat.sqrt().add_scalar(h.eps)).mul_scalar(h.lr)
        }
    }
}

/// Optimiser state for a whole MLP.
#[derive(Debug, Clone)]
pub struct Optimizer {
    hyper: Hyper,
    t: usize,
    slots: Vec<(Slot<2>, Slot<1>)>,
}

impl Optimizer {
    pub fn new(hyper: Hyper, layers: usize) -> Self {
        Optimizer {
            hyper,
            t: 0,
            slots: (0..layers).map(|_| Default::default()).collect(),
        }
    }

    /// The rate of the next step (the trainer sets it from the schedule before each step).
    pub fn set_lr(&mut self, lr: f64) {
        self.hyper.lr = lr;
    }

    /// New parameters from the current ones and their gradients (weight, bias per layer).
    pub fn step(&mut self, model: &Mlp, grads: Vec<(Tensor<2>, Tensor<1>)>) -> Mlp {
        self.t += 1;
        let layers = model
            .layers
            .iter()
            .zip(grads)
            .zip(self.slots.iter_mut())
            .map(|((l, (gw, gb)), (sw, sb))| Dense {
                weight: update(&self.hyper, self.t, l.weight.clone(), gw, sw),
                bias: update(&self.hyper, self.t, l.bias.clone(), gb, sb),
            })
            .collect();
        Mlp {
            config: model.config.clone(),
            layers,
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::backend::{cpu_device, read_f32};
    use burn::tensor::TensorData;

    /// A scalar f64 reference of each rule, written from the papers' formulas.
    fn reference(h: &Hyper, p0: f64, grads: &[f64]) -> f64 {
        let (mut p, mut m, mut v) = (p0, 0.0f64, 0.0f64);
        for (i, &g) in grads.iter().enumerate() {
            let t = (i + 1) as i32;
            let g = g + h.weight_decay * p;
            match h.kind {
                OptimizerKind::Gd | OptimizerKind::Sgd => p -= h.lr * g,
                OptimizerKind::Momentum => {
                    m = if i == 0 { g } else { h.momentum * m + g };
                    p -= h.lr * m;
                }
                OptimizerKind::Nesterov => {
                    m = if i == 0 { g } else { h.momentum * m + g };
                    p -= h.lr * (g + h.momentum * m);
                }
                OptimizerKind::Adam => {
                    m = h.beta1 * m + (1.0 - h.beta1) * g;
                    v = h.beta2 * v + (1.0 - h.beta2) * g * g;
                    let mh = m / (1.0 - h.beta1.powi(t));
                    let vh = v / (1.0 - h.beta2.powi(t));
                    p -= h.lr * mh / (vh.sqrt() + h.eps);
                }
            }
        }
        p
    }

    #[test]
    fn tensor_rules_match_scalar_reference() {
        let device = cpu_device();
        let grads = [
            [0.5f32, -1.0, 2.0],
            [0.25, 0.5, -3.0],
            [-0.75, 1.5, 0.1],
            [0.3, -0.2, 0.0],
        ];
        let p0 = [1.0f32, -2.0, 0.5];
        for (kind, weight_decay) in [
            OptimizerKind::Gd,
            OptimizerKind::Momentum,
            OptimizerKind::Nesterov,
            OptimizerKind::Adam,
        ]
        .into_iter()
        .flat_map(|k| [(k, 0.0), (k, 0.05)])
        {
            let h = Hyper {
                weight_decay,
                kind,
                lr: 0.1,
                momentum: 0.9,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            };
            let mut slot = Slot::<1>::default();
            let mut p = Tensor::<1>::from_data(TensorData::new(p0.to_vec(), [3]), &device);
            for (t, g) in grads.iter().enumerate() {
                let g = Tensor::<1>::from_data(TensorData::new(g.to_vec(), [3]), &device);
                p = update(&h, t + 1, p, g, &mut slot);
            }
            let got = pollster::block_on(read_f32(p)).unwrap();
            for j in 0..3 {
                let gs: Vec<f64> = grads.iter().map(|g| g[j] as f64).collect();
                let want = reference(&h, p0[j] as f64, &gs);
                assert!(
                    (got[j] as f64 - want).abs() < 1e-5,
                    "{kind:?} wd {weight_decay} [{j}]: {} vs {want}",
                    got[j]
                );
            }
        }
    }
}
