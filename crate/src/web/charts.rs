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
pub fn draw_history_chart(canvas: HtmlCanvasElement, history_json: &str, metric: &str) -> Result<(), JsError> {
    let history: History = serde_json::from_str(history_json).map_err(js_err)?;
    let metric: Metric = serde_json::from_value(serde_json::Value::String(metric.to_string())).map_err(js_err)?;
    let backend = CanvasBackend::with_canvas_object(canvas).ok_or_else(|| JsError::new("canvas has no 2D context"))?;
    draw_history(backend.into_drawing_area(), &history, metric).map_err(js_err)
}

/// Draw a Fig 2 result (as returned by `Lab.runFig2`) onto `canvas`.
#[wasm_bindgen(js_name = drawFig2Chart)]
pub fn draw_fig2_chart(canvas: HtmlCanvasElement, result_json: &str) -> Result<(), JsError> {
    let result: crate::experiments::fig2_variance_flatness::Fig2Result = serde_json::from_str(result_json).map_err(js_err)?;
    let backend = CanvasBackend::with_canvas_object(canvas).ok_or_else(|| JsError::new("canvas has no 2D context"))?;
    crate::charts::draw_fig2(backend.into_drawing_area(), &result).map_err(js_err)
}
