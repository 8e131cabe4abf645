//! The wasm-bindgen surface. `Lab` lives in the page's Web Worker and owns data, device and
//! trainer; the worker serialises calls, so an async method is never re-entered. The chart entry
//! points run on the main thread, which only draws.

mod bench;
mod charts;
mod lab;
mod presets;

pub use charts::{draw_history_chart, history_svg};
pub use lab::Lab;
pub use presets::{
    draw_result, open_result, preset_catalogue, preset_config, result_csv, result_summary,
    result_svg,
};

use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    // A panic becomes a readable console error instead of "unreachable executed".
    console_error_panic_hook::set_once();
}

#[wasm_bindgen]
pub fn version() -> String {
    crate::CRATE_VERSION.to_string()
}

pub(crate) fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}
