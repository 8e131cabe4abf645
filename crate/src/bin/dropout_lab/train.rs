//! `train` (one plain training run from a TrainConfig, or a NetTrainConfig for a conv net) and
//! `bench-hessian`.

use dropout_lab::train::{NetTrainConfig, NetTrainer, Progress, TrainConfig, Trainer};
use dropout_lab::LabResult;

use super::args::Args;
use super::data;

/// `train --config run.json [--data DIR] [--backend cpu|wgpu] [--out history.json] [--weights w.safetensors]`
pub fn train(argv: &[String]) -> Result<(), String> {
    let args = Args(argv);
    let config_path = args.value("--config")?.ok_or("--config is required")?;
    let text = std::fs::read_to_string(config_path).map_err(|e| format!("{config_path}: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{config_path}: {e}"))?;
    if value.get("arch").is_some() {
        let config: NetTrainConfig =
            serde_json::from_value(value).map_err(|e| format!("{config_path}: {e}"))?;
        return train_net(&args, config);
    }
    let config: TrainConfig =
        serde_json::from_value(value).map_err(|e| format!("{config_path}: {e}"))?;
    let dir = data::data_dir(args.value("--data")?);
    let (train, test) = data::splits(&dir)?;
    let (device, backend) = data::device(args.value("--backend")?)?;
    let dataset = dir.display().to_string();
    let mut trainer = pollster::block_on(Trainer::new(
        config, &train, &test, device, backend, &dataset,
    ))
    .map_err(|e| e.to_string())?;
    run_to_end(|| pollster::block_on(trainer.run(50)))?;
    write_history(&args, trainer.history().to_json())?;
    if let Some(path) = args.value("--weights")? {
        let params = pollster::block_on(trainer.model().to_host()).map_err(|e| e.to_string())?;
        let bytes = dropout_lab::io::safetensors::export(&trainer.config().model, &params)
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

/// A conv net's run: progress on stderr, the history JSON (as for an MLP), weights as safetensors
/// in PyTorch's state_dict layout.
fn train_net(args: &Args, config: NetTrainConfig) -> Result<(), String> {
    let dir = data::data_dir(args.value("--data")?);
    let (train, test) = data::splits(&dir)?;
    let (device, backend) = data::device(args.value("--backend")?)?;
    let spec = config
        .spec(train.dim, train.classes)
        .map_err(|e| e.to_string())?;
    eprintln!(
        "{}: {} layers, {} parameters ({})",
        config.arch.arch.id(),
        spec.layers.len(),
        spec.param_count().map_err(|e| e.to_string())?,
        config.arch.arch.source()
    );
    let mut trainer = pollster::block_on(NetTrainer::new(
        config,
        &train,
        &test,
        device,
        backend,
        &dir.display().to_string(),
    ))
    .map_err(|e| e.to_string())?;
    run_to_end(|| pollster::block_on(trainer.run(20)))?;
    write_history(args, trainer.history().to_json())?;
    if let Some(path) = args.value("--weights")? {
        let params = pollster::block_on(trainer.net().to_host()).map_err(|e| e.to_string())?;
        let bytes = dropout_lab::io::net_safetensors::export(&params, Some(&trainer.config().arch))
            .map_err(|e| e.to_string())?;
        std::fs::write(path, bytes).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
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
