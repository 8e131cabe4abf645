//! Every preset, listed once. The CLI, the wasm surface and the tests reach a preset only through
//! `visit` (by id) and `IDS`; adding a figure adds one line here.

use super::fig1a_landscape::Fig1a;
use super::fig2_variance_flatness::Fig2;
use super::fig4_variance_hessian::Fig4;
use super::fig6_alignment::Fig6;
use super::p000_fig1b_vgg::Fig1b;
use super::p000_fig1c_resnet::Fig1c;
use super::p000_resnet_noise::ResnetNoise;
use super::p001_fig3_cosine::Cosine;
use super::p001_sme_order::SmeOrder;
use super::p001_sme_paths::{SmeLoss, SmeTest};
use super::p002_complexity_table::Complexity;
use super::p002_fig2_volume::Volume;
use super::p002_fig3_volume_rate::VolumeRate;
use super::p002_fig4_noise::Noise;
use super::p002_vgg_volume::VggVolume;
use super::p003_explicit_implicit::Split;
use super::p004_net_modes::{NetModes, Table1, Table2, Table3};
use super::p004_table1_modes::Modes;
use super::preset::{catalogue_entry, CatalogueEntry, Preset, Visitor};
use crate::error::{LabError, LabResult};

macro_rules! registry {
    ($($preset:ty),* $(,)?) => {
        /// The presets' ids in gallery order.
        pub fn ids() -> Vec<&'static str> {
            vec![$(<$preset as Preset>::info().id),*]
        }

        /// Call `visitor` with the preset `id` names.
        pub fn visit<V: Visitor>(id: &str, visitor: V) -> LabResult<V::Out> {
            $(
                if id == <$preset as Preset>::info().id {
                    return Ok(visitor.visit::<$preset>());
                }
            )*
            Err(LabError::Config(format!(
                "unknown preset `{id}` (known: {})",
                ids().join(", ")
            )))
        }
    };
}

registry!(
    Fig1a,
    Fig1b,
    Fig1c,
    Fig2,
    Fig4,
    ResnetNoise,
    Fig6,
    Cosine,
    SmeLoss,
    SmeOrder,
    SmeTest,
    Volume,
    VolumeRate,
    VggVolume,
    Complexity,
    Noise,
    Modes,
    NetModes<Table1>,
    NetModes<Table2>,
    NetModes<Table3>,
    Split
);

struct Entry;
impl Visitor for Entry {
    type Out = CatalogueEntry;
    fn visit<P: Preset>(self) -> CatalogueEntry {
        catalogue_entry::<P>()
    }
}

/// Every preset's card and form, in gallery order.
pub fn catalogue() -> Vec<CatalogueEntry> {
    ids()
        .into_iter()
        .map(|id| visit(id, Entry).expect("registered ids visit"))
        .collect()
}
