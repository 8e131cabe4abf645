//! BatchNorm statistics recomputed without dropout: the remedy for the "variance shift" of Li et
//! al. 2019 (Understanding the disharmony between dropout and batch normalization, Sec. 4). A
//! network trained with dropout before BatchNorm layers stores running statistics of masked
//! activations; evaluated without masks, every BatchNorm then normalises with the wrong variance
//! and a deep network (ResNet-20 with dropout after each convolution unit) can sit at chance
//! accuracy in evaluation mode while it trains well. Recalibration keeps the weights and
//! replaces each running mean and variance by the statistics of the dropout-free network on the
//! data ("precise BN": each chunk normalised by its own batch statistics in training mode, the
//! chunks' means and unbiased variances averaged by rows; with one chunk these are exactly the
//! full-data statistics).

use burn::tensor::Tensor;

use super::eval::DeviceData;
use crate::error::{LabError, LabResult};
use crate::model::net::{BnMode, Net};

/// Replace `net`'s running statistics by those of its dropout-free training-mode passes over
/// `data`. A network without BatchNorm is left as it is.
pub fn recalibrate_batch_norm(net: &mut Net, data: &DeviceData) -> LabResult<()> {
    if net.running.is_empty() {
        return Ok(());
    }
    if data.len == 0 {
        return Err(LabError::Config(
            "BatchNorm recalibration needs at least one example".into(),
        ));
    }
    let mut sums: Option<Vec<(Tensor<1>, Tensor<1>)>> = None;
    for (x, _) in &data.chunks {
        let rows = x.dims()[0];
        let pass = net.run(&net.params, x.clone(), None, &[], BnMode::Train)?;
        let w = rows as f64 / data.len as f64;
        let weighted: Vec<(Tensor<1>, Tensor<1>)> = pass
            .batch_stats
            .into_iter()
            .map(|(m, v, n)| {
                let unbias = n as f64 / (n.max(2) - 1) as f64;
                (m.mul_scalar(w), v.mul_scalar(w * unbias))
            })
            .collect();
        sums = Some(match sums {
            None => weighted,
            Some(acc) => acc
                .into_iter()
                .zip(weighted)
                .map(|((am, av), (m, v))| (am + m, av + v))
                .collect(),
        });
    }
    net.running = sums.expect("data has a chunk");
    Ok(())
}
