//! The page's view of the preset registry, on the main thread (no data, no device): the
//! catalogue, configs from form fields, and everything a result file shows (charts, SVG, CSV,
//! summary). Runs happen in the worker through `Lab::run_preset`.

use plotters::prelude::IntoDrawingArea;
use plotters_canvas::CanvasBackend;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use web_sys::HtmlCanvasElement;

use super::js_err;
use crate::experiments::preset::{config_from_fields, draw_file, svg_of, typed_config, FieldError};
use crate::experiments::registry::{catalogue, visit};
use crate::experiments::{Preset, ResultFile, Scale, Visitor};

/// Every preset's card and form (info, fields with demo and paper values, charts), as JSON.
#[wasm_bindgen(js_name = presetCatalogue)]
pub fn preset_catalogue() -> String {
    serde_json::to_string(&catalogue()).expect("the catalogue serialises")
}

#[derive(Serialize)]
struct Checked {
    /// The config to run: the scale's values where a field was unusable.
    config: serde_json::Value,
    /// Unusable fields, each with its message.
    errors: Vec<FieldError>,
    /// Set when the fields parse but the config as a whole cannot run.
    invalid: Option<String>,
}

/// A preset's config from form fields (`{ key: text }`, JSON), at `scale` ("demo" or "paper").
/// Returns `{ config, errors, invalid }` as JSON.
#[wasm_bindgen(js_name = presetConfig)]
pub fn preset_config(id: &str, scale: &str, fields_json: &str) -> Result<String, JsError> {
    let scale: Scale = scale.parse().map_err(js_err)?;
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(fields_json).map_err(js_err)?;
    let fields: Vec<(String, String)> = fields
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect();
    struct Check(Scale, Vec<(String, String)>);
    impl Visitor for Check {
        type Out = Checked;
        fn visit<P: Preset>(self) -> Checked {
            let (config, errors) = config_from_fields::<P>(self.0, &self.1);
            let invalid = typed_config::<P>(&config).err().map(|e| e.to_string());
            Checked {
                config,
                errors,
                invalid,
            }
        }
    }
    let checked = visit(id, Check(scale, fields)).map_err(js_err)?;
    Ok(serde_json::to_string(&checked).expect("serialises"))
}

/// Parse a result file (from the page or `dropout-lab run --out`): its preset id, or a message.
#[wasm_bindgen(js_name = openResult)]
pub fn open_result(text: &str) -> Result<String, JsError> {
    let file = ResultFile::parse(text).map_err(js_err)?;
    struct Check<'a>(&'a ResultFile);
    impl Visitor for Check<'_> {
        type Out = crate::LabResult<()>;
        fn visit<P: Preset>(self) -> crate::LabResult<()> {
            self.0.result_of::<P>().map(|_| ())
        }
    }
    visit(&file.preset, Check(&file))
        .map_err(js_err)?
        .map_err(js_err)?;
    Ok(file.preset)
}

fn file(text: &str) -> Result<ResultFile, JsError> {
    ResultFile::parse(text).map_err(js_err)
}

/// Draw chart `chart` of a result file onto `canvas`.
#[wasm_bindgen(js_name = drawResult)]
pub fn draw_result(
    id: &str,
    result_json: &str,
    canvas: HtmlCanvasElement,
    chart: &str,
) -> Result<(), JsError> {
    let f = file(result_json)?;
    if f.preset != id {
        return Err(JsError::new(&format!(
            "this is a {} result, not {id}",
            f.preset
        )));
    }
    struct Draw<'a>(&'a ResultFile, &'a str, HtmlCanvasElement);
    impl Visitor for Draw<'_> {
        type Out = crate::LabResult<()>;
        fn visit<P: Preset>(self) -> crate::LabResult<()> {
            let backend = CanvasBackend::with_canvas_object(self.2)
                .ok_or_else(|| crate::LabError::Config("the canvas has no 2D context".into()))?;
            draw_file::<P, _>(self.0, self.1, backend.into_drawing_area())
        }
    }
    visit(id, Draw(&f, chart, canvas))
        .map_err(js_err)?
        .map_err(js_err)
}

/// Chart `chart` of a result file as an SVG document.
#[wasm_bindgen(js_name = resultSvg)]
pub fn result_svg(result_json: &str, chart: &str) -> Result<String, JsError> {
    let f = file(result_json)?;
    struct Svg<'a>(&'a ResultFile, &'a str);
    impl Visitor for Svg<'_> {
        type Out = crate::LabResult<String>;
        fn visit<P: Preset>(self) -> crate::LabResult<String> {
            svg_of::<P>(self.0, self.1)
        }
    }
    visit(&f.preset, Svg(&f, chart))
        .map_err(js_err)?
        .map_err(js_err)
}

/// A result file as the preset's CSV.
#[wasm_bindgen(js_name = resultCsv)]
pub fn result_csv(result_json: &str) -> Result<String, JsError> {
    text_of(result_json, |p| p.csv)
}

/// A result file's summary, the same text `dropout-lab run` prints.
#[wasm_bindgen(js_name = resultSummary)]
pub fn result_summary(result_json: &str) -> Result<String, JsError> {
    text_of(result_json, |p| p.summary)
}

/// The text functions of one preset type, erased.
struct Texts {
    csv: fn(&ResultFile) -> crate::LabResult<String>,
    summary: fn(&ResultFile) -> crate::LabResult<String>,
}

fn text_of(
    result_json: &str,
    pick: impl Fn(Texts) -> fn(&ResultFile) -> crate::LabResult<String>,
) -> Result<String, JsError> {
    let f = file(result_json)?;
    struct T;
    impl Visitor for T {
        type Out = Texts;
        fn visit<P: Preset>(self) -> Texts {
            Texts {
                csv: |f| f.result_of::<P>().map(|r| P::csv(&r)),
                summary: |f| f.result_of::<P>().map(|r| P::summary(&r)),
            }
        }
    }
    pick(visit(&f.preset, T).map_err(js_err)?)(&f).map_err(js_err)
}

/// The text of a config value (JSON) for field `key` of preset `id`, as the form shows it.
#[wasm_bindgen(js_name = formatField)]
pub fn format_field(id: &str, key: &str, value_json: &str) -> Result<String, JsError> {
    let value: serde_json::Value = serde_json::from_str(value_json).map_err(js_err)?;
    struct Format<'a>(&'a str, serde_json::Value);
    impl Visitor for Format<'_> {
        type Out = Option<String>;
        fn visit<P: Preset>(self) -> Option<String> {
            P::fields()
                .iter()
                .find(|f| f.key == self.0)
                .map(|f| f.format(&self.1))
        }
    }
    visit(id, Format(key, value))
        .map_err(js_err)?
        .ok_or_else(|| JsError::new(&format!("{id} has no setting `{key}`")))
}
