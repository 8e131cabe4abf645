// The worker owns the Rust `Lab` (data, device, trainer). Calls into it are serialised: one
// message is handled at a time, and training runs in slices with a yield between them so a
// `cancel` message gets through. A panic, a trap (out of memory) or a lost WebGPU device makes
// this instance unusable: the worker says `crashed` once and the page starts a fresh one.
import init, { Lab, panicMessage, version } from './pkg/dropout_lab.js';
import { CIFAR_ARCHIVES, PROTOCOL } from './config.js';

let lab = null;
let backend = 'cpu';
let webgpuUsable = false;
// The adapter is a software rasteriser (SwiftShader, WARP, llvmpipe): "auto" never picks it.
let fallbackAdapter = null;
// What the adapter says of itself (GPUAdapterInfo), for the benchmark's JSON.
let adapterInfo = null;
// "auto": the backend each probe chose, by probe, decided once per worker.
const autoChoices = new Map();
// Test hook (tests/e2e.test.mjs): time the probe even on a fallback adapter.
let probeFallback = false;
let cancelRequested = false;
let queue = Promise.resolve();
let initialised = false;
let dead = false;
// Test hooks (tests/e2e.test.mjs, "the page recovers…"): a `test-crash` message makes the next
// progress point panic inside the lab, or destroys the WebGPU device.
let crashRequested = false;
let gpuDevice = null;
let wasmMemory = null;
// cubecl's tasks_max for this worker's device, when the benchmark set one (null: its default, 32).
let tasksMax = null;

const DATASETS = {
  mnist: 'data/mnist',
  'fashion-mnist': 'data/fashion-mnist',
};
// What a CIFAR file is called in its distributions, as a file or inside its archive.
const CIFAR_NAME = /(^|\/)(cifar-10{1,2}-binary\.tar(\.gz)?|data_batch_\d\.bin|test_batch\.bin|train\.bin|test\.bin)$|\.(tar|tgz|tar\.gz)$/i;
const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
// A slice of training steps should take about this long: short enough for a responsive cancel,
// long enough that progress messages cost nothing.
const SLICE_MS = 250;

const reply = (msg, transfer = []) => postMessage({ v: PROTOCOL, ...msg }, transfer);
const message = (e) => (e && e.message) || String(e);
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function crashed(reason) {
  if (dead) return;
  dead = true;
  reply({ type: 'crashed', message: reason });
}

/// Why the wasm instance can no longer be used after `e`, or null if it still can.
function crashOf(e) {
  const panic = initialised ? panicMessage() : undefined;
  if (panic) return `the lab panicked: ${panic}`;
  if (e instanceof WebAssembly.RuntimeError) return `the WebAssembly core stopped: ${message(e)}`;
  return null;
}

// wgpu asks for its device inside Rust; watch every device it gets, so a loss (driver reset, GPU
// process crash, or the test hook) is noticed even while a run waits on the GPU.
function watchDevices() {
  if (typeof GPUAdapter === 'undefined') return;
  const request = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function requestDevice(...args) {
    const device = await request.apply(this, args);
    gpuDevice = device;
    device.lost.then((info) => crashed(`the WebGPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ''})`));
    return device;
  };
}
watchDevices();

// WebGPU calls issued so far, by kind (the benchmark's calls per training step): wgpu's
// bindings call these methods, so wrapping them counts what burn and the lab's kernels launch,
// compile, upload and read back.
const gpuCalls = { dispatches: 0, pipelines: 0, submits: 0, uploads: 0, readbacks: 0 };
function countGpuCalls() {
  if (typeof GPUComputePassEncoder === 'undefined') return;
  const wrap = (proto, name, kind) => {
    const original = proto[name];
    if (!original) return;
    proto[name] = function counted(...args) {
      gpuCalls[kind] += 1;
      return original.apply(this, args);
    };
  };
  wrap(GPUComputePassEncoder.prototype, 'dispatchWorkgroups', 'dispatches');
  wrap(GPUComputePassEncoder.prototype, 'dispatchWorkgroupsIndirect', 'dispatches');
  wrap(GPUDevice.prototype, 'createComputePipeline', 'pipelines');
  wrap(GPUDevice.prototype, 'createComputePipelineAsync', 'pipelines');
  wrap(GPUQueue.prototype, 'submit', 'submits');
  wrap(GPUQueue.prototype, 'writeBuffer', 'uploads');
  wrap(GPUBuffer.prototype, 'mapAsync', 'readbacks');
}
countGpuCalls();

function crashIfRequested(where) {
  if (crashRequested) lab.crashForTest(where);
}

