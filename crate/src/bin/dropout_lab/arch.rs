//! `arch`: a named conv net's layers, shapes and parameter count, and its torch.nn definition.

use dropout_lab::model::net::torch::torch_module;
use dropout_lab::model::net::{Arch, ArchConfig, Shortcut};

use super::args::Args;

/// `arch <id> [--width W] [--drop P] [--input C,H,W] [--classes K] [--shortcut a|b]`: the layer
/// table on stderr, the Python (torch.nn) definition that loads the lab's weights on stdout.
pub fn arch(argv: &[String]) -> Result<(), String> {
    let id = argv
        .first()
        .filter(|a| !a.starts_with("--"))
        .ok_or("arch needs an architecture: lenet5, convnet-quick, vgg9, vgg11 or resnet20")?;
    let args = Args(&argv[1..]);
    let mut a = ArchConfig::new(Arch::parse(id).map_err(|e| e.to_string())?);
    a.width = args.parsed("--width", 1.0)?;
    a.drop_rate = args.parsed("--drop", 0.0)?;
    a.shortcut = match args.value("--shortcut")? {
        None | Some("a") => Shortcut::A,
        Some("b") => Shortcut::B,
        Some(other) => return Err(format!("--shortcut {other}: a or b")),
    };
    let default_input = if a.arch == Arch::Lenet5 {
        "1,28,28"
    } else {
        "3,32,32"
    };
    let input: Vec<usize> = args
        .value("--input")?
        .unwrap_or(default_input)
        .split(',')
        .map(|v| v.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--input: {e} (give C,H,W such as 3,32,32)"))?;
    let input: [usize; 3] = input
        .try_into()
        .map_err(|_| "--input takes three numbers C,H,W".to_string())?;
    let classes: usize = args.parsed("--classes", 10)?;
    let spec = a.build(input, classes).map_err(|e| e.to_string())?;
    let shapes = spec.shapes().map_err(|e| e.to_string())?;
    eprintln!("{}\n", a.arch.source());
    for (i, (layer, shape)) in spec.layers.iter().zip(&shapes).enumerate() {
        eprintln!("{i:>3}  {:<60} -> {shape:?}", layer.label());
    }
    eprintln!(
        "\n{} parameters",
        spec.param_count().map_err(|e| e.to_string())?
    );
    print!("{}", torch_module(&spec).map_err(|e| e.to_string())?);
    Ok(())
}
