//! The Fig 2 pipeline (paper 000) at tiny scale on genuine MNIST: each reported width is a real
//! crossing of the loss profile, checked by evaluating the loss there directly.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use dropout_lab::analysis::covariance::pca;
use dropout_lab::analysis::noise::{gradient_samples, Block};
use dropout_lab::backend::cpu_device;
use dropout_lab::experiments::fig2_variance_flatness::{run, Fig2Config, NoiseSource, Setting};
use dropout_lab::experiments::Silent;
use dropout_lab::model::Mlp;
use dropout_lab::train::eval::{evaluate, DeviceData};

fn tiny(source: NoiseSource) -> Fig2Config {
    let mut c = Fig2Config::demo();
    c.run.train_size = 300;
    c.run.settings = vec![Setting {
        drop_rate: 0.2,
        lr: 0.1,
    }];
    c.run.epochs = 60;
    c.run.samples = 40;
    c.top_k = 6;
    c.run.sources = vec![source];
    c
}

#[test]
fn reported_widths_are_real_crossings() {
    let train = common::mnist("train");
    let cfg = tiny(NoiseSource::Grad);
    let r =
        pollster::block_on(run(&cfg, &common::cpu_inputs(&train, &train), &mut Silent)).unwrap();
    let s = &r.settings[0];
    assert_eq!(s.eigenvalues.len(), 6);
    assert!(
        s.eigenvalues.windows(2).all(|w| w[0] >= w[1]),
        "descending: {:?}",
        s.eigenvalues
    );
    assert!(s.final_train_loss < 1.0, "trained: {}", s.final_train_loss);
    assert!(s.flatness.iter().any(|f| f.width.is_some()));

    // The paper's fit is least squares of log10 λ on log10 F ("slope = −1.3" in its Fig. 2),
    // written out here; the other regression's slope times it is R² (an OLS identity).
    let pts: Vec<(f64, f64)> = s
        .points()
        .iter()
        .map(|&(l, f)| (f.log10(), l.log10()))
        .collect();
    let m = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / m,
        pts.iter().map(|p| p.1).sum::<f64>() / m,
    );
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let syy: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    let paper = s.fit_variance_on_flatness.as_ref().expect("a fit");
    let other = s.fit_flatness_on_variance.as_ref().expect("the other fit");
    assert!(
        (paper.slope - sxy / sxx).abs() < 1e-9,
        "{} vs {}",
        paper.slope,
        sxy / sxx
    );
    assert!(
        (other.slope - sxy / syy).abs() < 1e-9,
        "{} vs {}",
        other.slope,
        sxy / syy
    );
    assert!((paper.slope * other.slope - paper.r2).abs() < 1e-9);
    assert_eq!(paper.used, pts.len());

    // Recompute θ, the samples and the top direction independently of `run`, then find the
    // crossings of L(θ + δ v) = 2 L(θ) by a fine scan, independent of the doubling + bisection.
    pollster::block_on(async {
        let device = cpu_device();
        let tc = cfg.run.train_config(&cfg.run.settings[0], 0);
        let sub = train.first(cfg.run.train_size).unwrap();
        let theta = common::trained_params(&tc, &sub).await;
        let block = Block { layer: 1 };
        let samples = gradient_samples(
            tc.mlp().unwrap(),
            &theta,
            &tc.mlp().unwrap().drop_rates,
            &sub,
            block,
            cfg.run.samples,
            cfg.run.seed,
            &device,
            |_| {},
        )
        .await
        .unwrap();
        let pcs = pca(&samples, cfg.top_k).unwrap();
        assert_eq!(
            pcs.eigenvalues, s.eigenvalues,
            "the run is reproducible from its config"
        );
        // Each reported pair solves Σ v = λ v for Σ = Xcᵀ Xc / (N − 1) formed here in f64 from
        // the samples (Sec. 3.4.1), not by the PCA under test.
        let n = samples.len();
        let d = samples[0].len();
        let mean: Vec<f64> = (0..d)
            .map(|j| samples.iter().map(|x| x[j] as f64).sum::<f64>() / n as f64)
            .collect();
        let centred: Vec<Vec<f64>> = samples
            .iter()
            .map(|x| x.iter().zip(&mean).map(|(&a, m)| a as f64 - m).collect())
            .collect();
        let sigma_v = |v: &[f64]| -> Vec<f64> {
            let mut out = vec![0.0; d];
            for c in &centred {
                let dot: f64 = c.iter().zip(v).map(|(a, b)| a * b).sum();
                out.iter_mut()
                    .zip(c)
                    .for_each(|(o, a)| *o += dot * a / (n - 1) as f64);
            }
            out
        };
        let lambda_max = s.eigenvalues[0];
        for (i, v) in pcs.eigenvectors.iter().enumerate() {
            let sv = sigma_v(v);
            let rayleigh: f64 = sv.iter().zip(v).map(|(a, b)| a * b).sum();
            let residual: f64 = sv
                .iter()
                .zip(v)
                .map(|(a, b)| (a - s.eigenvalues[i] * b).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(
                (rayleigh - s.eigenvalues[i]).abs() < 1e-9 * lambda_max,
                "λ_{i}: {rayleigh} vs {}",
                s.eigenvalues[i]
            );
            assert!(
                residual < 1e-9 * lambda_max,
                "‖Σv − λv‖ of pair {i}: {residual:e}"
            );
        }
        let data = DeviceData::upload(&sub, &device);
        let base = Mlp::from_host(tc.mlp().unwrap(), &theta, &device);
        let (l0, _) = evaluate(&base, &data).await.unwrap();
        let dir = Mlp::from_host(
            tc.mlp().unwrap(),
            &block.embed(&theta, &pcs.eigenvectors[0]),
            &device,
        );
        let f = s.flatness[0];
        assert!((f.loss0 - l0 as f64).abs() < 1e-6);
        for (sign, reported) in [
            (1.0, f.right.expect("right crossing")),
            (-1.0, f.left.expect("left crossing")),
        ] {
            let step = 1e-3 * reported.abs().max(1.0);
            let mut d = 0.0;
            while evaluate(&base.axpy(sign * d, &dir), &data).await.unwrap().0 < 2.0 * l0 {
                d += step;
                assert!(
                    d < 2.0 * reported.abs() + 1.0,
                    "no crossing near the reported {reported}"
                );
            }
            assert!(
                (sign * d - reported).abs() <= step + cfg.flatness.tolerance,
                "scan {} vs reported {reported}",
                sign * d
            );
        }
    });
}
#[test]
fn trajectory_samples_also_run() {
    let train = common::mnist("train");
    let r = pollster::block_on(run(
        &tiny(NoiseSource::Para),
        &common::cpu_inputs(&train, &train),
        &mut Silent,
    ))
    .unwrap();
    assert_eq!(r.settings[0].eigenvalues.len(), 6);
    assert!(r.settings[0].eigenvalues.iter().all(|l| *l > 0.0));
}

