//! The wasm-bindgen surface. `Lab` lives in the page's Web Worker and owns data, device and
//! trainer; the worker serialises calls, so an async method is never re-entered. The chart entry
//! points run on the main thread, which only draws.

mod bench;
mod charts;
mod js_reader;
mod lab;
mod presets;

pub use charts::{draw_history_chart, history_svg};
pub use lab::Lab;
pub use presets::{
    draw_result, open_result, preset_catalogue, preset_config, result_csv, result_summary,
    result_svg,
};

use wasm_bindgen::prelude::*;

/// The message of the first panic in this instance. A panic aborts (wasm32 has no unwinding):
/// whatever was borrowed stays borrowed, so the worker reads this after a failed call and is
/// replaced instead of being used again.
static PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

#[wasm_bindgen(start)]
pub fn start() {
    crate::backend::run_static_constructors();
    std::panic::set_hook(Box::new(|info| {
        let mut slot = PANIC.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert_with(|| info.to_string());
        drop(slot);
        // A readable console error instead of "unreachable executed".
        console_error_panic_hook::hook(info);
    }));
}

/// The first panic's message, if this wasm instance has panicked (and must not be used again).
#[wasm_bindgen(js_name = panicMessage)]
pub fn panic_message() -> Option<String> {
    PANIC.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

#[wasm_bindgen]
pub fn version() -> String {
    crate::CRATE_VERSION.to_string()
}

pub(crate) fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}
