//! The loss of a network and its gradient by burn's first-order reverse mode.

use burn::tensor::Tensor;

use super::forward::{BnMode, Net, Pass, SiteMask};
use crate::error::LabResult;
use crate::model::loss::cross_entropy;

/// A loss, its gradient per parameter (state_dict order) and the batch statistics of the pass.
pub struct LossGrads {
    pub loss: Tensor<1>,
    pub grads: Vec<Tensor<1>>,
    pub batch_stats: Vec<(Tensor<1>, Tensor<1>, usize)>,
}

impl Net {
    /// Mean cross-entropy on (x, one-hot y) under the masks and its gradient. `BnMode::Train`
    /// is a training step's loss (batch statistics); `Eval` the loss the analyses study.
    pub fn loss_and_grads(
        &self,
        x: Tensor<2>,
        y: Tensor<2>,
        masks: &[Option<Tensor<4>>],
        mode: BnMode,
    ) -> LabResult<LossGrads> {
        self.grads_of(|net, params| {
            let pass = net.run(params, x, None, masks, mode)?;
            Ok((cross_entropy(pass.logits.clone(), y), pass))
        })
    }

    /// As `loss_and_grads`, with the gradient rule of each site's dropout mode.
    pub fn loss_and_grads_modes(
        &self,
        x: Tensor<2>,
        y: Tensor<2>,
        masks: Vec<SiteMask>,
        mode: BnMode,
    ) -> LabResult<LossGrads> {
        self.grads_of(|net, params| {
            let pass = net.run_modes(params, x, masks, mode)?;
            Ok((cross_entropy(pass.logits.clone(), y), pass))
        })
    }

    /// A scalar function of the parameters (given as autodiff leaves) and its gradient.
    pub fn grads_of(
        &self,
        f: impl FnOnce(&Net, &[Tensor<1>]) -> LabResult<(Tensor<1>, Pass)>,
    ) -> LabResult<LossGrads> {
        let leaves = self.grad_leaves();
        let (loss, pass) = f(self, &leaves)?;
        let grads = loss.backward();
        let g = leaves
            .iter()
            // A parameter the function does not reach has no gradient entry: its gradient is 0.
            .map(|l| {
                l.grad(&grads)
                    .unwrap_or_else(|| l.clone().inner().zeros_like())
            })
            .collect();
        Ok(LossGrads {
            loss: loss.inner(),
            grads: g,
            batch_stats: pass.batch_stats,
        })
    }
}
