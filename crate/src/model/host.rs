//! Parameters on the host: the exchange format between devices, files and reference code.

/// Per layer: weight row-major [fan_in, fan_out] (so a row vector x maps to x W + b), bias [fan_out].
#[derive(Debug, Clone, PartialEq)]
pub struct HostParams {
    pub widths: Vec<usize>,
    pub layers: Vec<(Vec<f32>, Vec<f32>)>,
}

impl HostParams {
    /// All parameters as one vector: layer by layer, weight then bias.
    pub fn flatten(&self) -> Vec<f32> {
        let mut v = Vec::with_capacity(self.layers.iter().map(|(w, b)| w.len() + b.len()).sum());
        for (w, b) in &self.layers {
            v.extend_from_slice(w);
            v.extend_from_slice(b);
        }
        v
    }
}
