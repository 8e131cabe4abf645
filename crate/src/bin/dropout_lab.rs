//! Native command line: train from IDX files with a JSON config, for runs too big for a tab.
//!
//! dropout-lab train --config run.json --data DIR [--backend cpu|wgpu] [--out history.json]
//!   [--weights out.safetensors]
//! DIR holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
//! t10k-labels-idx1-ubyte (each optionally .gz).

#[cfg(not(target_arch = "wasm32"))]
use std::process::ExitCode;

// The CLI is native only; `cargo test --target wasm32-unknown-unknown` still builds this target.
#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::path::{Path, PathBuf};

    use dropout_lab::backend::{cpu_device, webgpu_device};
    use dropout_lab::data::{Dataset, Normalisation};
    use dropout_lab::train::{TrainConfig, Trainer};

    fn read_any(dir: &Path, stem: &str) -> Result<(String, Vec<u8>), String> {
        for name in [stem.to_string(), format!("{stem}.gz")] {
            let p = dir.join(&name);
            if p.exists() {
                return std::fs::read(&p)
                    .map(|b| (name, b))
                    .map_err(|e| format!("{}: {e}", p.display()));
            }
        }
        Err(format!("{stem}[.gz] not found in {}", dir.display()))
    }

    fn load_split(dir: &Path, images: &str, labels: &str) -> Result<Dataset, String> {
        let (ni, bi) = read_any(dir, images)?;
        let (nl, bl) = read_any(dir, labels)?;
        Dataset::from_idx(&ni, &bi, &nl, &bl, Normalisation::Unit).map_err(|e| e.to_string())
    }

    /// The training split of `--data DIR`.
    fn train_split(args: &[String]) -> Result<Dataset, String> {
        let dir = PathBuf::from(arg(args, "--data").ok_or("--data is required")?);
        load_split(&dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    }

    /// The training and test splits of `--data DIR`.
    fn both_splits(args: &[String]) -> Result<(Dataset, Dataset), String> {
        let dir = PathBuf::from(arg(args, "--data").ok_or("--data is required")?);
        let train = train_split(args)?;
        Ok((
            train,
            load_split(&dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?,
        ))
    }

    fn arg(args: &[String], flag: &str) -> Option<String> {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    }

    /// `fig2 --data DIR [--config fig2.json] [--out result.json]`: paper 000 Fig. 2 natively.
    fn fig2(args: &[String]) -> Result<(), String> {
        use dropout_lab::experiments::fig2_variance_flatness::{run, Fig2Config};
        let config = config_or(args, Fig2Config::demo)?;
        let train = train_split(args)?;
        let result = pollster::block_on(run(&config, &train, cpu_device(), "cpu", &mut Stderr))
            .map_err(|e| e.to_string())?;
        for s in &result.settings {
            let fit = s.fit.as_ref().map_or("no fit".to_string(), |f| {
                format!("slope {:.3}, R² {:.3}, {} points", f.slope, f.r2, f.used)
            });
            eprintln!(
                "{:?}, drop {} lr {}: final loss {:.4}, {fit}, {} without crossing",
                s.source, s.setting.drop_rate, s.setting.lr, s.final_train_loss, s.no_crossing
            );
        }
        let json = serde_json::to_string_pretty(&result).expect("result serialises");
        match arg(args, "--out") {
            Some(path) => std::fs::write(&path, json).map_err(|e| format!("{path}: {e}")),
            None => Ok(println!("{json}")),
        }
    }

    /// The JSON file given by --config, or the preset's demo configuration.
    fn config_or<T: serde::de::DeserializeOwned>(
        args: &[String],
        demo: impl FnOnce() -> T,
    ) -> Result<T, String> {
        match arg(args, "--config") {
            Some(p) => {
                serde_json::from_str(&std::fs::read_to_string(&p).map_err(|e| format!("{p}: {e}"))?)
                    .map_err(|e| format!("{p}: {e}"))
            }
            None => Ok(demo()),
        }
    }

    /// `fig1a --data DIR [--config fig1a.json] [--out result.json]`: paper 000 Fig. 1(a) natively.
    fn fig1a(args: &[String]) -> Result<(), String> {
        use dropout_lab::experiments::fig1a_landscape::{run, Fig1aConfig};
        let config = config_or(args, Fig1aConfig::demo)?;
        let (train, test) = both_splits(args)?;
        let r = pollster::block_on(run(
            &config,
            &train,
            &test,
            cpu_device(),
            "cpu",
            &mut Stderr,
        ))
        .map_err(|e| e.to_string())?;
        let (first, last) = (0, r.alphas.len() - 1);
        for c in &r.curves {
            let mid = r.alphas.len() / 2;
            eprintln!(
                "{} dropout, direction {}: train loss at α = {:.2} / 0 / {:.2}: {:.4} / {:.4} / {:.4}; test {:.4} / {:.4} / {:.4}",
                if c.dropout { "with" } else { "without" }, c.direction, r.alphas[first], r.alphas[last],
                c.train[first], c.train[mid], c.train[last], c.test[first], c.test[mid], c.test[last]
            );
        }
        for m in &r.models {
            eprintln!(
                "{} dropout: test accuracy {:.4}",
                if m.dropout { "with" } else { "without" },
                m.test_accuracy
            );
        }
        let json = serde_json::to_string_pretty(&r).expect("result serialises");
        match arg(args, "--out") {
            Some(path) => std::fs::write(&path, json).map_err(|e| format!("{path}: {e}")),
            None => Ok(println!("{json}")),
        }
    }

    /// The result as pretty JSON to --out, or stdout.
    fn write_out<T: serde::Serialize>(args: &[String], result: &T) -> Result<(), String> {
        let json = serde_json::to_string_pretty(result).expect("result serialises");
        match arg(args, "--out") {
            Some(path) => std::fs::write(&path, json).map_err(|e| format!("{path}: {e}")),
            None => Ok(println!("{json}")),
        }
    }

    /// `fig4 --data DIR [--config fig4.json] [--out result.json]`: paper 000 Fig. 4 natively.
    fn fig4(args: &[String]) -> Result<(), String> {
        use dropout_lab::experiments::fig4_variance_hessian::{run, Fig4Config};
        let config = config_or(args, Fig4Config::demo)?;
        let train = train_split(args)?;
        let r = pollster::block_on(run(&config, &train, cpu_device(), "cpu", &mut Stderr))
            .map_err(|e| e.to_string())?;
        for s in &r.series {
            let fit = s.fit.as_ref().map_or("no fit".to_string(), |f| {
                format!("slope {:.3}, R² {:.3}, {} points", f.slope, f.r2, f.used)
            });
            let top = s.hessian_eigenvalues.first().copied().unwrap_or(f64::NAN);
            eprintln!(
                "{:?}, drop {} lr {}: final loss {:.4}, λ_max(H) {top:.4}, asymmetry {:.1e}, {fit}",
                s.source, s.setting.drop_rate, s.setting.lr, s.final_train_loss, s.asymmetry
            );
        }
        write_out(args, &r)
    }

    fn print_track(series: &[dropout_lab::experiments::alignment_track::TrackSeries]) {
        for s in series {
            for c in &s.checkpoints {
                let a = &c.alignment;
                eprintln!(
                    "drop {} lr {} epoch {:>5}: loss {:.4}  Tr(HΣ) {:.3e}  Tr(HΣ̄) {:.3e}  ratio {:.1}  α {:.3}",
                    s.setting.drop_rate, s.setting.lr, c.epoch, c.train_loss, a.trace_h_sigma, a.trace_h_isotropic, a.trace_h_sigma / a.trace_h_isotropic, a.cosine
                );
            }
        }
    }

    /// `fig6 --data DIR [--config fig6.json] [--out result.json]`: paper 000 Fig. 6 natively.
    fn fig6(args: &[String]) -> Result<(), String> {
        use dropout_lab::experiments::fig6_alignment::{run, Fig6Config};
        let config = config_or(args, Fig6Config::demo)?;
        let train = train_split(args)?;
        let r = pollster::block_on(run(&config, &train, cpu_device(), "cpu", &mut Stderr))
            .map_err(|e| e.to_string())?;
        print_track(&r.series);
        write_out(args, &r)
    }

    /// `cosine --data DIR [--config cosine.json] [--out result.json]`: paper 001 Fig. 3(a) natively.
    fn cosine(args: &[String]) -> Result<(), String> {
        use dropout_lab::experiments::p001_fig3_cosine::{run, CosineConfig};
        let config = config_or(args, CosineConfig::demo)?;
        let train = train_split(args)?;
        let r = pollster::block_on(run(&config, &train, cpu_device(), "cpu", &mut Stderr))
            .map_err(|e| e.to_string())?;
        print_track(&r.series);
        if let Some(n) = &r.null {
            eprintln!(
                "null cosine: analytic mean {:.3e}, sampled {:.3e} ± {:.1e} over {} pairs",
                n.analytic_mean, n.sample_mean, n.sample_std, n.repeats
            );
        }
        write_out(args, &r)
    }

    /// `bench-hessian [--rows N] [--k K] [--backend cpu|wgpu]`: the Hessian benchmark natively, JSON.
    fn bench_hessian(args: &[String]) -> Result<(), String> {
        let rows: usize = arg(args, "--rows")
            .map_or(Ok(10000), |v| v.parse())
            .map_err(|e| format!("--rows: {e}"))?;
        let k: usize = arg(args, "--k")
            .map_or(Ok(20), |v| v.parse())
            .map_err(|e| format!("--k: {e}"))?;
        let device = match arg(args, "--backend").as_deref().unwrap_or("cpu") {
            "cpu" => cpu_device(),
            "wgpu" | "webgpu" => pollster::block_on(webgpu_device()).map_err(|e| e.to_string())?,
            other => return Err(format!("unknown backend {other}: use cpu or wgpu")),
        };
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        fn now() -> f64 {
            START
                .get_or_init(std::time::Instant::now)
                .elapsed()
                .as_secs_f64()
                * 1000.0
        }
        let r = pollster::block_on(dropout_lab::perf::hessian(device, rows, k, now))
            .map_err(|e| e.to_string())?;
        println!("{}", serde_json::to_string(&r).expect("serialises"));
        Ok(())
    }

    /// `volume --data DIR [--config volume.json] [--out result.json]`: paper 002 Fig. 2(b) natively.
    fn volume(args: &[String]) -> Result<(), String> {
        use dropout_lab::experiments::p002_fig2_volume::{run, VolumeTrackConfig};
        let config = config_or(args, VolumeTrackConfig::demo)?;
        let (train, test) = both_splits(args)?;
        let r = pollster::block_on(run(
            &config,
            &train,
            &test,
            cpu_device(),
            "cpu",
            &mut Stderr,
        ))
        .map_err(|e| e.to_string())?;
        for run in &r.runs {
            for e in &run.epochs {
                let per: Vec<String> = e
                    .layers
                    .iter()
                    .map(|l| format!("{:.4}", l.log_volume / (l.fan_in * l.fan_out) as f64))
                    .collect();
                eprintln!(
                    "{} dropout, epoch {:>3}: log vol / D per layer {}",
                    if run.dropout { "with" } else { "without" },
                    e.epoch,
                    per.join(" ")
                );
            }
            eprintln!(
                "  train acc {:.4}, test acc {:.4}, gap {:.4}",
                run.final_train_accuracy, run.final_test_accuracy, run.generalisation_gap
            );
        }
        write_out(args, &r)
    }

    /// `volume-rate --data DIR [--config rate.json] [--out result.json]`: paper 002 Fig. 3 natively.
    fn volume_rate(args: &[String]) -> Result<(), String> {
        use dropout_lab::experiments::p002_fig3_volume_rate::{run, VolumeRateConfig};
        let config = config_or(args, VolumeRateConfig::demo)?;
        let (train, test) = both_splits(args)?;
        let r = pollster::block_on(run(
            &config,
            &train,
            &test,
            cpu_device(),
            "cpu",
            &mut Stderr,
        ))
        .map_err(|e| e.to_string())?;
        for p in &r.points {
            let per: Vec<String> = p
                .layers
                .iter()
                .map(|l| format!("{:.4}", l.log_volume / (l.fan_in * l.fan_out) as f64))
                .collect();
            eprintln!(
                "drop {:.2}: log vol / D {} | loss gap {:.4}, accuracy gap {:.4}",
                p.drop_rate,
                per.join(" "),
                p.loss_gap,
                p.accuracy_gap
            );
        }
        write_out(args, &r)
    }

    /// `complexity --data DIR [--config table.json] [--out result.json]`: paper 002 Sec. 5.2's
    /// complexity measures against the generalisation gap, natively.
    fn complexity(args: &[String]) -> Result<(), String> {
        use dropout_lab::experiments::p002_complexity_table::{run, ComplexityTableConfig};
        let config = config_or(args, ComplexityTableConfig::demo)?;
        let (train, test) = both_splits(args)?;
        let r = pollster::block_on(run(
            &config,
            &train,
            &test,
            cpu_device(),
            "cpu",
            &mut Stderr,
        ))
        .map_err(|e| e.to_string())?;
        for n in &r.nets {
            eprintln!(
                "drop {:.2} lr {}: GG {:.4}, test acc {:.4}, σ {:.4e}, sampling accepted {}/{}",
                n.setting.drop_rate,
                n.setting.lr,
                n.loss_gap,
                n.test_accuracy,
                n.sharpness.sigma,
                n.sampling.accepted,
                n.sampling.losses.len()
            );
        }
        for row in &r.rows {
            let values: Vec<String> = row
                .values
                .iter()
                .map(|v| v.map_or("-".into(), |v| format!("{v:.4e}")))
                .collect();
            let agree = |a: &Option<dropout_lab::analysis::rank_agreement::RankAgreement>| {
                a.map_or("-".into(), |a| {
                    format!("τ {:+.3} Î {:.3}", a.kendall_tau, a.normalised_mi)
                })
            };
            eprintln!(
                "{:>16}: {} | GG {} | dropout {}",
                row.name,
                values.join(" "),
                agree(&row.gap),
                agree(&row.dropout)
            );
        }
        write_out(args, &r)
    }

    /// `modes --data DIR [--dataset NAME] [--config modes.json] [--out result.json]`: paper 004's
    /// table of dropout modes natively.
    fn modes(args: &[String]) -> Result<(), String> {
        use dropout_lab::experiments::p004_table1_modes::{mode_label, run, ModesTableConfig};
        let config = config_or(args, ModesTableConfig::demo)?;
        let (train, test) = both_splits(args)?;
        let dataset = arg(args, "--dataset").unwrap_or_else(|| "mnist".into());
        let r = pollster::block_on(run(
            &config,
            &train,
            &test,
            &dataset,
            cpu_device(),
            "cpu",
            &mut Stderr,
        ))
        .map_err(|e| e.to_string())?;
        let cell = |c: &dropout_lab::experiments::p004_table1_modes::Cell| {
            let acc = dropout_lab::experiments::p004_table1_modes::spread_or_dash(c.test_accuracy);
            if c.diverged > 0 {
                format!("{acc} ({} of {} diverged)", c.diverged, c.accuracies.len())
            } else {
                acc
            }
        };
        eprintln!("plain: {}", cell(&r.plain));
        for c in &r.cells {
            eprintln!("{:>20} drop {:<6}: {}", mode_label(c.mode), c.rate, cell(c));
        }
        write_out(args, &r)
    }

    /// `split --data DIR [--dataset NAME] [--config split.json] [--out result.json]`: paper 003's
    /// explicit vs implicit regularisation natively.
    fn split(args: &[String]) -> Result<(), String> {
        use dropout_lab::experiments::p003_explicit_implicit::{run, SplitConfig};
        let config = config_or(args, SplitConfig::demo)?;
        let (train, test) = both_splits(args)?;
        let dataset = arg(args, "--dataset").unwrap_or_else(|| "mnist".into());
        let r = pollster::block_on(run(
            &config,
            &train,
            &test,
            &dataset,
            cpu_device(),
            "cpu",
            &mut Stderr,
        ))
        .map_err(|e| e.to_string())?;
        for v in &r.variants {
            use dropout_lab::experiments::p004_table1_modes::spread_or_dash as f;
            eprintln!(
                "{:>20}: test acc {}, test loss {}, train loss {}{}",
                v.variant.label(),
                f(v.final_test_accuracy),
                f(v.final_test_loss),
                f(v.final_train_loss),
                if v.diverged > 0 {
                    format!(" ({} seed(s) diverged)", v.diverged)
                } else {
                    String::new()
                }
            );
        }
        write_out(args, &r)
    }

    /// `noise --data DIR [--dataset NAME] [--config noise.json] [--out result.json]`: paper 002
    /// Fig. 4, dropout against disentanglement and weight noise, natively.
    fn noise(args: &[String]) -> Result<(), String> {
        use dropout_lab::experiments::p002_fig4_noise::{run, NoiseFig4Config};
        let config = config_or(args, NoiseFig4Config::demo)?;
        let (train, test) = both_splits(args)?;
        let dataset = arg(args, "--dataset").unwrap_or_else(|| "mnist".into());
        let r = pollster::block_on(run(
            &config,
            &train,
            &test,
            &dataset,
            cpu_device(),
            "cpu",
            &mut Stderr,
        ))
        .map_err(|e| e.to_string())?;
        for v in &r.variants {
            use dropout_lab::experiments::p004_table1_modes::spread_or_dash as f;
            let vol: Vec<String> = v
                .log_volume_per_weight
                .iter()
                .map(|x| format!("{x:.3}"))
                .collect();
            eprintln!(
                "{:>28}: test loss {}, test acc {}, gap {}, log vol / D {}{}",
                v.variant.label(),
                f(v.final_test_loss),
                f(v.final_test_accuracy),
                v.loss_gap.map_or("-".into(), |g| format!("{g:.4}")),
                vol.join(" "),
                if v.diverged > 0 {
                    format!(" ({} diverged)", v.diverged)
                } else {
                    String::new()
                }
            );
        }
        write_out(args, &r)
    }

    struct Stderr;
    impl dropout_lab::experiments::Reporter for Stderr {
        fn report(
            &mut self,
            stage: &str,
            done: usize,
            total: usize,
        ) -> impl std::future::Future<Output = bool> {
            if done == total || done % 100 == 0 {
                eprintln!("{stage}: {done}/{total}");
            }
            std::future::ready(true)
        }
    }

    pub fn run(args: &[String]) -> Result<(), String> {
        match args.first().map(String::as_str) {
            Some("fig2") => return fig2(args),
            Some("fig1a") => return fig1a(args),
            Some("fig4") => return fig4(args),
            Some("fig6") => return fig6(args),
            Some("bench-hessian") => return bench_hessian(args),
            Some("cosine") => return cosine(args),
            Some("volume") => return volume(args),
            Some("volume-rate") => return volume_rate(args),
            Some("complexity") => return complexity(args),
            Some("modes") => return modes(args),
            Some("split") => return split(args),
            Some("noise") => return noise(args),
            _ => {}
        }
        if args.first().map(String::as_str) != Some("train") {
            return Err("usage: dropout-lab fig1a --data DIR [--config fig1a.json] [--out result.json]\n       dropout-lab fig2 --data DIR [--config fig2.json] [--out result.json]\n       dropout-lab fig4 --data DIR [--config fig4.json] [--out result.json]\n       dropout-lab fig6 --data DIR [--config fig6.json] [--out result.json]\n       dropout-lab cosine --data DIR [--config cosine.json] [--out result.json]\n       dropout-lab volume --data DIR [--config volume.json] [--out result.json]\n       dropout-lab volume-rate --data DIR [--config rate.json] [--out result.json]\n       dropout-lab complexity --data DIR [--config table.json] [--out result.json]\n       dropout-lab modes --data DIR [--dataset NAME] [--config modes.json] [--out result.json]\n       dropout-lab split --data DIR [--dataset NAME] [--config split.json] [--out result.json]\n       dropout-lab noise --data DIR [--dataset NAME] [--config noise.json] [--out result.json]\n       dropout-lab bench-hessian [--rows N] [--k K] [--backend cpu|wgpu]\n       dropout-lab train --config run.json --data DIR [--backend cpu|wgpu] [--out history.json] [--weights w.safetensors]".into());
        }
        let config_path = arg(args, "--config").ok_or("--config is required")?;
        let data_dir = PathBuf::from(arg(args, "--data").ok_or("--data is required")?);
        let config: TrainConfig = serde_json::from_str(
            &std::fs::read_to_string(&config_path).map_err(|e| format!("{config_path}: {e}"))?,
        )
        .map_err(|e| format!("{config_path}: {e}"))?;
        let train = load_split(
            &data_dir,
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
        )?;
        let test = load_split(
            &data_dir,
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        )?;
        let backend = arg(args, "--backend").unwrap_or_else(|| "cpu".into());
        let device = match backend.as_str() {
            "cpu" => cpu_device(),
            "wgpu" | "webgpu" => pollster::block_on(webgpu_device()).map_err(|e| e.to_string())?,
            other => return Err(format!("unknown backend {other}: use cpu or wgpu")),
        };
        let dataset = data_dir.display().to_string();
        let mut trainer = pollster::block_on(Trainer::new(
            config, &train, &test, device, &backend, &dataset,
        ))
        .map_err(|e| e.to_string())?;
        while !trainer.is_done() {
            let p = pollster::block_on(trainer.run(50)).map_err(|e| e.to_string())?;
            eprintln!(
                "step {}/{} epoch {}/{} loss {:.4}",
                p.step, p.total_steps, p.epoch, p.epochs, p.recent_loss
            );
        }
        let history = trainer.history().to_json();
        match arg(args, "--out") {
            Some(path) => std::fs::write(&path, history).map_err(|e| format!("{path}: {e}"))?,
            None => println!("{history}"),
        }
        if let Some(path) = arg(args, "--weights") {
            let params =
                pollster::block_on(trainer.model().to_host()).map_err(|e| e.to_string())?;
            let bytes = dropout_lab::io::safetensors::export(&trainer.config().model, &params)
                .map_err(|e| e.to_string())?;
            std::fs::write(&path, bytes).map_err(|e| format!("{path}: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
