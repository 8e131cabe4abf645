//! `lab_matmul` on wgpu devices: launches `matmul.wgsl` on the operands' buffers as they lie
//! (strided and broadcast views read in place). What the kernel does not take (other dtypes,
//! empty products, indices past u32, more than 65 535 workgroups a side) goes to burn's matmul.

use burn::backend::ops::FloatTensorOps;
use burn::backend::wgpu::{
    into_contiguous, CubeBackend, CubeTensor, KernelSource, SourceKernel, SourceTemplate,
};
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Shape};

use super::matmul::product_shape;
use super::LabMatmul;

/// Rows and columns of C one workgroup computes (matmul.wgsl).
const TILE: usize = 64;
/// WebGPU's guaranteed `maxComputeWorkgroupsPerDimension`.
const MAX_GROUPS: usize = 65_535;

struct MatmulKernel;

impl KernelSource for MatmulKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(include_str!("matmul.wgsl"))
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>()
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// One operand as the kernel indexes it: a batch of [rows, cols] matrices with element strides.
struct Operand {
    batch: usize,
    rows: usize,
    cols: usize,
    /// Batch, row and column strides; the batch stride is 0 for a single matrix (broadcast).
    strides: [usize; 3],
}

impl Operand {
    /// `None` when the kernel cannot read the tensor: not f32, quantized, not of rank 2 or 3,
    /// or an element index past u32.
    fn of(t: &CubeTensor) -> Option<Operand> {
        if t.dtype != DType::F32 || t.qparams.is_some() {
            return None;
        }
        let (shape, strides) = (t.meta.shape(), t.meta.strides());
        let op = match shape.num_dims() {
            2 => Operand {
                batch: 1,
                rows: shape[0],
                cols: shape[1],
                strides: [0, strides[0], strides[1]],
            },
            3 => Operand {
                batch: shape[0],
                rows: shape[1],
                cols: shape[2],
                strides: [
                    if shape[0] == 1 { 0 } else { strides[0] },
                    strides[1],
                    strides[2],
                ],
            },
            _ => return None,
        };
        let last = [op.batch, op.rows, op.cols]
            .iter()
            .zip(op.strides)
            .map(|(&n, s)| n.saturating_sub(1) * s)
            .sum::<usize>();
        (last < u32::MAX as usize).then_some(op)
    }
}

/// An uninitialised contiguous f32 tensor of `shape` on `like`'s device: a product's output.
pub(super) fn empty_f32(like: &CubeTensor, shape: Shape) -> CubeTensor {
    let bytes = shape.num_elements() * DType::F32.size();
    CubeTensor::new_contiguous(
        like.client.clone(),
        like.device.clone(),
        shape,
        like.client.empty(bytes),
        DType::F32,
    )
}

impl LabMatmul for CubeBackend {
    fn lab_matmul(lhs: CubeTensor, rhs: CubeTensor) -> CubeTensor {
        // A storage-tiled tensor's strides order tiles, not rows: lay it out as rows first.
        let untile = |t: CubeTensor| {
            if t.meta.is_tiled() {
                into_contiguous(t)
            } else {
                t
            }
        };
        let (lhs, rhs) = (untile(lhs), untile(rhs));
        let rank = lhs.meta.shape().num_dims();
        let (Some(a), Some(b)) = (Operand::of(&lhs), Operand::of(&rhs)) else {
            return Self::float_matmul(lhs, rhs);
        };
        let batch = a.batch.max(b.batch);
        let (m, n, k) = (a.rows, b.cols, a.cols);
        let launchable = rank == rhs.meta.shape().num_dims()
            && (a.batch == b.batch || a.batch == 1 || b.batch == 1)
            && m.div_ceil(TILE) <= MAX_GROUPS
            && n.div_ceil(TILE) <= MAX_GROUPS
            && batch <= MAX_GROUPS
            && batch * m * n < u32::MAX as usize;
        if !launchable || m == 0 || n == 0 || k == 0 {
            return Self::float_matmul(lhs, rhs);
        }
        lhs.assert_is_on_same_device(&rhs);
        let client = lhs.client.clone();
        let output = empty_f32(&lhs, product_shape(lhs.meta.shape(), rhs.meta.shape()));
        let info: Vec<u8> = [
            m,
            n,
            k,
            a.strides[1],
            a.strides[2],
            b.strides[1],
            b.strides[2],
            a.strides[0],
            b.strides[0],
        ]
        .iter()
        .flat_map(|&v| (v as u32).to_le_bytes())
        .collect();
        let info = client.create_from_slice(&info);
        client.launch(
            Box::new(SourceKernel::new(MatmulKernel, CubeDim::new_2d(8, 8))),
            CubeCount::Static(
                n.div_ceil(TILE) as u32,
                m.div_ceil(TILE) as u32,
                batch as u32,
            ),
            KernelArguments::new().with_buffers(vec![
                lhs.handle.binding(),
                rhs.handle.binding(),
                output.handle.clone().binding(),
                info.binding(),
            ]),
        );
        output
    }
}
