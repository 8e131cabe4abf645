//! Charts of result types, drawn with plotters onto any `DrawingBackend`: a canvas in the page,
//! SVG natively. The same code draws in both places.

pub mod alignment;
pub mod complexity_table;
pub mod curves;
pub mod explicit_implicit;
pub mod landscape;
pub mod modes_table;
pub mod noise_fig4;
pub mod scatter;
pub mod sme_order;
pub mod sme_paths;
pub mod update_heatmap;
pub mod variance_hessian;
pub mod volume;
pub mod volume_rate;

pub use alignment::{draw_cosine, draw_fig6};
pub use complexity_table::draw_complexity_table;
pub use curves::{draw_history, Metric};
pub use explicit_implicit::draw_explicit_implicit;
pub use landscape::{draw_fig1a, draw_net_landscape_of};
pub use modes_table::{draw_modes_table, draw_modes_view};
pub use noise_fig4::draw_noise_fig4;
pub use scatter::{draw_fig2, draw_flatness_panels};
pub use sme_order::draw_sme_order;
pub use sme_paths::{draw_sme_loss, draw_sme_test};
pub use variance_hessian::{draw_fig4, draw_variance_panels};
pub use volume::draw_volume;
pub use volume_rate::{draw_vgg_volume, draw_volume_rate};
