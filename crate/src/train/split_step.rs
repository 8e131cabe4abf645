//! One paper-003 training step: the gradient of the clean loss J plus, as configured, the
//! explicit regulariser R and the implicit noise (analysis/explicit_implicit.rs), all from one
//! backward pass of J + R + N, where N is a zero-mean scalar whose gradient is the noise.
//! The recorded step loss is J + R, the deterministic part of the objective.

use burn::tensor::Tensor;
use rand::Rng;

use super::config::DropoutSplit;
use crate::model::loss::cross_entropy;
use crate::model::Mlp;
use crate::objectives::explicit_implicit::{
    explicit_regulariser, gumbel_noise, implicit_noise_objective, ExplicitForm,
};

pub fn split_step(
    model: &Mlp,
    x: Tensor<2>,
    y: Tensor<2>,
    rates: &[f32],
    split: DropoutSplit,
    rng: &mut impl Rng,
) -> (Tensor<1>, Vec<(Tensor<2>, Tensor<1>)>) {
    let [rows, classes] = y.dims();
    let gumbel = (split.explicit == Some(ExplicitForm::Sampled))
        .then(|| gumbel_noise(rng, rows, classes, &x.device()));
    let mut deterministic = None;
    let (_, grads) = model.grads_of(|m| {
        let mut objective = cross_entropy(m.forward(x.clone(), &[]), y.clone());
        if let Some(form) = split.explicit {
            objective = objective + explicit_regulariser(m, x.clone(), rates, form, gumbel);
        }
        deterministic = Some(objective.clone().inner());
        match split.implicit {
            Some(form) => {
                objective
                    + implicit_noise_objective(m, x, y, rates, form, split.implicit_scale, rng)
            }
            None => objective,
        }
    });
    (deterministic.expect("set by the objective"), grads)
}
