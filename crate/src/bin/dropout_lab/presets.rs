//! `list`, `show`, `run` and `summary`: every preset through the registry, nothing per preset.

use std::path::Path;
use std::time::Instant;

use dropout_lab::experiments::preset::{
    apply_fields, base_config, merge, run_to_file, svg_of, typed_config,
};
use dropout_lab::experiments::registry::{ids, visit};
use dropout_lab::experiments::schema::get_path;
use dropout_lab::experiments::{
    Inputs, Preset, Reporter, ResultFile, Scale, StartWeights, Visitor,
};
use dropout_lab::io::weights::import;
use serde_json::Value;

use super::args::Args;
use super::data;

/// Ids of earlier versions' subcommands that differ from the preset ids.
fn canonical(id: &str) -> &str {
    match id {
        "volume-rate" => "volumerate",
        other => other,
    }
}

pub fn is_preset(id: &str) -> bool {
    ids().contains(&canonical(id))
}

pub fn list() -> Result<(), String> {
    struct Line;
    impl Visitor for Line {
        type Out = String;
        fn visit<P: Preset>(self) -> String {
            let i = P::info();
            let weights = if P::WEIGHTS.is_some() {
                "  [--weights]"
            } else {
                ""
            };
            format!(
                "{:<11} paper {} {:<20} {}{weights}",
                i.id, i.paper, i.figure, i.title
            )
        }
    }
    for id in ids() {
        println!("{}", visit(id, Line).map_err(|e| e.to_string())?);
    }
    Ok(())
}

/// `show <preset>`: each setting with its value at the scale, the paper's value and its help.
pub fn show(argv: &[String]) -> Result<(), String> {
    let id = canonical(
        argv.first()
            .ok_or("show needs a preset id (see `dropout-lab list`)")?,
    );
    let scale: Scale = Args(argv).parsed("--scale", Scale::Demo)?;
    struct Show(Scale);
    impl Visitor for Show {
        type Out = String;
        fn visit<P: Preset>(self) -> String {
            let (v, paper) = (base_config::<P>(self.0), base_config::<P>(Scale::Paper));
            let mut s = format!(
                "{}: {}\n{}\n\n",
                P::info().id,
                P::info().title,
                P::info().claim
            );
            for f in P::fields() {
                let text = |c: &Value| get_path(c, f.key).map_or(String::new(), |x| f.format(x));
                s.push_str(&format!(
                    "  --set {}={}{}\n      {}{}\n",
                    f.key,
                    text(&v),
                    if text(&v) != text(&paper) {
                        format!("   (paper: {})", text(&paper))
                    } else {
                        String::new()
                    },
                    f.label,
                    if f.help.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", f.help)
                    },
                ));
            }
            s
        }
    }
    print!("{}", visit(id, Show(scale)).map_err(|e| e.to_string())?);
    Ok(())
}

/// The config a run starts from: the scale's, a --config file (a config or a result file)
/// overlaid, then every --set.
fn config_for<P: Preset>(args: &Args, scale: Scale) -> Result<Value, String> {
    let mut config = base_config::<P>(scale);
    if let Some(path) = args.value("--config")? {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        let patch = if v.get("schema_version").is_some() {
            let file = ResultFile::parse(&text).map_err(|e| format!("{path}: {e}"))?;
            if file.preset != P::info().id {
                return Err(format!(
                    "{path} is a {} result, not {}",
                    file.preset,
                    P::info().id
                ));
            }
            file.config
        } else {
            v
        };
        merge(&mut config, &patch);
    }
    let mut sets = Vec::new();
    for s in args.values("--set")? {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| format!("--set {s}: write key=value"))?;
        sets.push((k.trim().to_string(), v.to_string()));
    }
    let errors = apply_fields::<P>(&mut config, &sets);
    if !errors.is_empty() {
        let lines: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
        return Err(lines.join("\n       "));
    }
    typed_config::<P>(&config).map_err(|e| e.to_string())?;
    Ok(config)
}

struct Run<'a> {
    args: Args<'a>,
}

impl Visitor for Run<'_> {
    type Out = Result<(), String>;
    fn visit<P: Preset>(self) -> Result<(), String> {
        let args = &self.args;
        let scale: Scale = args.parsed("--scale", Scale::Demo)?;
        let config = config_for::<P>(args, scale)?;
        let dir = data::data_dir(args.value("--data")?);
        let (train, test) = data::splits(&dir)?;
        let dataset = match args.value("--dataset")? {
            Some(name) => name.to_string(),
            None => dataset_name(&dir),
        };
        let (device, backend) = data::device(args.value("--backend")?)?;
        let weights = start_weights(args)?;
        let inputs = Inputs {
            train: &train,
            test: &test,
            dataset: &dataset,
            device,
            backend,
            weights: weights.as_ref(),
        };
        // --repeat N (the soak of `npm run soak`): the same run N times in this process, with the
        // resident memory after each on stderr, so growth across runs shows.
        let repeat: usize = args.parsed("--repeat", 1)?;
        if repeat == 0 {
            return Err("--repeat must be at least 1".into());
        }
        let mut file = None;
        for i in 1..=repeat {
            let started = Instant::now();
            let mut run =
                pollster::block_on(run_to_file::<P>(&config, &inputs, &mut Stderr::default()))
                    .map_err(|e| e.to_string())?;
            run.elapsed_s = Some(started.elapsed().as_secs_f64());
            if repeat > 1 {
                eprintln!(
                    "{}",
                    serde_json::json!({ "soak": { "run": i, "rss_bytes": resident_bytes(),
                        "seconds": run.elapsed_s } })
                );
            }
            file = Some(run);
        }
        let file = file.expect("repeat >= 1");
        eprintln!(
            "{}",
            P::summary(&file.result_of::<P>().map_err(|e| e.to_string())?)
        );
        eprintln!(
            "({} on {backend}, {:.1} s)",
            P::info().id,
            file.elapsed_s.unwrap_or(0.0)
        );
        write_outputs::<P>(args, &file)
    }
}

