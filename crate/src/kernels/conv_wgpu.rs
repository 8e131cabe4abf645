//! `lab_conv2d` and its gradients on wgpu devices, as im2col products through `matmul.wgsl`:
//!   forward   cols = im2col(x) [n, c·kh·kw, ho·wo];  z_b = W cols_b      (W as [out, c·kh·kw])
//!   ∂x        ∂x = col2im(Wᵀ ∂z_b)                  (col2im: the adjoint of im2col)
//!   ∂W        ∂W = Σ_b ∂z_b cols_bᵀ                 (the batch summed inside the kernel)
//! z_b = W cols_b is already [out, ho·wo] per image, NCHW as the network holds it: no transposes.
//! The images go through in chunks whose im2col buffer stays under `COLS_CAP` entries, so an
//! evaluation over thousands of images needs no more memory than a training batch. Other dtypes
//! and shapes past the kernels' u32 indices go to burn's convolution, as do convolutions with
//! fewer than `MIN_CHANNELS` output channels (measured slower through im2col, see there).

use burn::backend::ops::{FloatTensorOps, ModuleOps};
use burn::backend::wgpu::{into_contiguous, CubeBackend, CubeTensor, SourceKernel};
use burn::cubecl::server::{BufferBinding, KernelArguments};
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Shape, Slice};

use super::conv::{options, out_side};
use super::matmul_wgpu::{empty_f32, launch, untile, Batch, MAX_GROUPS, TILE};
use super::wgsl::{Wgsl, COL2IM, IM2COL};
use super::LabConv;

/// Convolutions with fewer output channels stay with burn's direct kernel: a product with few
/// rows reads the whole im2col matrix for little arithmetic. On SwiftShader (`conv_layers` in
/// the bench JSON, batch 128, forward and both gradients), through im2col against burn's
/// kernel: ResNet-20's 16-channel layers 4.0 s (3.2 with the 16-row matmul) against 1.8, its
/// 32-channel ones 1.8 against 1.5, ConvNet-Quick's first (32 channels, 5x5 over 3) 2.6 against
/// 3.3, LeNet's 50-channel layer 0.74 against 1.23, ResNet-20's 64-channel ones 0.92 against 1.29.
const MIN_CHANNELS: usize = 48;
/// Entries of one im2col buffer (64 MiB of f32): below WebGPU's default 128 MiB binding limit.
const COLS_CAP: usize = 1 << 24;
/// Workgroups the weight gradient's product should keep busy: its output [out, c·kh·kw] is
/// small (LeNet's first layer: one 64x64 tile), so the batch sum is split into this many
/// partial products over the tiles, added afterwards.
const WGRAD_GROUPS: usize = 128;

/// The convolution's sizes, when the kernels can run it.
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    out: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    padding: usize,
    ho: usize,
    wo: usize,
    /// Images per chunk.
    chunk: usize,
}

impl Geometry {
    fn of(x: &CubeTensor, w: &CubeTensor, stride: usize, padding: usize) -> Option<Geometry> {
        let f32_plain = |t: &CubeTensor| t.dtype == DType::F32 && t.qparams.is_none();
        let (xs, ws) = (x.meta.shape(), w.meta.shape());
        if !f32_plain(x) || !f32_plain(w) || xs.num_dims() != 4 || ws.num_dims() != 4 {
            return None;
        }
        let [n, c, h, wd] = [xs[0], xs[1], xs[2], xs[3]];
        let [out, _, kh, kw] = [ws[0], ws[1], ws[2], ws[3]];
        let (ho, wo) = (
            out_side(h, kh, stride, padding),
            out_side(wd, kw, stride, padding),
        );
        let per_image = c * kh * kw * ho * wo;
        let fits = n > 0
            && out >= MIN_CHANNELS
            && per_image > 0
            && per_image <= COLS_CAP
            && n * c * h * wd < u32::MAX as usize
            && n * out * ho * wo < u32::MAX as usize
            && c <= MAX_GROUPS
            && out.div_ceil(TILE) <= MAX_GROUPS
            && (ho * wo).max(c * kh * kw).div_ceil(TILE) <= MAX_GROUPS;
        fits.then(|| Geometry {
            n,
            c,
            h,
            w: wd,
            out,
            kh,
            kw,
            stride,
            padding,
            ho,
            wo,
            // The index kernels' workgroup z counts (image, channel) pairs.
            chunk: (COLS_CAP / per_image).min(MAX_GROUPS / c).max(1),
        })
    }

