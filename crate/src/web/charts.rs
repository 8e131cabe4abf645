//! The training view's charts: drawn into a page canvas with plotters-canvas, or as SVG.

use plotters::prelude::{IntoDrawingArea, SVGBackend};
use plotters_canvas::CanvasBackend;
use wasm_bindgen::prelude::*;
use web_sys::HtmlCanvasElement;

use super::js_err;
use crate::charts::{draw_history, Metric};
use crate::train::History;

fn parse(history_json: &str, metric: &str) -> Result<(History, Metric), JsError> {
    let history: History = serde_json::from_str(history_json).map_err(js_err)?;
    let metric: Metric =
        serde_json::from_value(serde_json::Value::String(metric.to_string())).map_err(js_err)?;
    Ok((history, metric))
}

/// Draw `metric` ("loss" or "accuracy") of a history (as exported JSON) onto `canvas`.
#[wasm_bindgen(js_name = drawHistoryChart)]
pub fn draw_history_chart(
    canvas: HtmlCanvasElement,
    history_json: &str,
    metric: &str,
) -> Result<(), JsError> {
    let (history, metric) = parse(history_json, metric)?;
    let backend = CanvasBackend::with_canvas_object(canvas)
        .ok_or_else(|| JsError::new("canvas has no 2D context"))?;
    draw_history(backend.into_drawing_area(), &history, metric).map_err(js_err)
}

/// The same chart as an SVG document of `width` x `height`.
#[wasm_bindgen(js_name = historySvg)]
pub fn history_svg(
    history_json: &str,
    metric: &str,
    width: u32,
    height: u32,
) -> Result<String, JsError> {
    let (history, metric) = parse(history_json, metric)?;
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        draw_history(area, &history, metric).map_err(js_err)?;
    }
    Ok(out)
}
