// The benchmark's roofline: a register-blocked WGSL matmul written directly against WebGPU (no
// burn, no subgroup operations), so the lab's GFLOP/s can be read against what the same adapter
// reaches with a well-blocked kernel in the same run. Each workgroup of 8x8 invocations computes
// a 64x64 tile of C = A B with each invocation holding an 8x8 block of it in sixteen vec4 registers
// (named, not an indexed array: a compiler may keep an indexed one in memory); A and B go through
// workgroup memory as vec4s in 64x16 / 16x64 slices. Any shape: out-of-range loads read 0 and
// out-of-range stores are skipped.

const TILE = 64;
const SHADER = /* wgsl */ `
struct Dims { m: u32, n: u32, k: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> dims: Dims;

// [kk * 16 + q]: rows (of A) or columns (of B) 4q..4q+3 at depth kk of the 16-deep slice.
var<workgroup> sa: array<vec4<f32>, 256>;
var<workgroup> sb: array<vec4<f32>, 256>;

fn at_a(r: u32, k: u32) -> f32 {
  if (r < dims.m && k < dims.k) { return a[r * dims.k + k]; }
  return 0.0;
}

fn at_b(k: u32, col: u32) -> f32 {
  if (k < dims.k && col < dims.n) { return b[k * dims.n + col]; }
  return 0.0;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row0 = wg.y * 64u;
  let col0 = wg.x * 64u;
  let t = lid.y * 8u + lid.x;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  var acc4 = vec4<f32>(0.0);
  var acc5 = vec4<f32>(0.0);
  var acc6 = vec4<f32>(0.0);
  var acc7 = vec4<f32>(0.0);
  var acc8 = vec4<f32>(0.0);
  var acc9 = vec4<f32>(0.0);
  var acc10 = vec4<f32>(0.0);
  var acc11 = vec4<f32>(0.0);
  var acc12 = vec4<f32>(0.0);
  var acc13 = vec4<f32>(0.0);
  var acc14 = vec4<f32>(0.0);
  var acc15 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < dims.k; k0 = k0 + 16u) {
    // 256 vec4s of each slice, four per invocation.
    for (var h = 0u; h < 4u; h = h + 1u) {
      let e = t + h * 64u;
      let q = e % 16u;
      let k = k0 + e / 16u;
      let r = row0 + q * 4u;
      sa[e] = vec4<f32>(at_a(r, k), at_a(r + 1u, k), at_a(r + 2u, k), at_a(r + 3u, k));
      let col = col0 + q * 4u;
      sb[e] = vec4<f32>(at_b(k, col), at_b(k, col + 1u), at_b(k, col + 2u), at_b(k, col + 3u));
    }
    workgroupBarrier();
    for (var d = 0u; d < 16u; d = d + 1u) {
      let a0 = sa[d * 16u + lid.y * 2u];
      let a1 = sa[d * 16u + lid.y * 2u + 1u];
      let b0 = sb[d * 16u + lid.x * 2u];
      let b1 = sb[d * 16u + lid.x * 2u + 1u];
      acc0 = acc0 + a0.x * b0;
      acc1 = acc1 + a0.x * b1;
      acc2 = acc2 + a0.y * b0;
      acc3 = acc3 + a0.y * b1;
      acc4 = acc4 + a0.z * b0;
      acc5 = acc5 + a0.z * b1;
      acc6 = acc6 + a0.w * b0;
      acc7 = acc7 + a0.w * b1;
      acc8 = acc8 + a1.x * b0;
      acc9 = acc9 + a1.x * b1;
      acc10 = acc10 + a1.y * b0;
      acc11 = acc11 + a1.y * b1;
      acc12 = acc12 + a1.z * b0;
      acc13 = acc13 + a1.z * b1;
      acc14 = acc14 + a1.w * b0;
      acc15 = acc15 + a1.w * b1;
    }
    workgroupBarrier();
  }
  let r0 = row0 + lid.y * 8u;
  let c0 = col0 + lid.x * 8u;
  let out = array<vec4<f32>, 16>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7, acc8, acc9, acc10, acc11, acc12, acc13, acc14, acc15);
  for (var i = 0u; i < 8u; i = i + 1u) {
    let r = r0 + i;
    for (var j = 0u; j < 8u; j = j + 1u) {
      if (r < dims.m && c0 + j < dims.n) { c[r * dims.n + c0 + j] = out[i * 2u + j / 4u][j % 4u]; }
    }
  }
}`;

