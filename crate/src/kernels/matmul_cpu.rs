//! `lab_matmul` on the native CPU backend: the same `gemm` call burn's CPU backend makes, on all
//! cores. burn-flex threads its gemm only with its `rayon` feature, which also threads its
//! reductions through `par_chunks(..).sum()`, whose summation tree follows rayon's work stealing
//! (so the same seed could give different last bits); the lab keeps that feature off and threads
//! only the products, here.
//!
//! Why the bits do not depend on the thread count: gemm splits C into (mc x nr) tiles and hands
//! whole tiles to threads; each element's k-sum is one microkernel's chain over kc-blocks in
//! order, with kc chosen from k and the cache sizes, never from the thread count. Batched
//! products with small matrices run one whole matrix per thread. Tested: equal bit for bit to
//! burn's single-threaded matmul with 1, 2 and 3 threads (tests/kernels.rs).

use std::mem::MaybeUninit;

use burn::backend::flex::{FlexTensor, Layout};
use burn::tensor::{Bytes, DType};
use rayon::prelude::*;

use super::matmul::product_shape;

/// Multiply-adds below which one thread is faster than waking others. burn-flex threads from
/// 192³ (7.1 M); the HVP pass's hidden-layer products ([2048, 50] x [50, 50], 5.1 M) gained
/// from threads too: one exact HVP of 784-50-50-10 on 10000 rows took 25.0-32.0 ms (median
/// 26.8, five runs) at 2²⁰ against 29.0-31.5 (median 31.1) at 192³, alternating, 2 cores.
const THREAD_MIN_OPS: usize = 1 << 20;

/// One operand of the product: element strides of the batch, rows and columns.
struct Strides {
    batch: isize,
    row: isize,
    col: isize,
    offset: usize,
}

impl Strides {
    fn of(t: &FlexTensor) -> Strides {
        let layout = t.layout();
        let s = layout.strides();
        let r = s.len();
        let dims = layout.shape();
        Strides {
            // A batch dimension of 1 is broadcast against the other operand's.
            batch: if r == 3 && dims[0] > 1 { s[0] } else { 0 },
            row: s[r - 2],
            col: s[r - 1],
            offset: layout.start_offset(),
        }
    }
}

/// C = A B for f32 operands of rank 2 or 3 (burn's `float_matmul` semantics), threaded; None for
/// what it does not take (other dtypes, empty products), which the caller hands to burn.
pub(super) fn threaded_f32(lhs: &FlexTensor, rhs: &FlexTensor) -> Option<FlexTensor> {
    if lhs.dtype() != DType::F32 || rhs.dtype() != DType::F32 {
        return None;
    }
    let (a, b) = (lhs.layout().shape(), rhs.layout().shape());
    let r = a.num_dims();
    if !(r == 2 || r == 3) || b.num_dims() != r {
        return None;
    }
    let (m, k, n) = (a[r - 2], a[r - 1], b[r - 1]);
    let empty_batch = r == 3 && (a[0] == 0 || b[0] == 0);
    if m == 0 || n == 0 || k == 0 || empty_batch {
        return None;
    }
    // `kernels::matmul` checked the batches: equal, or one of them 1.
    let shape = product_shape(a, b);
    let batch = if r == 3 { shape[0] } else { 1 };
    let len = shape.num_elements();
    let (sa, sb) = (Strides::of(lhs), Strides::of(rhs));
    let (da, db) = (lhs.storage::<f32>(), rhs.storage::<f32>());
    let per_matrix = m.saturating_mul(n).saturating_mul(k);
    let one = |c: &mut [MaybeUninit<f32>], z: usize, parallelism: gemm::Parallelism| {
        // SAFETY: `c` is one [m, n] row-major matrix, written and never read (`read_dst` false);
        // the operand offsets and strides are those of their Flex layouts, which address
        // elements inside their storage for every index below their shapes (burn's own matmul
        // reads them the same way).
        unsafe {
            let pa = da
                .as_ptr()
                .offset(sa.offset as isize + z as isize * sa.batch);
            let pb = db
                .as_ptr()
                .offset(sb.offset as isize + z as isize * sb.batch);
            gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr().cast::<f32>(),
                1,
                n as isize,
                false,
                pa,
                sa.col,
                sa.row,
                pb,
                sb.col,
                sb.row,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                parallelism,
            );
        }
    };
    // The product is written into uninitialised memory: gemm with `read_dst` false overwrites
    // every element of C before it reads any. `FlexTensor::empty` zeroes a byte vector and then
    // copies it into an aligned one (cubecl's `Bytes::from_bytes_vec`): two more passes over C
    // and a second allocation, whose first touches were 8.6% of `bench-hessian`'s `perf` samples.
    let mut c = Vec::<f32>::with_capacity(len);
    let uninit = &mut c.spare_capacity_mut()[..len];
    let small_batch = per_matrix < THREAD_MIN_OPS
        && batch > 1
        && batch.saturating_mul(per_matrix) >= THREAD_MIN_OPS;
    if small_batch {
        uninit
            .par_chunks_mut(m * n)
            .enumerate()
            .for_each(|(z, cz)| one(cz, z, gemm::Parallelism::None));
    } else {
        let parallelism = if per_matrix >= THREAD_MIN_OPS {
            gemm::Parallelism::Rayon(0)
        } else {
            gemm::Parallelism::None
        };
        for (z, cz) in uninit.chunks_mut(m * n).enumerate() {
            one(cz, z, parallelism);
        }
    }
    // SAFETY: the loops above gave every one of the `len` elements to gemm, which wrote it.
    unsafe { c.set_len(len) };
    Some(FlexTensor::new(
        Bytes::from_elems(c),
        Layout::contiguous(shape),
        DType::F32,
    ))
}