#[test]
fn s_para_keeps_the_block_every_interval_steps() {
    use dropout_lab::experiments::hessian_span::HessianSpan;
    use dropout_lab::experiments::noise_run::train_and_sample;
    use dropout_lab::train::Trainer;
    let train = common::mnist("train");
    let mut cfg = tiny(NoiseSource::Para);
    cfg.run.epochs = 5;
    cfg.run.samples = 4;
    cfg.run.para_interval = 3;
    let s = cfg.run.settings[0];
    let sub = train.first(cfg.run.train_size).unwrap();
    let resident = dropout_lab::train::eval::DeviceData::upload(&sub, &cpu_device());
    let sample = |span| {
        pollster::block_on(train_and_sample(
            &cfg.run,
            span,
            &s,
            "",
            &sub,
            &resident,
            &common::cpu_inputs(&sub, &sub),
            &mut Silent,
        ))
        .unwrap()
    };
    let sampled = sample(HessianSpan::Block);
    let para = &sampled.samples[0].1;
    assert_eq!(para.len(), 4);
    // Over all parameters (Fig 4's span full): the whole θ, in the flatten order.
    let full = sample(HessianSpan::Full).samples.remove(0).1;
    // The same GD run stepped one step at a time, the block read after the steps past the
    // 5 training steps that are multiples of 3: 6, 9, 12, 15.
    let mut tc = cfg.run.train_config(&s, 12);
    tc.snapshot_every = 0;
    let want: Vec<dropout_lab::model::HostParams> = pollster::block_on(async {
        let mut t = Trainer::new(tc, &sub, &sub, cpu_device(), "cpu", "mnist")
            .await
            .unwrap();
        let mut out = Vec::new();
        for step in 1..=17 {
            t.run(1).await.unwrap();
            if step > 5 && step % 3 == 0 {
                out.push(t.mlp().unwrap().to_host().await.unwrap());
            }
        }
        out
    });
    assert_eq!(want.len(), 4);
    let blocks: Vec<Vec<f32>> = want.iter().map(|p| p.layers[1].0.clone()).collect();
    assert!(
        para == &blocks,
        "S_para samples are not the block at steps 6, 9, 12, 15"
    );
    let flat: Vec<Vec<f32>> = want.iter().map(|p| p.flatten()).collect();
    assert!(
        full == flat,
        "full S_para samples are not θ at steps 6, 9, 12, 15"
    );
    cfg.run.para_interval = 0;
    assert!(cfg.run.validate().is_err());
}
