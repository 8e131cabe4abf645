//! A JS byte array read as a Rust stream, a chunk at a time: decoding a 170 MB archive from the
//! page's buffer then never holds a second whole copy of it in wasm memory.

use std::io::Read;

pub struct JsReader {
    array: js_sys::Uint8Array,
    at: u32,
}

impl JsReader {
    pub fn new(array: js_sys::Uint8Array) -> Self {
        JsReader { array, at: 0 }
    }
}

impl Read for JsReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.array.length() - self.at;
        let n = left.min(buf.len().min(u32::MAX as usize) as u32);
        if n > 0 {
            self.array
                .subarray(self.at, self.at + n)
                .copy_to(&mut buf[..n as usize]);
            self.at += n;
        }
        Ok(n as usize)
    }
}