    fn taps(&self) -> usize {
        self.c * self.kh * self.kw
    }

    fn pixels(&self) -> usize {
        self.ho * self.wo
    }

    /// (first image, images) of each chunk, as even as the chunk cap allows.
    fn chunks(&self) -> Vec<(usize, usize)> {
        let count = self.n.div_ceil(self.chunk);
        let size = self.n.div_ceil(count);
        (0..count)
            .map(|i| (i * size, size.min(self.n - i * size)))
            .filter(|&(_, len)| len > 0)
            .collect()
    }

    /// The sizes both index kernels read first.
    fn head(&self, images: usize) -> [usize; 10] {
        [
            images,
            self.c,
            self.h,
            self.w,
            self.kh,
            self.kw,
            self.stride,
            self.padding,
            self.ho,
            self.wo,
        ]
    }
}

/// One invocation per pixel of a `width` x `height` plane, 8x8 per workgroup, for each of `planes`
/// (image, channel) pairs (workgroup z).
fn launch_planes(
    like: &CubeTensor,
    kernel: Wgsl,
    [width, height, planes]: [usize; 3],
    mut buffers: Vec<BufferBinding>,
    info: Vec<usize>,
) {
    let bytes: Vec<u8> = info
        .iter()
        .flat_map(|&v| (v as u32).to_le_bytes())
        .collect();
    buffers.push(like.client.create_from_slice(&bytes).binding());
    like.client.launch(
        Box::new(SourceKernel::new(kernel, CubeDim::new_2d(8, 8))),
        CubeCount::Static(
            width.div_ceil(8) as u32,
            height.div_ceil(8) as u32,
            planes as u32,
        ),
        KernelArguments::new().with_buffers(buffers),
    );
}

/// cols [images, c·kh·kw, ho·wo] of images first .. first + images − 1 of x.
fn im2col(x: &CubeTensor, g: &Geometry, first: usize, images: usize) -> CubeTensor {
    let cols = empty_f32(x, Shape::new([images, g.taps(), g.pixels()]));
    let s = x.meta.strides();
    let mut info = g.head(images).to_vec();
    info.extend([s[0], s[1], s[2], s[3], first]);
    let buffers = vec![x.handle.clone().binding(), cols.handle.clone().binding()];
    launch_planes(x, IM2COL, [g.wo, g.ho, images * g.c], buffers, info);
    cols
}

/// ∂x [images, c, h, w] from ∂cols [images, c·kh·kw, ho·wo] (contiguous).
fn col2im(dcols: &CubeTensor, g: &Geometry, images: usize) -> CubeTensor {
    let dx = empty_f32(dcols, Shape::new([images, g.c, g.h, g.w]));
    let buffers = vec![dcols.handle.clone().binding(), dx.handle.clone().binding()];
    let info = g.head(images).to_vec();
    launch_planes(dcols, COL2IM, [g.w, g.h, images * g.c], buffers, info);
    dx
}

/// Images first .. first + len − 1 of a batch (a view, no copy).
fn images(t: &CubeTensor, first: usize, len: usize) -> CubeTensor {
    if first == 0 && len == t.meta.shape()[0] {
        return t.clone();
    }
    let mut slices = vec![Slice::new(first as isize, Some((first + len) as isize), 1)];
    slices.extend((1..t.meta.shape().num_dims()).map(|_| Slice::new(0, None, 1)));
    CubeBackend::float_slice(t.clone(), &slices)
}

/// All chunks' outputs as one batch.
fn join(parts: Vec<CubeTensor>) -> CubeTensor {
    if parts.len() == 1 {
        return parts.into_iter().next().expect("one part");
    }
    CubeBackend::float_cat(parts, 0)
}