/// This process's resident memory (Linux: VmRSS of /proc/self/status), None elsewhere.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}

/// `--weights FILE [--act relu|tanh]`: a trained network to analyse instead of training: an MLP
/// or a named architecture (the activation is read from a lab file, and taken from --act for a
/// PyTorch state_dict of Linear layers).
fn start_weights(args: &Args) -> Result<Option<StartWeights>, String> {
    let Some(path) = args.value("--weights")? else {
        return Ok(None);
    };
    let act = args.value("--act")?.unwrap_or("relu");
    let activation = serde_json::from_value(Value::String(act.into()))
        .map_err(|_| format!("--act {act}: use relu or tanh"))?;
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let imported = import(&bytes, activation).map_err(|e| format!("{path}: {e}"))?;
    Ok(Some(StartWeights {
        model: imported.model,
        params: imported.params,
        origin: Path::new(path)
            .file_name()
            .map_or(path.to_string(), |n| n.to_string_lossy().into_owned()),
    }))
}

/// The data set's usual name when DIR is one of the bundled ones, else DIR itself.
fn dataset_name(dir: &Path) -> String {
    let s = dir.display().to_string();
    if s.contains("fashion") {
        "fashion-mnist".into()
    } else if s.contains("cifar-100") {
        "cifar-100".into()
    } else if s.contains("cifar") {
        "cifar-10".into()
    } else if s.contains("mnist") {
        "mnist".into()
    } else {
        s
    }
}

fn write_outputs<P: Preset>(args: &Args, file: &ResultFile) -> Result<(), String> {
    let write =
        |path: &str, text: &str| std::fs::write(path, text).map_err(|e| format!("{path}: {e}"));
    match args.value("--out")? {
        Some(path) => write(path, &file.to_json())?,
        None => println!("{}", file.to_json()),
    }
    write_exports::<P>(args, file)
}

/// `--csv` and `--svg` of a result file.
fn write_exports<P: Preset>(args: &Args, file: &ResultFile) -> Result<(), String> {
    let write =
        |path: &str, text: &str| std::fs::write(path, text).map_err(|e| format!("{path}: {e}"));
    if let Some(path) = args.value("--csv")? {
        write(
            path,
            &P::csv(&file.result_of::<P>().map_err(|e| e.to_string())?),
        )?;
    }
    if let Some(path) = args.value("--svg")? {
        let charts = P::charts();
        for c in &charts {
            let target = if charts.len() == 1 {
                path.to_string()
            } else {
                format!("{}-{}.svg", path.trim_end_matches(".svg"), c.id)
            };
            write(
                &target,
                &svg_of::<P>(file, c.id).map_err(|e| e.to_string())?,
            )?;
        }
    }
    Ok(())
}

/// `run <preset> ...`
pub fn run(argv: &[String]) -> Result<(), String> {
    let id = canonical(
        argv.first()
            .ok_or("run needs a preset id (see `dropout-lab list`)")?,
    );
    visit(
        id,
        Run {
            args: Args(&argv[1..]),
        },
    )
    .map_err(|e| e.to_string())?
}

/// `summary result.json [--csv FILE] [--svg FILE]`: what the run printed, and its exports, from the
/// saved file (paper-scale results made elsewhere render here too).
pub fn summary(argv: &[String]) -> Result<(), String> {
    let path = argv.first().ok_or("summary needs a result file")?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let file = ResultFile::parse(&text).map_err(|e| format!("{path}: {e}"))?;
    struct Summary<'a>(&'a ResultFile, Args<'a>);
    impl Visitor for Summary<'_> {
        type Out = Result<(), String>;
        fn visit<P: Preset>(self) -> Result<(), String> {
            println!(
                "{}",
                P::summary(&self.0.result_of::<P>().map_err(|e| e.to_string())?)
            );
            write_exports::<P>(&self.1, self.0)
        }
    }
    visit(&file.preset, Summary(&file, Args(&argv[1..]))).map_err(|e| e.to_string())?
}

/// Progress on stderr: each new stage, then every 10 % of it.
#[derive(Default)]
struct Stderr {
    stage: String,
    shown: usize,
}

impl Reporter for Stderr {
    fn report(
        &mut self,
        stage: &str,
        done: usize,
        total: usize,
    ) -> impl std::future::Future<Output = bool> {
        let tenth = (total / 10).max(1);
        if stage != self.stage || done == total || done >= self.shown + tenth {
            eprintln!("{stage}: {done}/{total}");
            self.stage = stage.to_string();
            self.shown = done;
        }
        std::future::ready(true)
    }
}
