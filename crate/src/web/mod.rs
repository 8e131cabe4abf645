//! The wasm-bindgen surface. `Lab` lives in the page's Web Worker and owns data, device and
//! trainer; the worker serialises calls, so an async method is never re-entered. The chart entry
//! points run on the main thread, which only draws.

mod bench;
mod charts;
mod lab;

pub use charts::{draw_history_chart, draw_preset_chart};
pub use lab::Lab;

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
