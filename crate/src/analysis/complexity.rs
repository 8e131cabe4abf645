//! Complexity measures of paper 002 App. K.2 (eq. 25-30), each a function of the initial and
//! final weights (and, for the PAC-Bayes ones, of σ and the layer volumes).
//!
//! All measures use the weight matrices W_l only, not the biases: the paper's formulas are
//! written over W_l, and its volume estimates (K-FAC, sampling) cover weights only.

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use crate::error::{LabError, LabResult};
use crate::linalg::dense::symmetric_eigen;
use crate::model::HostParams;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    /// eq. 25: Σ_l ‖W_l^F − W_l^0‖_F².
    pub frobenius_distance: f64,
    /// eq. 26: Σ_l ‖W_l^F‖_F².
    pub parameter_norm: f64,
    /// eq. 27: Σ_l ‖W_l^F − W_l^0‖_2² (largest singular value, squared).
    pub spectral_norm: f64,
    /// eq. 28 as App. K.2 computes it (squared weights and biases forwarded on all ones).
    pub path_norm: f64,
    /// The same without the biases (Neyshabur et al.'s ℓ2 path norm; the only path norm of
    /// result files written before, whose `path_norm` left the biases out).
    #[serde(default)]
    pub path_norm_weights_only: Option<f64>,
}

pub fn norm_measures(init: &HostParams, fin: &HostParams) -> LabResult<Measures> {
    check_same_shape(init, fin)?;
    let mut m = Measures {
        frobenius_distance: 0.0,
        parameter_norm: 0.0,
        spectral_norm: 0.0,
        path_norm: path_norm(fin, true),
        path_norm_weights_only: Some(path_norm(fin, false)),
    };
    for (l, ((w0, _), (wf, _))) in init.layers.iter().zip(&fin.layers).enumerate() {
        let diff: Vec<f64> = wf
            .iter()
            .zip(w0)
            .map(|(&f, &o)| f as f64 - o as f64)
            .collect();
        m.frobenius_distance += diff.iter().map(|d| d * d).sum::<f64>();
        m.parameter_norm += wf.iter().map(|&w| (w as f64).powi(2)).sum::<f64>();
        let (rows, cols) = (fin.widths[l], fin.widths[l + 1]);
        m.spectral_norm += spectral_norm_sq(&DMatrix::from_row_slice(rows, cols, &diff))?;
    }
    Ok(m)
}

/// ‖M‖_2² = λ_max(MᵀM), from the smaller of the two Gram matrices.
pub fn spectral_norm_sq(m: &DMatrix<f64>) -> LabResult<f64> {
    let gram = if m.nrows() < m.ncols() {
        m * m.transpose()
    } else {
        m.transpose() * m
    };
    let eig = symmetric_eigen(gram)?;
    Ok(eig.values.first().copied().unwrap_or(0.0).max(0.0))
}

/// eq. 28 as App. K.2 computes it: "square the parameters of the network, do a forward pass on
/// an all-ones input and then take the square root of the sum of the network outputs". The
/// parameters include the biases (each layer adds b²); the activation acts as the identity,
/// which for ReLU on the non-negative signal of squared parameters changes nothing. Without
/// biases this is Neyshabur et al.'s ℓ2 path norm sqrt(Σ over input-output paths of Π w²):
/// `include_biases = false`, kept beside it.
pub fn path_norm(theta: &HostParams, include_biases: bool) -> f64 {
    let mut signal = vec![1.0f64; theta.widths[0]];
    for (l, (w, b)) in theta.layers.iter().enumerate() {
        let cols = theta.widths[l + 1];
        let mut next: Vec<f64> = if include_biases {
            b.iter().map(|&v| (v as f64).powi(2)).collect()
        } else {
            vec![0.0f64; cols]
        };
        for (i, &s) in signal.iter().enumerate() {
            for (j, n) in next.iter_mut().enumerate() {
                *n += s * (w[i * cols + j] as f64).powi(2);
            }
        }
        signal = next;
    }
    signal.iter().sum::<f64>().sqrt()
}

/// eq. 29, with one σ for every layer (the sharpness method of Sec. 5.2 finds a single σ):
/// Σ_l ‖W_l^F − W_l^0‖_F² / (2σ²).
pub fn pac_sharpness(init: &HostParams, fin: &HostParams, sigma: f64) -> LabResult<f64> {
    check_sigma(sigma)?;
    Ok(norm_distance_sq(init, fin)? / (2.0 * sigma * sigma))
}

/// eq. 30: Σ_l [‖W_l^F − W_l^0‖_F² / (2σ²) + ln 1/vol(w_l)], given each layer's log vol.
pub fn pac_volume(
    init: &HostParams,
    fin: &HostParams,
    sigma: f64,
    log_volumes: &[f64],
) -> LabResult<f64> {
    if log_volumes.len() != fin.layers.len() || log_volumes.iter().any(|v| !v.is_finite()) {
        return Err(LabError::Numerical(format!(
            "PAC-S needs a finite log volume for each of the {} layers, got {log_volumes:?}",
            fin.layers.len()
        )));
    }
    Ok(pac_sharpness(init, fin, sigma)? - log_volumes.iter().sum::<f64>())
}

fn norm_distance_sq(init: &HostParams, fin: &HostParams) -> LabResult<f64> {
    check_same_shape(init, fin)?;
    Ok(init
        .layers
        .iter()
        .zip(&fin.layers)
        .flat_map(|((w0, _), (wf, _))| wf.iter().zip(w0))
        .map(|(&f, &o)| (f as f64 - o as f64).powi(2))
        .sum())
}

