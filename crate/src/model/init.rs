//! Seeded initial weights, drawn on the host so every backend starts from the same numbers.

use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};

use super::config::{InitScheme, MlpConfig};
use super::host::HostParams;

pub fn initial_params(cfg: &MlpConfig, rng: &mut impl Rng) -> HostParams {
    let layers = cfg
        .widths
        .windows(2)
        .map(|w| {
            let (fan_in, fan_out) = (w[0], w[1]);
            let weight: Vec<f32> = match cfg.init {
                InitScheme::He => {
                    let normal = Normal::new(0.0, (2.0 / fan_in as f64).sqrt()).unwrap();
                    (0..fan_in * fan_out)
                        .map(|_| normal.sample(rng) as f32)
                        .collect()
                }
                InitScheme::Xavier => {
                    let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
                    let uniform = Uniform::new_inclusive(-a, a).unwrap();
                    (0..fan_in * fan_out)
                        .map(|_| uniform.sample(rng) as f32)
                        .collect()
                }
            };
            (weight, vec![0.0; fan_out])
        })
        .collect();
    HostParams {
        widths: cfg.widths.clone(),
        layers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::Activation;
    use crate::rng::{stream, Stream};

    fn cfg(init: InitScheme) -> MlpConfig {
        MlpConfig {
            widths: vec![400, 300, 10],
            activation: Activation::Relu,
            drop_rates: vec![0.0],
            init,
        }
    }

    fn variance(v: &[f32]) -> f64 {
        let m = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / v.len() as f64
    }

    #[test]
    fn he_and_xavier_have_their_variances() {
        // 120000 draws: the sample variance has relative standard error sqrt(2/n) ~ 0.4%.
        let he = initial_params(&cfg(InitScheme::He), &mut stream(1, Stream::Init));
        let v = variance(&he.layers[0].0);
        assert!((v / (2.0 / 400.0) - 1.0).abs() < 0.02, "He variance {v}");
        let xa = initial_params(&cfg(InitScheme::Xavier), &mut stream(1, Stream::Init));
        let v = variance(&xa.layers[0].0);
        // U(-a, a) has variance a^2 / 3 = 2 / (fan_in + fan_out).
        assert!(
            (v / (2.0 / 700.0) - 1.0).abs() < 0.02,
            "Xavier variance {v}"
        );
        assert!(he.layers.iter().all(|(_, b)| b.iter().all(|&x| x == 0.0)));
    }

    #[test]
    fn same_seed_same_weights() {
        let a = initial_params(&cfg(InitScheme::He), &mut stream(5, Stream::Init));
        let b = initial_params(&cfg(InitScheme::He), &mut stream(5, Stream::Init));
        let c = initial_params(&cfg(InitScheme::He), &mut stream(6, Stream::Init));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
