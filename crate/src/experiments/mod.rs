//! One file per preset that reproduces a paper figure: its config, its run, its result type and
//! its `Preset` implementation (preset.rs), listed once in registry.rs. A run reports progress
//! through a `Reporter`, which may also cancel it.

pub mod alignment_track;
pub mod fig1a_landscape;
pub mod fig2_variance_flatness;
pub mod fig4_variance_hessian;
pub mod fig6_alignment;
pub mod hessian_span;
pub mod landscape_pair;
pub mod momentum_mlp;
pub mod noise_run;
pub mod p000_fig1b_vgg;
pub mod p000_fig1c_resnet;
pub mod p000_resnet_noise;
pub mod p001_fig3_cosine;
pub mod p001_sme_dynamics;
pub mod p001_sme_order;
pub mod p001_sme_paths;
pub mod p002_complexity_table;
pub mod p002_fig2_volume;
pub mod p002_fig3_volume_rate;
pub mod p002_fig4_noise;
pub mod p002_trained_net;
pub mod p002_vgg_volume;
pub mod p003_explicit_implicit;
pub mod p004_net_modes;
pub mod p004_table1_modes;
pub mod preset;
pub mod registry;
pub mod schema;
pub mod seeded_runs;

pub use crate::progress::{Reporter, Silent, StagePrefix};
pub use preset::{
    csv_header, csv_rows, opt, to_value, Chart, Info, Inputs, Preset, ResultFile, Scale,
    StartWeights, Visitor,
};
pub use schema::Field;

use crate::error::{LabError, LabResult};
use crate::train::Trainer;

/// Run a trainer to its end in slices of `slice` steps, reporting "{stage}: training" after each;
/// a reporter that answers false cancels the run.
pub async fn train_to_end(
    trainer: &mut Trainer,
    slice: usize,
    stage: &str,
    reporter: &mut impl Reporter,
) -> LabResult<()> {
    while !trainer.is_done() {
        let p = trainer.run(slice).await?;
        if !reporter
            .report(&format!("{stage}: training"), p.step, p.total_steps)
            .await
        {
            return Err(LabError::Cancelled);
        }
    }
    Ok(())
}

/// The data a figure was measured on in its paper: its name and shape.
pub struct PaperData {
    pub name: &'static str,
    pub dim: usize,
    pub classes: usize,
}

pub const CIFAR10: PaperData = PaperData {
    name: "CIFAR-10",
    dim: 3072,
    classes: 10,
};

pub const CIFAR100: PaperData = PaperData {
    name: "CIFAR-100",
    dim: 3072,
    classes: 100,
};

/// A sentence for a result run on other data than its paper's (recognised by the shape: features
/// per example and classes), or None on the paper's data.
pub fn not_the_papers_data(inputs: &Inputs<'_>, paper: &PaperData) -> Option<String> {
    let (d, c) = (inputs.train.dim, inputs.train.classes);
    (d != paper.dim || c != paper.classes).then(|| {
        format!(
            "data: {} ({c} classes, {d} features per image), not the paper's {}: load {} for \
             the paper's setting",
            inputs.dataset, paper.name, paper.name
        )
    })
}
