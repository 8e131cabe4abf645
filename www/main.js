// The page: a gallery of the papers' figures, one figure at a time, free training, and a viewer
// for result files. All computation happens in worker.js; this thread draws charts with the same
// wasm module (compiled once and shared with the worker) and keeps the state in the URL.
import * as wasm from './pkg/dropout_lab.js';
import { CIFAR_ARCHIVES, PROTOCOL } from './config.js';
import { acceptDrops, sortFiles } from './files.js';
import { loadGalleryIndex, renderGallery } from './gallery.js';
import { PresetView } from './preset-view.js';
import { TrainView } from './train-view.js';
import { VIEWS, readUrl, writeUrl } from './url.js';

const $ = (id) => document.getElementById(id);
const globals = $('globals');
// Read-only view for researchers poking at a run from the console, and for the e2e tests.
const state = { worker: null, history: null, presets: {}, running: false, view: 'gallery', catalogue: [], gallery: {}, wasm, restarts: [] };
window.dropoutLab = state;

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = !message;
}
function showNotice(message) {
  $('notice').textContent = message;
  $('notice').hidden = !message;
}
function setRunning(running) {
  state.running = running;
  if (running) $('rerun').hidden = true;
  document.body.dataset.run = running ? 'running' : document.body.dataset.run;
  for (const id of ['train-button', 'run-button', 'reset-demo', 'reset-paper']) $(id).disabled = running;
  $('cancel-button').disabled = !running;
  $('preset-cancel').disabled = !running;
}
function endRun(outcome) {
  setRunning(false);
  document.body.dataset.run = outcome;
}
// What a fresh worker needs to be given again after a crash: the user's own files and imported
// weights (sent as copies, so the page keeps them), and the run to offer again.
// A message is kept once the worker has accepted it (`data` for custom files, `imported`).
const replay = { loadFiles: null, importWeights: null };
const pending = {};
const post = (msg) => {
  if (msg.type in replay) pending[msg.type] = msg;
  if (msg.type === 'train' || msg.type === 'preset') state.lastRun = msg.type;
  state.worker.postMessage({ v: PROTOCOL, ...msg });
};
const backend = () => globals.backend.value;
// Test hook (tests/e2e.test.mjs): `auto-probe=fallback` makes "auto" time a software-fallback
// adapter too. Read before the page rewrites its URL.
const PROBE_FALLBACK = new URLSearchParams(location.search).get('auto-probe') === 'fallback';
// The backend jobs run on: the choice, or what "auto" chose (the worker says so when ready).
const activeBackend = () => (backend() === 'auto' ? state.active ?? 'cpu' : backend());

const ctx = { wasm, post, showError, showNotice, setRunning, backend, activeBackend, onChange: () => saveUrl() };
let presetView;
let trainView;

function saveUrl({ push = false } = {}) {
  const s = { view: state.view, dataset: globals.dataset.value, backend: backend() };
  if (state.view === 'preset') Object.assign(s, { preset: presetView.id, scale: presetView.scale, fields: presetView.fields() });
  if (state.view === 'train') s.fields = trainView.fields();
  writeUrl(s, { push });
}

/// Show the view a URL names; a link starts a run only when it says run=1.
function route(search = location.search, { push = false } = {}) {
  const u = readUrl(search);
  const problems = [];
  let view = u.view ?? (u.preset ? 'preset' : 'gallery');
  if (!VIEWS.includes(view)) {
    problems.push(`view: "${view}" is not one of ${VIEWS.join(', ')} (showing the gallery)`);
    view = 'gallery';
  }
  if (view === 'preset' && !state.catalogue.some((e) => e.id === u.preset)) {
    problems.push(`preset: "${u.preset ?? ''}" is not a figure of this lab (showing the gallery)`);
    view = 'gallery';
  }
  if (u.scale && !['demo', 'paper'].includes(u.scale)) problems.push(`scale: "${u.scale}" is not demo or paper (using demo)`);
  showNotice(problems.join('\n'));
  showError('');
  state.view = view;
  document.body.dataset.view = view;
  $('gallery-view').hidden = view !== 'gallery';
  $('preset-view').hidden = view !== 'preset';
  $('train-view').hidden = view !== 'train';
  if (view === 'gallery') renderGallery($('gallery'), state.catalogue, state.gallery, activeBackend(), openExample);
  if (view === 'preset') {
    presetView.open(u.preset, { fields: u.fields, scale: u.scale });
    if (problems.length) showNotice([problems.join('\n'), $('notice').textContent].filter(Boolean).join('\n'));
  }
  if (view === 'train') {
    const bad = trainView.open(u.fields);
    if (bad.length) showNotice([...problems, `Some settings in the link could not be used:`, ...bad].join('\n'));
  }
  saveUrl({ push });
  if (u.run && view !== 'gallery' && document.body.dataset.data) {
    if (view === 'preset') presetView.run();
    else trainView.start();
  } else if (u.run) {
    state.runWhenData = true;
  }
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-route], #home-link, #back-link, nav a');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  if (state.running) {
    showNotice('A run is in progress: cancel it before opening another view.');
    return;
  }
  route(new URL(a.href).search, { push: true });
});
addEventListener('popstate', () => { if (!state.running) route(); });

