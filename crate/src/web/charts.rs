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
    use crate::experiments::{fig1a_landscape::Fig1aResult, fig2_variance_flatness::Fig2Result};
    let backend = CanvasBackend::with_canvas_object(canvas)
        .ok_or_else(|| JsError::new("canvas has no 2D context"))?;
    let area = backend.into_drawing_area();
    match name {
        "fig1a" => crate::charts::draw_fig1a(
            area,
            &serde_json::from_str::<Fig1aResult>(result_json).map_err(js_err)?,
        ),
        "fig2" => crate::charts::draw_fig2(
            area,
            &serde_json::from_str::<Fig2Result>(result_json).map_err(js_err)?,
        ),
        other => return Err(JsError::new(&format!("unknown preset `{other}`"))),
    }
    .map_err(js_err)
}
