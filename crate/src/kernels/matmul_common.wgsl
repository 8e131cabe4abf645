// What matmul.wgsl and matmul_narrow.wgsl share; each kernel is this file followed by its own
// (WGSL module-scope declarations may come in any order): the bindings, the info layout, the
// bounds-checked loads and the uniform loop bounds.
//
// Every buffer is read_write, the inputs too: burn's allocator packs tensors into shared
// buffers, and one buffer bound both read-only and writable in a dispatch is a validation error
// (native wgpu on Vulkan raised it on the lab's first product).
//
// info: m, n, k, A's row and depth strides, B's depth and column strides, A's and B's batch
// strides, then `sums` and `batch`: workgroup z writes C_z = sum of A_j B_j over the `sums`
// entries j = z * sums .. (z + 1) * sums - 1 below `batch` (sums = 1: one product per entry; more:
// a batch summed into a few partial products, as a convolution's weight gradient needs). C is
// contiguous [batch / sums rounded up, m, n].
@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;

var<workgroup> bounds: vec3<u32>;

struct Dims {
  m: u32, n: u32, k: u32, a_row: u32, a_depth: u32, b_depth: u32, b_col: u32, a_base: u32, b_base: u32,
}

// Read from `info` once per invocation: the loads below run thousands of times per workgroup.
var<private> dims: Dims;

fn at_a(r: u32, k: u32) -> f32 {
  if (r < dims.m && k < dims.k) { return a[dims.a_base + r * dims.a_row + k * dims.a_depth]; }
  return 0.0;
}

fn at_b(k: u32, col: u32) -> f32 {
  if (k < dims.k && col < dims.n) { return b[dims.b_base + k * dims.b_depth + col * dims.b_col]; }
  return 0.0;
}

// Sets `dims` and returns (depth, sums, batch) as values WGSL's uniformity analysis accepts for
// the loops around the barriers (a read_write buffer's are not): one invocation loads them and
// workgroupUniformLoad hands them to all. Call it first, from every invocation.
fn start(lid: vec3<u32>) -> vec3<u32> {
  dims = Dims(info[0], info[1], info[2], info[3], info[4], info[5], info[6], 0u, 0u);
  if (lid.x == 0u && lid.y == 0u) {
    bounds = vec3<u32>(info[2], info[9], info[10]);
  }
  return workgroupUniformLoad(&bounds);
}
