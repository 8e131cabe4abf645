//! The `Preset` trait every paper figure implements once (egui's demo library is the model), and
//! the generic parts built on it: configs from form fields, versioned result files, the catalogue
//! the page builds its gallery and forms from. The CLI, the wasm surface and the page know presets
//! only through this file and `registry.rs`.

use std::future::Future;

use burn::tensor::Device;
use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::schema::{get_path, set_path, Field};
use crate::data::Dataset;
use crate::error::{LabError, LabResult};
use crate::model::net::NetParams;
use crate::model::{HostParams, MlpConfig, ModelConfig};
use crate::progress::Reporter;

/// Version of the result-file format; a file with another version is refused with a message.
pub const SCHEMA_VERSION: u32 = 1;

/// Which of a preset's two configurations a run starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// About a minute in a browser tab.
    Demo,
    /// The paper's own sizes (minutes to hours, natively).
    Paper,
}

impl std::str::FromStr for Scale {
    type Err = LabError;
    fn from_str(s: &str) -> LabResult<Self> {
        match s {
            "demo" => Ok(Scale::Demo),
            "paper" => Ok(Scale::Paper),
            other => Err(LabError::Config(format!(
                "unknown scale `{other}`: use demo or paper"
            ))),
        }
    }
}

/// What a gallery card and a CLI listing say about a preset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Info {
    pub id: &'static str,
    /// "000" .. "004": the file name prefix in shared/papers.
    pub paper: &'static str,
    pub figure: &'static str,
    pub title: &'static str,
    /// The one-line claim of the paper that this figure tests.
    pub claim: &'static str,
    /// Where in the paper: section, equation and figure.
    pub reference: &'static str,
    /// What the preset does, for the page's preset text (paper conventions noted here).
    pub description: &'static str,
}

/// One chart of a result: an id for exports and its size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Chart {
    pub id: &'static str,
    pub title: &'static str,
    pub width: u32,
    pub height: u32,
}

/// What a run reads: the loaded data and the device.
pub struct Inputs<'a> {
    pub train: &'a Dataset,
    pub test: &'a Dataset,
    /// The data set's name ("mnist", "fashion-mnist", a directory), written into results.
    pub dataset: &'a str,
    pub device: Device,
    pub backend: &'a str,
    /// A trained network to analyse instead of training one (see `Preset::WEIGHTS`).
    pub weights: Option<&'a StartWeights>,
}

/// A trained network from a weights file (the lab's own or a PyTorch state_dict).
#[derive(Debug, Clone, PartialEq)]
pub struct StartWeights {
    /// The network: an MLP or a named architecture (`io::weights::import` reads either).
    pub model: ModelConfig,
    /// Its weights in state_dict layout.
    pub params: NetParams,
    /// Where the weights came from, written into the result file ("model.safetensors").
    pub origin: String,
}

impl StartWeights {
    /// "784-50-50-10 relu from model.safetensors", "lenet5 (width 0.5) from conv.safetensors",
    /// for result files and messages.
    pub fn describe(&self) -> String {
        format!("{} from {}", self.model.label(), self.origin)
    }

    /// The MLP's config and weights in its [in, out] layout, when the network is an MLP.
    pub fn mlp(&self) -> Option<(MlpConfig, HostParams)> {
        self.model.mlp().and(self.params.as_mlp())
    }
}

/// A paper figure: its config, its run and how its result reads (chart, CSV, summary).
pub trait Preset: 'static {
    type Config: Serialize + DeserializeOwned + Clone;
    type Result: Serialize + DeserializeOwned;

    fn info() -> Info;
    /// About a minute in a tab on the CPU backend.
    fn demo() -> Self::Config;
    /// The paper's setting.
    fn paper() -> Self::Config;
    /// Every leaf of the config's JSON, as form fields.
    fn fields() -> Vec<Field>;
    /// Config fields the preset sets itself (left out of the form).
    fn fixed() -> &'static [&'static str] {
        &[]
    }
    /// Refuse a config that cannot run, before any work.
    fn validate(_config: &Self::Config) -> LabResult<()> {
        Ok(())
    }
    /// What imported weights replace, for a preset that analyses one trained network; None for
    /// one that trains and compares its own networks (imported weights are then refused).
    const WEIGHTS: Option<&'static str> = None;
    /// The config a run from imported weights of `model` uses (its architecture, no training).
    fn adopt_weights(config: Self::Config, _model: &ModelConfig) -> LabResult<Self::Config> {
        Ok(config)
    }
    fn run(
        config: &Self::Config,
        inputs: &Inputs<'_>,
        reporter: &mut impl Reporter,
    ) -> impl Future<Output = LabResult<Self::Result>>;
    fn charts() -> Vec<Chart>;
    fn draw<DB: DrawingBackend>(
        chart: &str,
        result: &Self::Result,
        area: DrawingArea<DB, Shift>,
    ) -> LabResult<()>;
    fn csv(result: &Self::Result) -> String;
    fn summary(result: &Self::Result) -> String;
}