function random(len, seed) {
  // A small LCG: the benchmark's inputs need no quality, only reproducibility.
  const v = new Float32Array(len);
  let s = seed >>> 0;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 32 - 0.5;
  }
  return v;
}

async function setup(device, pipeline, m, k, n) {
  const storage = (data) => {
    const buf = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buf, 0, data);
    return buf;
  };
  const a = random(m * k, 1);
  const b = random(k * n, 2);
  const c = device.createBuffer({ size: m * n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const dims = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(dims, 0, new Uint32Array([m, n, k, 0]));
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [storage(a), storage(b), c, dims].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const run = () => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(Math.ceil(n / TILE), Math.ceil(m / TILE));
    pass.end();
    device.queue.submit([enc.finish()]);
  };
  const read = async () => {
    const out = device.createBuffer({ size: m * n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(c, 0, out, 0, m * n * 4);
    device.queue.submit([enc.finish()]);
    await out.mapAsync(GPUMapMode.READ);
    const v = new Float32Array(out.getMappedRange().slice(0));
    out.unmap();
    return v;
  };
  return { a, b, run, read };
}

/// Largest |C_ij - (A B)_ij| over `entries` (i, j) pairs, the product in f64.
function maxError(a, b, c, m, k, n, entries) {
  let worst = 0;
  for (const [i, j] of entries) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
    worst = Math.max(worst, Math.abs(c[i * n + j] - s));
  }
  return worst;
}

/// { n, reps, gflops, check }: GFLOP/s of n x n x n products (after one warm-up), and the largest
/// error of an awkward-shaped product checked entry by entry, or { error } without WebGPU.
export async function roofline(n = 1024, reps = 8) {
  if (!('gpu' in navigator)) return { error: 'no WebGPU' };
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { error: 'no WebGPU adapter' };
  const device = await adapter.requestDevice();
  try {
    device.pushErrorScope('validation');
    const pipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code: SHADER }), entryPoint: 'main' },
    });
    const invalid = await device.popErrorScope();
    if (invalid) return { error: `the roofline kernel does not compile: ${invalid.message}` };
    // Correctness first, on a shape that is no multiple of the tile: every entry.
    const [m, k, w] = [127, 129, 131];
    const odd = await setup(device, pipeline, m, k, w);
    odd.run();
    const c = await odd.read();
    const all = [];
    for (let i = 0; i < m; i++) for (let j = 0; j < w; j++) all.push([i, j]);
    const oddError = maxError(odd.a, odd.b, c, m, k, w, all);
    const big = await setup(device, pipeline, n, n, n);
    big.run();
    await device.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) big.run();
    await device.queue.onSubmittedWorkDone();
    const seconds = (performance.now() - t0) / 1000;
    const sample = Array.from({ length: 64 }, (_, q) => [(q * 97) % n, (q * 389 + 5) % n]);
    const bigError = maxError(big.a, big.b, await big.read(), n, n, n, sample);
    // f32 sums of k products of values in [-0.5, 0.5]: far below 1e-3 when the kernel is right.
    if (!(oddError < 1e-3 && bigError < 1e-3)) {
      return { error: `the roofline kernel computes a wrong product (max error ${oddError}, ${bigError})` };
    }
    return {
      kernel: 'register-blocked WGSL, 64x64 tiles, 8x8 per invocation, 64 invocations',
      n,
      reps,
      gflops: (2 * n ** 3 * reps) / seconds / 1e9,
      check: { shape: [m, k, w], max_error: oddError, n_sampled_max_error: bigError },
    };
  } finally {
    device.destroy();
  }
}
