//! `train` (one plain training run of any network from a TrainConfig) and `bench-hessian`.

use dropout_lab::train::{Progress, TrainConfig, Trainer};
use dropout_lab::LabResult;

use super::args::Args;
use super::data;

/// `train --config run.json [--data DIR] [--backend cpu|wgpu] [--out history.json] [--weights w.safetensors]`
pub fn train(argv: &[String]) -> Result<(), String> {
    let args = Args(argv);
    let config_path = args.value("--config")?.ok_or("--config is required")?;
    let text = std::fs::read_to_string(config_path).map_err(|e| format!("{config_path}: {e}"))?;
    let config: TrainConfig =
        serde_json::from_str(&text).map_err(|e| format!("{config_path}: {e}"))?;
    let dir = data::data_dir(args.value("--data")?);
    let (train, test) = data::splits(&dir)?;
    let (device, backend) = data::device(args.value("--backend")?)?;
    let spec = config
        .validate(train.len(), test.len(), train.dim, train.classes)
        .map_err(|e| e.to_string())?;
    let source = config.arch().map(|a| format!(" ({})", a.arch.source()));
    eprintln!(
        "{}: {} layers, {} parameters{}",
        config.model.label(),
        spec.layers.len(),
        spec.param_count().map_err(|e| e.to_string())?,
        source.unwrap_or_default()
    );
    let mut trainer = pollster::block_on(Trainer::new(
        config,
        &train,
        &test,
        device,
        backend,
        &dir.display().to_string(),
    ))
    .map_err(|e| e.to_string())?;
    eprintln!(
        "steps on the {} path",
        if trainer.is_dense() {
            "all-dense (MLP) fast"
        } else {
            "network-of-layers"
        }
    );
    // Slices short enough that a conv net reports often.
    let slice = if trainer.is_dense() { 50 } else { 20 };
    run_to_end(|| pollster::block_on(trainer.run(slice)))?;
    write_history(&args, trainer.history().to_json())?;
    if let Some(path) = args.value("--weights")? {
        let params = pollster::block_on(trainer.params()).map_err(|e| e.to_string())?;
        let bytes = dropout_lab::io::weights::export(&trainer.config().model, &params)
            .map_err(|e| e.to_string())?;
        std::fs::write(path, bytes).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}

/// Slices of training until the run is done, with progress on stderr.
fn run_to_end(mut slice: impl FnMut() -> LabResult<Progress>) -> Result<(), String> {
    loop {
        let p = slice().map_err(|e| e.to_string())?;
        eprintln!(
            "step {}/{} epoch {}/{} loss {:.4}",
            p.step, p.total_steps, p.epoch, p.epochs, p.recent_loss
        );
        if p.done {
            return Ok(());
        }
    }
}

/// The history JSON to `--out`, or stdout.
fn write_history(args: &Args, json: String) -> Result<(), String> {
    match args.value("--out")? {
        Some(path) => std::fs::write(path, json).map_err(|e| format!("{path}: {e}")),
        None => {
            println!("{json}");
            Ok(())
        }
    }
}

/// Milliseconds since the first call: the benchmarks' clock (`perf` takes a plain fn).
fn now_ms() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
        * 1000.0
}

/// `bench-hessian [--rows N] [--k K] [--backend cpu|wgpu]`: the Hessian benchmark natively, JSON.
pub fn bench_hessian(argv: &[String]) -> Result<(), String> {
    let args = Args(argv);
    let rows: usize = args.parsed("--rows", 10000)?;
    let k: usize = args.parsed("--k", 20)?;
    let (device, _) = data::device(args.value("--backend")?)?;
    let r = pollster::block_on(dropout_lab::perf::hessian(device, rows, k, now_ms))
        .map_err(|e| e.to_string())?;
    println!("{}", serde_json::to_string(&r).expect("serialises"));
    Ok(())
}

/// `bench-conv [--steps N] [--batch B] [--backend cpu|wgpu]`: conv-net training throughput of
/// `perf::CONV_BENCH` natively, JSON.
pub fn bench_conv(argv: &[String]) -> Result<(), String> {
    let args = Args(argv);
    let steps: usize = args.parsed("--steps", 3)?;
    let batch: usize = args.parsed("--batch", 128)?;
    let (device, _) = data::device(args.value("--backend")?)?;
    let mut out = Vec::new();
    for (arch, input) in dropout_lab::perf::CONV_BENCH {
        out.push(
            pollster::block_on(dropout_lab::perf::conv_training(
                device.clone(),
                arch,
                1.0,
                input,
                batch,
                steps,
                now_ms,
            ))
            .map_err(|e| e.to_string())?,
        );
    }
    println!("{}", serde_json::to_string(&out).expect("serialises"));
    Ok(())
}