/// The part of a `Preset` impl that every single-chart preset shares: `run` is the module's
/// `run(config, inputs, reporter)` and the chart is drawn by `$draw(area, result)`.
macro_rules! one_chart {
    ($draw:path, $id:literal, $title:literal, $width:literal x $height:literal) => {
        async fn run(
            config: &Self::Config,
            inputs: &$crate::experiments::Inputs<'_>,
            reporter: &mut impl $crate::experiments::Reporter,
        ) -> $crate::LabResult<Self::Result> {
            run(config, inputs, reporter).await
        }
        fn charts() -> Vec<$crate::experiments::Chart> {
            let (id, title, width, height) = ($id, $title, $width, $height);
            vec![$crate::experiments::Chart {
                id,
                title,
                width,
                height,
            }]
        }
        fn draw<DB: plotters::prelude::DrawingBackend>(
            _chart: &str,
            result: &Self::Result,
            area: plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
        ) -> $crate::LabResult<()> {
            $draw(area, result)
        }
    };
}
pub(crate) use one_chart;

/// Something done with one preset type; the registry calls it with the preset an id names.
pub trait Visitor {
    type Out;
    fn visit<P: Preset>(self) -> Self::Out;
}

/// A result as saved and reopened: the run's provenance around the preset's own result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    pub schema_version: u32,
    pub preset: String,
    pub crate_version: String,
    pub backend: String,
    pub dataset: String,
    pub seed: Option<u64>,
    /// Wall-clock seconds of the run, when the caller measured them.
    #[serde(default)]
    pub elapsed_s: Option<f64>,
    /// The imported network the run started from instead of training, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<String>,
    pub config: Value,
    pub result: Value,
}

impl ResultFile {
    /// Parse a saved result, with a message for anything that is not one this version reads.
    pub fn parse(text: &str) -> LabResult<Self> {
        let bad = |m: String| LabError::ResultFile(format!("not a Dropout Lab result file: {m}"));
        let v: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        match v.get("schema_version").and_then(Value::as_u64) {
            None => return Err(bad("it has no schema_version".into())),
            Some(n) if n != SCHEMA_VERSION as u64 => {
                return Err(LabError::ResultFile(format!(
                    "this result file has schema_version {n}; this Dropout Lab ({}) reads version \
                     {SCHEMA_VERSION}: open it with the version that wrote it",
                    crate::CRATE_VERSION
                )))
            }
            Some(_) => {}
        }
        serde_json::from_value(v).map_err(|e| bad(e.to_string()))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a result file serialises")
    }

    /// The preset's own result type.
    pub fn result_of<P: Preset>(&self) -> LabResult<P::Result> {
        serde_json::from_value(self.result.clone()).map_err(|e| {
            LabError::ResultFile(format!(
                "the result file's `result` is not a {} result: {e}",
                P::info().id
            ))
        })
    }
}

/// JSON of a value through its text form, so f32 fields read 0.3, not 0.30000001192092896.
pub fn to_value<T: Serialize>(t: &T) -> Value {
    serde_json::from_str(&serde_json::to_string(t).expect("configs serialise"))
        .expect("serialised JSON parses")
}

/// A field that could not be used, with why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub key: String,
    pub message: String,
}

/// A preset's config at `scale`, as JSON.
pub fn base_config<P: Preset>(scale: Scale) -> Value {
    to_value(&match scale {
        Scale::Demo => P::demo(),
        Scale::Paper => P::paper(),
    })
}

/// Apply `fields` (key, text) to a config JSON. Every unusable field is reported and leaves the
/// value it had, so a page can list the bad ones and fall back.
pub fn apply_fields<P: Preset>(config: &mut Value, fields: &[(String, String)]) -> Vec<FieldError> {
    let schema = P::fields();
    let mut errors = Vec::new();
    for (key, text) in fields {
        let outcome = match schema.iter().find(|f| f.key == key) {
            None => Err(format!(
                "{} has no setting `{key}` (it has {})",
                P::info().id,
                schema.iter().map(|f| f.key).collect::<Vec<_>>().join(", ")
            )),
            Some(f) => f.parse(text).and_then(|v| set_path(config, key, v)),
        };
        if let Err(message) = outcome {
            errors.push(FieldError {
                key: key.clone(),
                message,
            });
        }
    }
    errors
}

/// The config of `scale` with `fields` applied (see `apply_fields`).
pub fn config_from_fields<P: Preset>(
    scale: Scale,
    fields: &[(String, String)],
) -> (Value, Vec<FieldError>) {
    let mut config = base_config::<P>(scale);
    let errors = apply_fields::<P>(&mut config, fields);
    (config, errors)
}

