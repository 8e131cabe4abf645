//! Which parameters the curvature presets take H and the noise over: paper 000 Sec. 3.4.2 and 3.5
//! define H and Σ over all parameters, while its experiments (Fig. 4, Fig. 6: "D = 2500") and
//! paper 001's Fig. 3 ("we limit the trace calculation to a subset of parameters") use the weight
//! block between the two hidden layers. The block is the experiments' reading and the default;
//! `full` is the definitions' reading, where it is affordable: matrix-free products over every
//! parameter, and for spectra a Lanczos top-k instead of a dense eigendecomposition.

use serde::{Deserialize, Serialize};

use crate::analysis::analysed::{describe_params, Params};
use crate::analysis::hessian::Span;
use crate::analysis::noise::Block;
use crate::error::LabResult;
use crate::model::ModelConfig;

/// The parameters a result's H and noise were taken over, as measured on its network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamsInfo {
    /// "block: layer 1 weights, D = 2500", "block: layers.3.weight [50, 20, 5, 5], D = 25000".
    pub label: String,
    /// D, the number of parameters.
    pub dim: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HessianSpan {
    /// The weight matrix of `block_layer` (the papers' experiments).
    #[default]
    Block,
    /// Every weight and bias (the papers' definitions).
    Full,
}

impl HessianSpan {
    pub fn span(self, block_layer: usize) -> Span {
        match self {
            HessianSpan::Block => Span::Block(Block { layer: block_layer }),
            HessianSpan::Full => Span::All,
        }
    }

    /// The parameters of any network: weight tensor `block` (for an MLP the matrix of layer
    /// `block`), or all of them.
    pub fn params(self, block: usize) -> Params {
        match self {
            HessianSpan::Block => Params::Weight(block),
            HessianSpan::Full => Params::All,
        }
    }

    /// The word of a CSV header.
    pub fn word(self) -> &'static str {
        match self {
            HessianSpan::Block => "block",
            HessianSpan::Full => "full",
        }
    }

    /// For chart titles and summaries: which parameters, and how many.
    pub fn describe(self, widths: &[usize], block_layer: usize) -> String {
        let d = self.span(block_layer).dim(widths);
        match self {
            HessianSpan::Block => format!("block: layer {block_layer} weights, D = {d}"),
            HessianSpan::Full => format!("all parameters, D = {d}"),
        }
    }

    /// The parameters the span covers on `model` (block: its weight tensor `block`) for data of
    /// `dim` features and `classes` classes: "block: layer 1 weights, D = 2500" for an MLP,
    /// "block: layers.3.weight [50, 20, 5, 5], D = 25000" on a named architecture. An error
    /// names a block the network lacks.
    pub fn parameters_of(
        self,
        model: &ModelConfig,
        block: usize,
        dim: usize,
        classes: usize,
    ) -> LabResult<ParamsInfo> {
        match model.mlp() {
            Some(m) => {
                Block { layer: block }.validate(m)?;
                Ok(self.mlp_parameters(&m.widths, block))
            }
            None => {
                let specs = model.build(dim, classes)?.params()?;
                let (label, dim) = describe_params(&specs, self.params(block))?;
                Ok(ParamsInfo { label, dim })
            }
        }
    }

    /// The parameters of an MLP of `widths`, also what a result written before results named
    /// their parameters covered.
    pub fn mlp_parameters(self, widths: &[usize], block: usize) -> ParamsInfo {
        ParamsInfo {
            label: self.describe(widths, block),
            dim: self.span(block).dim(widths),
        }
    }

    /// For CSV headers: `span=block|full` and the parameter count `D`.
    pub fn csv_cells(self, widths: &[usize], block_layer: usize) -> [(&'static str, String); 2] {
        let word = match self {
            HessianSpan::Block => "block",
            HessianSpan::Full => "full",
        };
        let d = self.span(block_layer).dim(widths);
        [("span", word.to_string()), ("D", d.to_string())]
    }

    /// The form's switch, shared by Fig 4, Fig 6 and 001 Fig 3.
    pub fn field() -> super::Field {
        use super::schema::{Choice, Field};
        Field::choice(
            "span",
            "Parameters of H and Σ",
            vec![
                Choice::of(
                    &HessianSpan::Block,
                    "one weight block (the papers' experiments)",
                ),
                Choice::of(
                    &HessianSpan::Full,
                    "all parameters (the papers' definitions)",
                ),
            ],
        )
        .help("paper 000 Sec. 3.4.2 defines H over all parameters; its figures use D = 2500")
        .advanced()
    }
}