/// Open a result file (text): its figure's view with its settings, charts and summary.
function openResultText(text, name) {
  try {
    const id = wasm.openResult(text);
    state.view = 'preset';
    route(`?view=preset&preset=${encodeURIComponent(id)}`, { push: true });
    presetView.showFile(text);
    state.presets[id] = text;
    showNotice(`Showing ${name}: nothing was run.`);
    document.body.dataset.viewer = 'shown';
  } catch (e) {
    showError(`${name}: ${e.message ?? e}`);
    document.body.dataset.viewer = 'refused';
  }
}
async function openExample(id) {
  try {
    const r = await fetch(`gallery/${state.gallery[id].result}`);
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    openResultText(await r.text(), `the shipped ${id} result`);
  } catch (e) {
    showError(`The shipped result of ${id} could not be loaded (${e.message ?? e}).`);
  }
}
$('open-result').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  if (f) openResultText(await f.text(), f.name);
  e.target.value = '';
});

async function loadCustomFiles(files) {
  const named = {};
  for (const f of files) named[f.name] = await f.arrayBuffer();
  post({ type: 'loadFiles', files: named });
}
acceptDrops($('drop-zone'), async (files) => {
  const { results, data } = sortFiles(files);
  if (results.length) openResultText(await results[0].text(), results[0].name);
  if (data.length) {
    globals.dataset.value = 'custom';
    $('custom-files').hidden = false;
    loadCustomFiles(data);
  }
});

function loadData({ keepMessages = false } = {}) {
  if (!keepMessages) showError('');
  const dataset = globals.dataset.value;
  $('custom-files').hidden = dataset !== 'custom';
  delete document.body.dataset.data;
  if (dataset !== 'custom') post({ type: 'load', dataset });
  else if (replay.loadFiles) post(replay.loadFiles);
}
globals.addEventListener('change', (event) => {
  if (event.target.name === 'dataset') loadData();
  if (event.target.name === 'files') loadCustomFiles(event.target.files);
  if (event.target.name === 'backend' && state.view === 'gallery') route();
  saveUrl();
});

const handlers = {
  ready({ backend: b, auto, notice }) {
    state.active = b;
    $('backend-badge').textContent = `backend: ${b}${auto ? ' (auto)' : ''}`;
    if (!auto && b !== 'webgpu') globals.backend.value = 'cpu';
    if (notice) showNotice([notice, $('notice').textContent].filter(Boolean).join('\n'));
    document.body.dataset.ready = 'true';
    loadData({ keepMessages: state.recovering });
    if (state.recovering && replay.importWeights) post(replay.importWeights);
    state.recovering = false;
  },
  backend({ backend: b, auto, notice }) {
    state.active = b;
    $('backend-badge').textContent = `backend: ${b}${auto ? ' (auto)' : ''}`;
    if (!auto) globals.backend.value = b;
    if (notice) showNotice(notice);
  },
  data({ info, fromFiles }) {
    if (fromFiles) replay.loadFiles = pending.loadFiles;
    const stats = info.channel_stats
      ? `; per-channel mean ${info.channel_stats.mean.map((v) => v.toFixed(3)).join(', ')}, std ${info.channel_stats.std.map((v) => v.toFixed(3)).join(', ')}`
      : '';
    $('data-info').textContent = `${info.name}: ${info.train} train / ${info.test} test images of ${info.dim} values, ${info.classes} classes${stats}`;
    if (info.notes?.length) showNotice(info.notes.join('\n'));
    trainView.onData(info);
    document.body.dataset.data = info.name;
    if (state.runWhenData) {
      state.runWhenData = false;
      if (state.view === 'preset') presetView.run();
      if (state.view === 'train') trainView.start();
    }
  },
  progress(msg) { trainView.onProgress(msg); },
  done() { endRun('done'); },
  cancelled() {
    for (const id of ['progress-text', 'preset-progress-text']) $(id).textContent += ' · cancelled';
    endRun('cancelled');
  },
  error({ message }) {
    showError(message);
    endRun('error');
  },
  stage(msg) { presetView.onStage(msg); },
  preset({ name, result }) {
    presetView.onResult(result);
    state.presets[name] = presetView.result;
    endRun('done');
  },
  file({ name, mime, data }) {
    import('./files.js').then(({ download }) => download(name, mime, data));
  },
  imported(msg) {
    replay.importWeights = pending.importWeights;
    trainView.onImported(msg);
    presetView.onImported(msg);
  },
  crashed({ message }) { recover(message); },
  pong() {},
  memory(msg) { state.onMemory?.(msg); },
};

// More than this many crashes in a minute: stop restarting (something is broken for good).
const MAX_RESTARTS_PER_MINUTE = 3;

