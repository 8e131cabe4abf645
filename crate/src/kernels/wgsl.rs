//! The lab's WGSL kernels as burn `KernelSource`s: one type for all of them, told apart in
//! cubecl's compiled-kernel cache by name.

use burn::backend::wgpu::{KernelSource, SourceTemplate};
use burn::cubecl::prelude::KernelId;

/// A kernel's name (its cache key) and its WGSL text.
pub(super) struct Wgsl(pub &'static str, pub &'static str);

pub(super) const MATMUL: Wgsl = Wgsl(
    "matmul",
    concat!(
        include_str!("matmul_common.wgsl"),
        include_str!("matmul.wgsl")
    ),
);
pub(super) const MATMUL_NARROW: Wgsl = Wgsl(
    "matmul_narrow",
    concat!(
        include_str!("matmul_common.wgsl"),
        include_str!("matmul_narrow.wgsl")
    ),
);
pub(super) const IM2COL: Wgsl = Wgsl("im2col", include_str!("im2col.wgsl"));
pub(super) const COL2IM: Wgsl = Wgsl("col2im", include_str!("col2im.wgsl"));

impl KernelSource for Wgsl {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(self.1)
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info(self.0)
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}