/// W [out, c, kh, kw] as the batch-of-one matrix [1, out, c·kh·kw].
fn weight_matrix(w: CubeTensor, g: &Geometry) -> CubeTensor {
    CubeBackend::float_reshape(into_contiguous(w), Shape::new([1, g.out, g.taps()]))
}

/// ∂z [n, out, ho, wo] as [n, out, ho·wo].
fn grad_matrix(grad: CubeTensor, g: &Geometry) -> CubeTensor {
    CubeBackend::float_reshape(untile(grad), Shape::new([g.n, g.out, g.pixels()]))
}

/// The product, or burn's matmul where the kernel refuses the operands (never for the shapes
/// `Geometry::of` admits; kept so that a refusal costs speed, not correctness).
fn product(lhs: &CubeTensor, rhs: &CubeTensor) -> CubeTensor {
    launch(lhs, rhs, Batch::Each)
        .unwrap_or_else(|| CubeBackend::float_matmul(lhs.clone(), rhs.clone()))
}

impl LabConv for CubeBackend {
    fn lab_conv2d(x: CubeTensor, w: CubeTensor, stride: usize, padding: usize) -> CubeTensor {
        let (x, w) = (untile(x), untile(w));
        let Some(g) = Geometry::of(&x, &w, stride, padding) else {
            return Self::conv2d(x, w, None, options(stride, padding));
        };
        let wm = weight_matrix(w, &g);
        let parts = g
            .chunks()
            .into_iter()
            .map(|(first, len)| product(&wm, &im2col(&x, &g, first, len)))
            .collect();
        Self::float_reshape(join(parts), Shape::new([g.n, g.out, g.ho, g.wo]))
    }

    fn lab_conv2d_x_backward(
        x: CubeTensor,
        w: CubeTensor,
        grad: CubeTensor,
        stride: usize,
        padding: usize,
    ) -> CubeTensor {
        let (x, w) = (untile(x), untile(w));
        let Some(g) = Geometry::of(&x, &w, stride, padding) else {
            return Self::conv2d_x_backward(x, w, grad, options(stride, padding));
        };
        let wt = Self::float_swap_dims(weight_matrix(w, &g), 1, 2);
        let dz = grad_matrix(grad, &g);
        let parts = g
            .chunks()
            .into_iter()
            .map(|(first, len)| {
                let dcols = product(&wt, &images(&dz, first, len));
                col2im(&dcols, &g, len)
            })
            .collect();
        join(parts)
    }

    fn lab_conv2d_weight_backward(
        x: CubeTensor,
        w: CubeTensor,
        grad: CubeTensor,
        stride: usize,
        padding: usize,
    ) -> CubeTensor {
        let (x, w) = (untile(x), untile(w));
        let Some(g) = Geometry::of(&x, &w, stride, padding) else {
            return Self::conv2d_weight_backward(x, w, grad, options(stride, padding));
        };
        let shape = w.meta.shape().clone();
        let dz = grad_matrix(grad, &g);
        let tiles = g.out.div_ceil(TILE) * g.taps().div_ceil(TILE);
        let mut total: Option<CubeTensor> = None;
        for (first, len) in g.chunks() {
            let cols_t = Self::float_swap_dims(im2col(&x, &g, first, len), 1, 2);
            let dz = images(&dz, first, len);
            let parts = WGRAD_GROUPS.div_ceil(tiles).clamp(1, len);
            let partial = launch(&dz, &cols_t, Batch::Sum { parts }).unwrap_or_else(|| {
                Self::float_sum_dim(Self::float_matmul(dz.clone(), cols_t.clone()), 0)
            });
            let sum = match parts {
                1 => partial,
                _ => Self::float_sum_dim(partial, 0),
            };
            total = Some(match total {
                Some(t) => Self::float_add(t, sum),
                None => sum,
            });
        }
        Self::float_reshape(total.expect("at least one image"), shape)
    }
}