/// The worker died (panic, trap, lost GPU device, uncaught error): start a fresh one, give it the
/// data and weights again, keep the form and whatever is drawn, say what happened, offer a rerun.
function recover(reason) {
  state.worker.terminate();
  $('stuck').hidden = true;
  const now = Date.now();
  state.restarts = state.restarts.filter((t) => now - t < 60_000).concat(now);
  const interrupted = state.running ? state.lastRun : null;
  endRun('crashed');
  delete document.body.dataset.ready;
  delete document.body.dataset.data;
  if (state.restarts.length > MAX_RESTARTS_PER_MINUTE) {
    showError(`The computation worker stopped again (${reason}): ${state.restarts.length} times in a minute, so it is not restarted. Reload the page; your settings are in its URL.`);
    return;
  }
  showError(`The computation worker stopped (${reason}). A fresh one has been started with your data; your settings and the results drawn so far are kept.` +
    (interrupted ? ' The run did not finish: press Rerun to start it again.' : ''));
  $('rerun').hidden = !interrupted;
  state.rerun = interrupted;
  state.recovering = true;
  startWorker();
}
$('rerun-button').addEventListener('click', () => {
  $('rerun').hidden = true;
  if (!document.body.dataset.data) return showNotice('The data is still loading: Rerun when it is ready.');
  if (state.rerun === 'preset') presetView.run();
  else trainView.start();
});

// Heartbeat: the worker answers a ping between slices of work. A long silence is shown, not
// acted on (one step of a paper-scale analysis can legitimately take a while): the user decides.
const HEARTBEAT_MS = 5_000;
const SILENCE_MS = 30_000;
setInterval(() => {
  if (!state.worker || !document.body.dataset.ready) return;
  state.worker.postMessage({ v: PROTOCOL, type: 'ping' });
  const silent = Date.now() - state.lastHeard;
  $('stuck').hidden = silent < SILENCE_MS;
  $('stuck-text').textContent = `The computation worker has not answered for ${Math.round(silent / 1000)} s: a long step, or it is stuck. `;
}, HEARTBEAT_MS);
$('stuck-button').addEventListener('click', () => {
  $('stuck').hidden = true;
  recover(`it did not answer for ${Math.round((Date.now() - state.lastHeard) / 1000)} s and you restarted it`);
});

function startWorker() {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  state.lastHeard = Date.now();
  worker.onmessage = ({ data }) => {
    state.lastHeard = Date.now();
    handlers[data.type]?.(data);
  };
  worker.onerror = (e) => {
    e.preventDefault();
    recover(`an uncaught error: ${e.message}`);
  };
  worker.onmessageerror = () => recover('a message from it could not be read');
  state.worker = worker;
  post({ type: 'init', module: state.module, backend: backend(), probeFallback: PROBE_FALLBACK });
}

/// Offer each CIFAR archive a deployer placed under www/data/, as the build listed them in
/// data/index.json; nothing is downloaded until one is chosen.
async function offerDeployedCifar() {
  const custom = globals.dataset.querySelector('option[value="custom"]');
  const index = await fetch('data/index.json').then((r) => (r.ok ? r.json() : {}), () => ({}));
  for (const name of index.cifar ?? []) {
    if (CIFAR_ARCHIVES[name]) custom.before(new Option(name.toUpperCase(), name));
  }
}

// The wasm core is built with SIMD (.cargo/config.toml). A module of one SIMD function
// (i8x16.splat, i8x16.popcnt) validates only where the browser has it.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

async function main() {
  if (!WebAssembly.validate(SIMD_PROBE)) {
    throw new Error('this browser has no WebAssembly SIMD, which the lab\'s core needs (Chrome 91+, Firefox 89+ and Safari 16.4+ have it)');
  }
  await offerDeployedCifar();
  const u = readUrl();
  const offered = [...globals.dataset.options].map((o) => o.value);
  if (u.dataset && offered.includes(u.dataset)) globals.dataset.value = u.dataset;
  else if (u.dataset) showNotice(`dataset: "${u.dataset}" is not one of ${offered.join(', ')} (using MNIST)`);
  if (u.backend && ['auto', 'webgpu', 'cpu'].includes(u.backend)) globals.backend.value = u.backend;
  else if (u.backend) showNotice(`backend: "${u.backend}" is not auto, webgpu or cpu (using auto: the faster backend here)`);
  const notice = $('notice').textContent;
  // Compile once; the worker gets the compiled module instead of downloading it again.
  const module = await WebAssembly.compileStreaming(fetch(new URL('./pkg/dropout_lab_bg.wasm', import.meta.url)));
  await wasm.default({ module_or_path: module });
  state.catalogue = JSON.parse(wasm.presetCatalogue());
  state.gallery = await loadGalleryIndex();
  Object.assign(ctx, { catalogue: state.catalogue, gallery: state.gallery });
  presetView = new PresetView(ctx);
  trainView = new TrainView(ctx);
  route();
  if (notice) showNotice([notice, $('notice').textContent].filter(Boolean).join('\n'));
  state.module = module;
  startWorker();
}

main().catch((e) => showError(`Dropout Lab could not start: ${e.message ?? e}`));
