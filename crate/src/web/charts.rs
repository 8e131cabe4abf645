//! Chart drawing into a page canvas with plotters-canvas.

use plotters::prelude::IntoDrawingArea;
use plotters_canvas::CanvasBackend;
use wasm_bindgen::prelude::*;
use web_sys::HtmlCanvasElement;

use super::js_err;
use crate::charts::{draw_history, Metric};
use crate::train::History;

/// Draw `metric` ("loss" or "accuracy") of a history (as exported JSON) onto `canvas`.
#[wasm_bindgen(js_name = drawHistoryChart)]
pub fn draw_history_chart(
    canvas: HtmlCanvasElement,
    history_json: &str,
    metric: &str,
) -> Result<(), JsError> {
    let history: History = serde_json::from_str(history_json).map_err(js_err)?;
    let metric: Metric =
        serde_json::from_value(serde_json::Value::String(metric.to_string())).map_err(js_err)?;
    let backend = CanvasBackend::with_canvas_object(canvas)
        .ok_or_else(|| JsError::new("canvas has no 2D context"))?;
    draw_history(backend.into_drawing_area(), &history, metric).map_err(js_err)
}

/// Draw a preset's result (JSON from `Lab.runPreset`) onto `canvas`.
#[wasm_bindgen(js_name = drawPresetChart)]
pub fn draw_preset_chart(
    canvas: HtmlCanvasElement,
    name: &str,
    result_json: &str,
) -> Result<(), JsError> {
    use crate::charts::{
        draw_complexity_table, draw_cosine, draw_explicit_implicit, draw_fig1a, draw_fig2,
        draw_fig4, draw_fig6, draw_modes_table, draw_noise_fig4, draw_volume, draw_volume_rate,
    };
    fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, JsError> {
        serde_json::from_str(json).map_err(js_err)
    }
    let backend = CanvasBackend::with_canvas_object(canvas)
        .ok_or_else(|| JsError::new("canvas has no 2D context"))?;
    let area = backend.into_drawing_area();
    match name {
        "fig1a" => draw_fig1a(area, &parse(result_json)?),
        "fig2" => draw_fig2(area, &parse(result_json)?),
        "fig4" => draw_fig4(area, &parse(result_json)?),
        "fig6" => draw_fig6(area, &parse(result_json)?),
        "cosine" => draw_cosine(area, &parse(result_json)?),
        "volume" => draw_volume(area, &parse(result_json)?),
        "volumerate" => draw_volume_rate(area, &parse(result_json)?),
        "complexity" => draw_complexity_table(area, &parse(result_json)?),
        "modes" => draw_modes_table(area, &parse(result_json)?),
        "split" => draw_explicit_implicit(area, &parse(result_json)?),
        "noise" => draw_noise_fig4(area, &parse(result_json)?),
        other => return Err(JsError::new(&format!("unknown preset `{other}`"))),
    }
    .map_err(js_err)
}