async function detectWebGpu() {
  if (!('gpu' in navigator)) return 'This browser has no WebGPU: training runs on the CPU backend (slower).';
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return 'No WebGPU adapter is available: training runs on the CPU backend (slower).';
    const info = adapter.info ?? {};
    adapterInfo = Object.fromEntries(['vendor', 'architecture', 'device', 'description', 'subgroupMinSize', 'subgroupMaxSize'].map((k) => [k, info[k]]));
    // Older Chromium has the flag on the adapter, newer on its info.
    adapterInfo.isFallbackAdapter = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter);
    if (adapterInfo.isFallbackAdapter) {
      fallbackAdapter = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unnamed';
    }
    // wgpu asks for the adapter's own limits; models with a larger buffer are refused up front.
    lab.setWebGpuLimits(adapter.limits.maxStorageBufferBindingSize, adapter.limits.maxBufferSize);
  } catch (e) {
    return `WebGPU adapter request failed (${message(e)}): training runs on the CPU backend.`;
  }
  return null;
}

async function selectBackend(wanted, probe = AUTO_PROBE) {
  let notice = null;
  if (wanted === 'auto') {
    const choice = await chooseAuto(probe);
    backend = await lab.setBackend(choice.backend);
    return { backend, auto: true, notice: choice.fresh ? choice.why : null };
  }
  if (wanted === 'webgpu' && webgpuUsable) {
    try {
      backend = await lab.setBackend('webgpu');
      return { backend, notice };
    } catch (e) {
      webgpuUsable = false;
      notice = `WebGPU could not be initialised (${message(e)}): training runs on the CPU backend.`;
    }
  } else if (wanted === 'webgpu') {
    notice = 'WebGPU is unavailable here: training runs on the CPU backend.';
  }
  backend = await lab.setBackend('cpu');
  return { backend, notice };
}

// What "auto" times when a job names no MLP of its own: a small dense network's SGD step with
// dropout at batch 128, the lab's commonest workload.
const AUTO_PROBE = { widths: [784, 256, 256, 10], batch: 128 };
const ms = (x) => (x < 10 ? x.toFixed(2) : x.toFixed(0));

