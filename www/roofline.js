// The benchmark's roofline: the lab's own matmul kernel (crate/src/kernels/matmul_common.wgsl +
// matmul.wgsl, copied to pkg/ by scripts/build.sh) launched directly through WebGPU, without
// burn, so the lab's GFLOP/s can be read against what the same kernel reaches on the same adapter with no framework around
// it. The kernel is register-blocked: 8x8 invocations per workgroup compute a 64x64 tile of
// C = A B, each an 8x8 block in vec4 registers, no subgroup operations, any shape and strides.

const TILE = 64;

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
  // The kernel's info: m, n, k, A's row and depth strides, B's depth and column strides, batch
  // strides (one row-major matrix each), one entry per sum and one batch entry.
  const info = storage(new Uint32Array([m, n, k, k, 1, n, 1, 0, 0, 1, 1]));
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [storage(a), storage(b), c, info].map((buffer, binding) => ({ binding, resource: { buffer } })),
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
    // The kernel is its shared part (bindings, loads) followed by its own, as the lab builds it.
    const parts = [];
    for (const file of ['matmul_common.wgsl', 'matmul.wgsl']) {
      const response = await fetch(new URL(`./pkg/${file}`, import.meta.url));
      if (!response.ok) return { error: `the lab's matmul kernel (${file}) could not be loaded (HTTP ${response.status})` };
      parts.push(await response.text());
    }
    const SHADER = parts.join('\n');
    device.pushErrorScope('validation');
    const pipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code: SHADER }), entryPoint: 'main' },
    });
    const invalid = await device.popErrorScope();
    if (invalid) return { error: `the lab's matmul kernel does not compile: ${invalid.message}` };
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
      kernel: "the lab's matmul.wgsl (register-blocked, 64x64 tiles, 8x8 per invocation) in plain WebGPU",
      n,
      reps,
      gflops: (2 * n ** 3 * reps) / seconds / 1e9,
      check: { shape: [m, k, w], max_error: oddError, n_sampled_max_error: bigError },
    };
  } finally {
    device.destroy();
  }
}