fn check_sigma(sigma: f64) -> LabResult<()> {
    if sigma > 0.0 && sigma.is_finite() {
        Ok(())
    } else {
        Err(LabError::Numerical(format!(
            "PAC-Bayes measures need σ > 0, got {sigma}"
        )))
    }
}

fn check_same_shape(init: &HostParams, fin: &HostParams) -> LabResult<()> {
    if init.widths == fin.widths {
        Ok(())
    } else {
        Err(LabError::Weights(format!(
            "initial weights have widths {:?}, final {:?}",
            init.widths, fin.widths
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::orthonormal::haar_frame;
    use crate::rng::{stream, Stream};
    use rand::Rng;

    fn params(widths: &[usize], rng: &mut impl Rng) -> HostParams {
        HostParams {
            widths: widths.to_vec(),
            layers: widths
                .windows(2)
                .map(|w| {
                    (
                        (0..w[0] * w[1])
                            .map(|_| rng.random_range(-1.0..1.0))
                            .collect(),
                        (0..w[1]).map(|_| rng.random_range(-1.0..1.0)).collect(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn path_norm_equals_the_sum_over_enumerated_paths() {
        let mut rng = stream(1, Stream::Directions);
        let theta = params(&[3, 4, 2], &mut rng);
        let (w1, w2) = (&theta.layers[0].0, &theta.layers[1].0);
        let mut sum = 0.0f64;
        for i in 0..3 {
            for j in 0..4 {
                for k in 0..2 {
                    sum += (w1[i * 4 + j] as f64 * w2[j * 2 + k] as f64).powi(2);
                }
            }
        }
        assert!((path_norm(&theta, false) - sum.sqrt()).abs() < 1e-12 * sum.sqrt());
        // With biases (App. K.2 squares every parameter): each output adds b2_k² plus, per
        // hidden unit j, b1_j² times the squared weight from j to k.
        let (b1, b2) = (&theta.layers[0].1, &theta.layers[1].1);
        let mut with = sum;
        for k in 0..2 {
            with += (b2[k] as f64).powi(2);
            for j in 0..4 {
                with += (b1[j] as f64).powi(2) * (w2[j * 2 + k] as f64).powi(2);
            }
        }
        assert!((path_norm(&theta, true) - with.sqrt()).abs() < 1e-12 * with.sqrt());
    }

    #[test]
    fn spectral_norm_recovers_known_singular_values() {
        // M = U diag(s) Vᵀ with Haar U, V: ‖M‖_2 = max s, whichever side is larger.
        let mut rng = stream(2, Stream::Directions);
        let s = [3.0, 1.5, 0.2];
        let u = haar_frame(7, 3, &mut rng);
        let v = haar_frame(5, 3, &mut rng);
        let m = &u * DMatrix::from_diagonal(&nalgebra::DVector::from_row_slice(&s)) * v.transpose();
        assert!((spectral_norm_sq(&m).unwrap() - 9.0).abs() < 1e-9);
        assert!((spectral_norm_sq(&m.transpose()).unwrap() - 9.0).abs() < 1e-9);
    }

    #[test]
    fn norm_measures_match_direct_sums_on_a_two_layer_net() {
        let mut rng = stream(3, Stream::Directions);
        let init = params(&[3, 4, 2], &mut rng);
        let fin = params(&[3, 4, 2], &mut rng);
        let m = norm_measures(&init, &fin).unwrap();
        let (mut frob, mut para, mut spec) = (0.0, 0.0, 0.0);
        for l in 0..2 {
            let (r, c) = (init.widths[l], init.widths[l + 1]);
            let d = DMatrix::from_fn(r, c, |i, j| {
                fin.layers[l].0[i * c + j] as f64 - init.layers[l].0[i * c + j] as f64
            });
            let f = DMatrix::from_fn(r, c, |i, j| fin.layers[l].0[i * c + j] as f64);
            frob += d.norm_squared();
            para += f.norm_squared();
            // Independent route: nalgebra's SVD.
            spec += d.singular_values().max().powi(2);
        }
        assert!((m.frobenius_distance - frob).abs() < 1e-9 * frob);
        assert!((m.parameter_norm - para).abs() < 1e-9 * para);
        assert!((m.spectral_norm - spec).abs() < 1e-9 * spec);
        // Biases enter only the path norm (App. K.2 squares every parameter).
        let mut moved = fin.clone();
        moved.layers[0].1[0] += 5.0;
        let n = norm_measures(&init, &moved).unwrap();
        assert_eq!(
            (
                n.frobenius_distance,
                n.parameter_norm,
                n.spectral_norm,
                n.path_norm_weights_only
            ),
            (
                m.frobenius_distance,
                m.parameter_norm,
                m.spectral_norm,
                m.path_norm_weights_only
            )
        );
        assert!(n.path_norm > m.path_norm);
        // eq. 29 and 30 from the Frobenius distance.
        let sigma = 0.3;
        let pac = pac_sharpness(&init, &fin, sigma).unwrap();
        assert!((pac - frob / (2.0 * sigma * sigma)).abs() < 1e-9 * pac);
        let with_volume = pac_volume(&init, &fin, sigma, &[-2.0, -0.5]).unwrap();
        assert!((with_volume - (pac + 2.5)).abs() < 1e-9);
        assert!(pac_volume(&init, &fin, sigma, &[-2.0]).is_err());
        assert!(pac_sharpness(&init, &fin, 0.0).is_err());
    }
}