/// The backend "auto" runs `probe` on: the CPU without a usable or with a software-fallback
/// WebGPU adapter; otherwise whichever ran a warm training step of `probe` faster (timed once
/// per probe and worker). `why` says which and why, with the measured times.
async function chooseAuto(probe) {
  const key = `${probe.widths.join('-')}@${probe.batch}`;
  const known = autoChoices.get(key);
  if (known) return { ...known, fresh: false };
  let choice;
  if (!webgpuUsable) {
    choice = { backend: 'cpu', why: 'auto: the CPU backend (no usable WebGPU adapter here)' };
  } else if (fallbackAdapter && !probeFallback) {
    choice = { backend: 'cpu', why: `auto: the CPU backend, because the WebGPU adapter (${fallbackAdapter}) is a software fallback, which is slower than the CPU backend` };
  } else {
    const times = {};
    try {
      for (const b of ['webgpu', 'cpu']) {
        await lab.setBackend(b);
        times[b] = (await lab.benchTraining(Uint32Array.from(probe.widths), probe.batch, 2)).ms_per_step;
      }
    } catch (e) {
      webgpuUsable = false;
      times.failed = message(e);
    }
    const gpu = !times.failed && times.webgpu < times.cpu;
    const measured = times.failed
      ? `WebGPU failed while timing (${times.failed})`
      : `a warm training step of ${key.replace('@', ' at batch ')} took ${ms(times.webgpu)} ms on WebGPU and ${ms(times.cpu)} ms on the CPU${fallbackAdapter ? ` (WebGPU adapter ${fallbackAdapter}, a software fallback)` : ''}`;
    choice = { backend: gpu ? 'webgpu' : 'cpu', why: `auto: the ${gpu ? 'WebGPU' : 'CPU'} backend, because ${measured}`, times };
  }
  autoChoices.set(key, choice);
  return { ...choice, fresh: true };
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function loadBundled(name) {
  if (CIFAR_ARCHIVES[name]) {
    const path = CIFAR_ARCHIVES[name];
    const bytes = await fetchBytes(path).catch((e) => {
      throw new Error(`${name} is not available on this server (${message(e)}): place ${path.split('/').pop()} under www/data/ or load your own copy`);
    });
    return reply({ type: 'data', info: lab.loadCifar([path], [bytes]) });
  }
  const dir = DATASETS[name];
  if (!dir) throw new Error(`unknown dataset ${name}`);
  const files = await Promise.all(FILES.map((f) => fetchBytes(`${dir}/${f}.gz`).catch((e) => {
    throw new Error(`${name} is not available on this server (${message(e)})`);
  })));
  reply({ type: 'data', info: lab.loadIdx(name, FILES.map((f) => `${dir}/${f}.gz`), ...files) });
}

// CIFAR (an archive or its .bin files) by name; otherwise match the user's files to the four IDX
// roles by the usual MNIST names (raw or .gz).
function loadFiles(files) {
  const names = Object.keys(files);
  if (names.length && names.some((n) => CIFAR_NAME.test(n))) {
    return reply({ type: 'data', fromFiles: true, info: lab.loadCifar(names, names.map((n) => new Uint8Array(files[n]))) });
  }
  const pick = (split, kind) => {
    const found = names.filter((n) => n.includes(split) && n.includes(kind));
    if (found.length !== 1) {
      throw new Error(`Need exactly one file named like "${split}-${kind}-idx…" among: ${names.join(', ') || 'none'}`);
    }
    return found[0];
  };
  const chosen = [pick('train', 'images'), pick('train', 'labels'), pick('t10k', 'images'), pick('t10k', 'labels')];
  reply({ type: 'data', fromFiles: true, info: lab.loadIdx('custom', chosen, ...chosen.map((n) => new Uint8Array(files[n]))) });
}

// Every long job starts uncancelled, on the backend the form asks for ("auto" is never the
// backend in use, so it is resolved for every job: once timed, from the cache). The page hears
// of a change of backend or a fresh choice of "auto".
// "auto" times the job's own network when it is an MLP, the standard probe otherwise.
async function beginJob(wantedBackend, probe = AUTO_PROBE) {
  cancelRequested = false;
  if (wantedBackend === backend) return;
  const before = backend;
  const selected = await selectBackend(wantedBackend, probe);
  if (selected.notice || !selected.auto || selected.backend !== before) reply({ type: 'backend', ...selected });
}

/// The training config's own MLP (widths, batch) for "auto" to time, or the standard probe.
function probeOf(config) {
  const widths = config?.model?.widths;
  return Array.isArray(widths) ? { widths, batch: Math.min(Math.max(1, config.batch_size | 0), 1024) } : AUTO_PROBE;
}

async function train(config, wantedBackend) {
  await beginJob(wantedBackend, probeOf(config));
  let progress = await lab.start(config);
  reply({ type: 'progress', progress, history: lab.historyJson() });
  let steps = 1;
  while (!progress.done) {
    await tick();
    crashIfRequested('training');
    if (cancelRequested) {
      reply({ type: 'cancelled' });
      return;
    }
    const t0 = performance.now();
    progress = await lab.run(steps);
    const perStep = (performance.now() - t0) / Math.max(1, steps);
    steps = Math.max(1, Math.min(1000, Math.round(SLICE_MS / Math.max(perStep, 0.01))));
    reply({ type: 'progress', progress, history: lab.historyJson() });
  }
  reply({ type: 'done' });
}

async function preset(name, config, wantedBackend, useWeights) {
  await beginJob(wantedBackend);
  try {
    const result = await lab.runPreset(name, config, async (stage, done, total) => {
      reply({ type: 'stage', stage, done, total });
      await tick();
      crashIfRequested(stage);
      return !cancelRequested;
    }, Boolean(useWeights));
    reply({ type: 'preset', name, result });
  } catch (e) {
    if (message(e) === 'cancelled' && !crashOf(e)) return reply({ type: 'cancelled' });
    throw e;
  }
}

async function exportFile(what) {
  if (what === 'json') return reply({ type: 'file', name: 'dropout-lab-history.json', mime: 'application/json', data: lab.historyJson() });
  if (what === 'csv') return reply({ type: 'file', name: 'dropout-lab-history.csv', mime: 'text/csv', data: lab.historyCsv() });
  const bytes = await lab.exportWeights();
  reply({ type: 'file', name: 'dropout-lab-weights.safetensors', mime: 'application/octet-stream', data: bytes }, [bytes.buffer]);
}

async function handle(msg) {
  if (msg.v !== PROTOCOL) throw new Error(`protocol version ${msg.v} does not match the worker's ${PROTOCOL}: reload the page`);
  switch (msg.type) {
    case 'init': {
      wasmMemory = (await init({ module_or_path: msg.module })).memory;
      initialised = true;
      lab = new Lab();
      const missing = await detectWebGpu();
      webgpuUsable = missing === null;
      probeFallback = Boolean(msg.probeFallback);
      // The benchmark's tasks_max sweep: a fresh worker per value, set before the device exists.
      if (msg.tasksMax !== undefined) {
        lab.setWebGpuTasksMax(msg.tasksMax);
        tasksMax = msg.tasksMax;
      }
      const selected = await selectBackend(msg.backend);
      return reply({ type: 'ready', backend: selected.backend, auto: selected.auto, notice: missing ?? selected.notice });
    }
    case 'load':
      return loadBundled(msg.dataset);
    case 'loadFiles':
      return loadFiles(msg.files);
    case 'train':
      return train(msg.config, msg.backend);
    case 'preset':
      return preset(msg.name, msg.config, msg.backend, msg.useWeights);
    case 'export':
      return exportFile(msg.what);
    case 'bench':
      return bench(msg);
    case 'importWeights': {
      const { config, label, source } = lab.importWeights(new Uint8Array(msg.bytes), msg.activation ?? 'relu', msg.name);
      return reply({ type: 'imported', config, label, source, name: msg.name });
    }
    default:
      throw new Error(`unknown message ${msg.type}`);
  }
}

onmessage = ({ data }) => {
  // Cancel (and the test hooks) must not wait behind the run they act on.
  if (data.type === 'cancel') {
    cancelRequested = true;
    return;
  }
  // `npm run soak` samples the wasm memory between runs.
  if (data.type === 'memory') {
    reply({ type: 'memory', wasmBytes: wasmMemory?.buffer.byteLength ?? 0 });
    return;
  }
  // The page's heartbeat: answered whenever this thread is free, i.e. between slices of a run.
  if (data.type === 'ping') {
    reply({ type: 'pong' });
    return;
  }
  if (data.type === 'test-crash') {
    if (data.how === 'device') gpuDevice?.destroy();
    else if (data.how === 'hang') for (;;) { /* a stuck worker: only terminate() ends this */ }
    else crashRequested = true;
    return;
  }
  if (dead) return;
  queue = queue.then(() => handle(data)).catch(async (e) => {
    const crash = crashOf(e);
    if (crash) return crashed(crash);
    // A job failing on a lost device fails before `device.lost` settles: give the loss the
    // chance to be reported as what it is, and the page the chance to restart.
    if (gpuDevice) await new Promise((resolve) => setTimeout(resolve, 100));
    if (!dead) reply({ type: 'error', message: message(e) });
  });
};

// `npm run bench`: the hot loops only, on each available backend (see crate/src/web/bench.rs).
// `trainingOnly`: the MLP training entries on WebGPU alone (the tasks_max sweep).
async function bench({ steps, hessianRows, convSteps, convLayerReps, trainingOnly }) {
  const results = { crate_version: version(), user_agent: navigator.userAgent, adapter: adapterInfo, tasks_max: tasksMax, backends: {} };
  const backends = webgpuUsable ? ['webgpu', 'cpu'] : ['cpu'];
  for (const b of trainingOnly ? backends.slice(0, 1) : backends) {
    await lab.setBackend(b);
    const r = { training: [] };
    for (const widths of [[784, 50, 50, 10], [784, 1024, 1024, 10]]) {
      const t = await lab.benchTraining(Uint32Array.from(widths), 128, steps);
      // Two short runs differ only by their timed steps: their difference in calls, per step,
      // is what one training step issues (the set-up and warm-up cancel).
      if (b === 'webgpu') {
        const counted = [];
        for (const n of [1, 3]) {
          const before = { ...gpuCalls };
          await lab.benchTraining(Uint32Array.from(widths), 128, n);
          counted.push(Object.fromEntries(Object.keys(gpuCalls).map((k) => [k, gpuCalls[k] - before[k]])));
        }
        const perStep = (k) => (counted[1][k] - counted[0][k]) / 2;
        t.dispatches_per_step = perStep('dispatches');
        t.gpu_calls_per_step = Object.fromEntries(Object.keys(gpuCalls).map((k) => [k, perStep(k)]));
      }
      r.training.push(t);
    }
    if (trainingOnly) {
      results.backends[b] = r;
      continue;
    }
    // Conv nets at batch 128 (LeNet-5, ConvNet-Quick, ResNet-20: perf::CONV_BENCH).
    r.conv_training = [];
    for (let i = 0; i < 3 && convSteps > 0; i++) r.conv_training.push(await lab.benchConvTraining(i, 128, convSteps));
    // Their layers one by one: burn's convolution, the lab's, and the lab's parts.
    if (convLayerReps > 0) r.conv_layers = await lab.benchConvLayers(128, convLayerReps);
    if (hessianRows > 0) r.hessian = await lab.benchHessian(hessianRows, 20);
    // Last: cubek's routines are burn's code, not ours; should one emit a kernel the browser
    // rejects (README "WebGPU in Chrome"), only this entry is lost.
    if (b === 'webgpu') {
      try {
        r.matmul = await lab.benchMatmul(1024, 8);
      } catch (e) {
        r.matmul = { error: String(e?.message ?? e) };
      }
    }
    results.backends[b] = r;
  }
  await lab.setBackend(backend);
  reply({ type: 'bench', results });
}