/// Overlay `patch` onto `base`: objects merge key by key, anything else replaces.
pub fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// A config JSON as the preset's type, validated.
pub fn typed_config<P: Preset>(config: &Value) -> LabResult<P::Config> {
    let c: P::Config = serde_json::from_value(config.clone())
        .map_err(|e| LabError::Config(format!("not a {} config: {e}", P::info().id)))?;
    P::validate(&c)?;
    Ok(c)
}

/// Run a preset from a config JSON and wrap its result with its provenance.
pub async fn run_to_file<P: Preset>(
    config: &Value,
    inputs: &Inputs<'_>,
    reporter: &mut impl Reporter,
) -> LabResult<ResultFile> {
    let mut typed = typed_config::<P>(config)?;
    if let Some(w) = inputs.weights {
        if P::WEIGHTS.is_none() {
            return Err(LabError::Config(format!(
                "{} trains and compares its own networks, so it cannot start from imported \
                 weights (the figures that analyse one trained network can: see `dropout-lab list`)",
                P::info().id
            )));
        }
        typed = P::adopt_weights(typed, &w.model)?;
        P::validate(&typed)?;
    }
    let result = P::run(&typed, inputs, reporter).await?;
    let config = to_value(&typed);
    Ok(ResultFile {
        schema_version: SCHEMA_VERSION,
        preset: P::info().id.to_string(),
        crate_version: crate::CRATE_VERSION.to_string(),
        backend: inputs.backend.to_string(),
        dataset: inputs.dataset.to_string(),
        seed: get_path(&config, "seed").and_then(Value::as_u64),
        elapsed_s: None,
        weights: inputs.weights.map(StartWeights::describe),
        config,
        result: to_value(&result),
    })
}

/// A field with the demo and the paper values as text, for the page's form.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogueField {
    #[serde(flatten)]
    pub field: Field,
    pub demo: String,
    pub paper: String,
}

/// Everything the page needs to show a preset's card and form.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogueEntry {
    #[serde(flatten)]
    pub info: Info,
    pub fields: Vec<CatalogueField>,
    pub charts: Vec<Chart>,
    /// What imported weights replace; absent when the preset cannot start from them.
    pub weights: Option<&'static str>,
}

pub fn catalogue_entry<P: Preset>() -> CatalogueEntry {
    let (demo, paper) = (to_value(&P::demo()), to_value(&P::paper()));
    let text = |f: &Field, v: &Value| get_path(v, f.key).map_or(String::new(), |x| f.format(x));
    CatalogueEntry {
        info: P::info(),
        fields: P::fields()
            .into_iter()
            .map(|field| CatalogueField {
                demo: text(&field, &demo),
                paper: text(&field, &paper),
                field,
            })
            .collect(),
        charts: P::charts(),
        weights: P::WEIGHTS,
    }
}

/// Draw chart `chart` of a result file onto `area`.
pub fn draw_file<P: Preset, DB: DrawingBackend>(
    file: &ResultFile,
    chart: &str,
    area: DrawingArea<DB, Shift>,
) -> LabResult<()> {
    let r = file.result_of::<P>()?;
    P::draw(chart, &r, area)
}

/// Chart `chart` of a result file as an SVG document.
pub fn svg_of<P: Preset>(file: &ResultFile, chart: &str) -> LabResult<String> {
    use plotters::prelude::{IntoDrawingArea, SVGBackend};
    let spec = P::charts()
        .into_iter()
        .find(|c| c.id == chart)
        .ok_or_else(|| LabError::Config(format!("{} has no chart `{chart}`", P::info().id)))?;
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, (spec.width, spec.height)).into_drawing_area();
        draw_file::<P, _>(file, chart, area)?;
    }
    Ok(out)
}

/// The provenance line every preset's CSV starts with.
pub fn csv_header(
    crate_version: &str,
    backend: &str,
    seed: u64,
    extra: &[(&str, String)],
) -> String {
    let mut s = format!("# dropout-lab {crate_version} backend={backend} seed={seed}");
    for (k, v) in extra {
        s.push_str(&format!(" {k}={v}"));
    }
    s.push('\n');
    s
}

/// CSV rows from cells (a cell that needs quoting is quoted).
pub fn csv_rows(header: &str, rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut s = String::from(header);
    s.push('\n');
    for r in rows {
        let cells: Vec<String> = r
            .into_iter()
            .map(|c| {
                if c.contains([',', '"', '\n']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c
                }
            })
            .collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    s
}

/// One text line per item.
pub fn lines(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join("\n")
}

/// An optional number as a CSV cell (empty when absent).
pub fn opt<T: ToString>(x: Option<T>) -> String {
    x.map_or(String::new(), |v| v.to_string())
}
