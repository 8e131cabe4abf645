//! `lab_matmul` on wgpu devices: launches `matmul.wgsl` on the operands' buffers as they lie
//! (strided and broadcast views read in place). What the kernel does not take (other dtypes,
//! empty products, indices past u32, more than 65 535 workgroups a side) goes to burn's matmul.

use burn::backend::ops::FloatTensorOps;
use burn::backend::wgpu::{into_contiguous, CubeBackend, CubeTensor, SourceKernel};
use burn::backend::Scalar;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Shape};

use super::matmul::product_shape;
use super::wgsl::{MATMUL, MATMUL_NARROW};
use super::LabMatmul;

/// Rows and columns of C one workgroup computes (matmul.wgsl).
pub(super) const TILE: usize = 64;
/// Rows of C one workgroup of matmul_narrow.wgsl computes (and 64 columns).
const NARROW_TILE: usize = 16;
/// Products with at most this many rows use matmul_narrow.wgsl: a 64-row tile would spend
/// most of its work on rows that do not exist. On SwiftShader a [16, 144] x [144, 1024] batch
/// of 128 (ResNet-20's first stage through im2col) took 552 ms against the 64-row tile's 882;
/// at 32 rows the two were even (402 and 392 ms), so only up to 16 rows.
const NARROW_MAX_ROWS: usize = 16;
/// WebGPU's guaranteed `maxComputeWorkgroupsPerDimension`.
pub(super) const MAX_GROUPS: usize = 65_535;

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

/// How a launch treats the batch: one product per entry, or the entries summed into `parts`
/// partial products (C_z = Σ_j A_j B_j over consecutive runs of entries; a convolution's weight
/// gradient sums over its images, and splitting the sum keeps enough workgroups busy).
#[derive(Clone, Copy)]
pub(super) enum Batch {
    Each,
    Sum { parts: usize },
}

/// `matmul.wgsl` on the operands as they lie, or `None` when the kernel cannot take them (see
/// the module doc); the output is contiguous [batch or parts, m, n].
pub(super) fn launch(lhs: &CubeTensor, rhs: &CubeTensor, mode: Batch) -> Option<CubeTensor> {
    let rank = lhs.meta.shape().num_dims();
    let (a, b) = (Operand::of(lhs)?, Operand::of(rhs)?);
    // Chrome refuses one allocation bound to two writable bindings, and every binding of the
    // kernel is read_write (matmul_common.wgsl says why): a product of a tensor with itself or
    // its own transpose (K-FAC's XᵀX) reads a copy of its right operand.
    let copy;
    let rhs = if lhs.handle.memory.descriptor() == rhs.handle.memory.descriptor() {
        copy = CubeBackend::float_mul_scalar(rhs.clone(), Scalar::from(1.0f32));
        &copy
    } else {
        rhs
    };
    let batch = a.batch.max(b.batch);
    let (m, n, k) = (a.rows, b.cols, a.cols);
    let (sums, groups) = match mode {
        Batch::Each => (1, batch),
        Batch::Sum { parts } => {
            let sums = batch.div_ceil(parts.clamp(1, batch.max(1)));
            (sums, batch.div_ceil(sums))
        }
    };
    let launchable = rank == rhs.meta.shape().num_dims()
        && (a.batch == b.batch || a.batch == 1 || b.batch == 1)
        && m.div_ceil(TILE) <= MAX_GROUPS
        && n.div_ceil(TILE) <= MAX_GROUPS
        && groups <= MAX_GROUPS
        && groups * m * n < u32::MAX as usize;
    if !launchable || m == 0 || n == 0 || k == 0 || batch == 0 {
        return None;
    }
    lhs.assert_is_on_same_device(rhs);
    let (kernel, rows) = match m <= NARROW_MAX_ROWS {
        true => (MATMUL_NARROW, NARROW_TILE),
        false => (MATMUL, TILE),
    };
    let client = lhs.client.clone();
    let mut shape = product_shape(lhs.meta.shape(), rhs.meta.shape());
    if rank == 3 {
        shape[0] = groups;
    }
    let output = empty_f32(lhs, shape);
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
        sums,
        batch,
    ]
    .iter()
    .flat_map(|&v| (v as u32).to_le_bytes())
    .collect();
    let info = client.create_from_slice(&info);
    client.launch(
        Box::new(SourceKernel::new(kernel, CubeDim::new_2d(8, 8))),
        CubeCount::Static(
            n.div_ceil(TILE) as u32,
            m.div_ceil(rows) as u32,
            groups as u32,
        ),
        KernelArguments::new().with_buffers(vec![
            lhs.handle.clone().binding(),
            rhs.handle.clone().binding(),
            output.handle.clone().binding(),
            info.binding(),
        ]),
    );
    Some(output)
}

/// A storage-tiled tensor's strides order tiles, not rows: lay it out as rows first.
pub(super) fn untile(t: CubeTensor) -> CubeTensor {
    if t.meta.is_tiled() {
        into_contiguous(t)
    } else {
        t
    }
}

impl LabMatmul for CubeBackend {
    fn lab_matmul(lhs: CubeTensor, rhs: CubeTensor) -> CubeTensor {
        let (lhs, rhs) = (untile(lhs), untile(rhs));
        match launch(&lhs, &rhs, Batch::Each) {
            Some(out) => out,
            None => Self::float_matmul(lhs, rhs),
        }
    }
}
