// The page: a gallery of the papers' figures, one figure at a time, free training, and a viewer
// for result files. All computation happens in worker.js; this thread draws charts with the same
// wasm module (compiled once and shared with the worker) and keeps the state in the URL.
import * as wasm from './pkg/dropout_lab.js';
import { PROTOCOL } from './config.js';
import { acceptDrops, sortFiles } from './files.js';
import { loadGalleryIndex, renderGallery } from './gallery.js';
import { PresetView } from './preset-view.js';
import { TrainView } from './train-view.js';
import { VIEWS, readUrl, writeUrl } from './url.js';

const $ = (id) => document.getElementById(id);
const globals = $('globals');
// Read-only view for researchers poking at a run from the console, and for the e2e tests.
const state = { worker: null, history: null, presets: {}, running: false, view: 'gallery', catalogue: [], gallery: {}, wasm };
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
  document.body.dataset.run = running ? 'running' : document.body.dataset.run;
  for (const id of ['train-button', 'run-button', 'reset-demo', 'reset-paper']) $(id).disabled = running;
  $('cancel-button').disabled = !running;
  $('preset-cancel').disabled = !running;
}
function endRun(outcome) {
  setRunning(false);
  document.body.dataset.run = outcome;
}
const post = (msg, transfer = []) => state.worker.postMessage({ v: PROTOCOL, ...msg }, transfer);
const backend = () => globals.backend.value;

const ctx = { wasm, post, showError, showNotice, setRunning, backend, onChange: () => saveUrl() };
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
  if (view === 'gallery') renderGallery($('gallery'), state.catalogue, state.gallery, backend(), openExample);
  if (view === 'preset') {
    presetView.open(u.preset, { fields: u.fields, scale: u.scale });
    if (problems.length) showNotice([problems.join('\n'), $('notice').textContent].filter(Boolean).join('\n'));
  }
  if (view === 'train') trainView.open(u.fields);
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
  post({ type: 'loadFiles', files: named }, Object.values(named));
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

function loadData() {
  showError('');
  const dataset = globals.dataset.value;
  $('custom-files').hidden = dataset !== 'custom';
  delete document.body.dataset.data;
  if (dataset !== 'custom') post({ type: 'load', dataset });
}
globals.addEventListener('change', (event) => {
  if (event.target.name === 'dataset') loadData();
  if (event.target.name === 'files') loadCustomFiles(event.target.files);
  if (event.target.name === 'backend' && state.view === 'gallery') route();
  saveUrl();
});

const handlers = {
  ready({ backend: b, notice }) {
    $('backend-badge').textContent = `backend: ${b}`;
    if (b !== 'webgpu') globals.backend.value = 'cpu';
    if (notice) showNotice([notice, $('notice').textContent].filter(Boolean).join('\n'));
    document.body.dataset.ready = 'true';
    loadData();
  },
  backend({ backend: b, notice }) {
    $('backend-badge').textContent = `backend: ${b}`;
    globals.backend.value = b;
    if (notice) showNotice(notice);
  },
  data({ info }) {
    $('data-info').textContent = `${info.name}: ${info.train} train / ${info.test} test images of ${info.dim} pixels`;
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
    trainView.onImported(msg);
    presetView.onImported(msg);
  },
};

async function main() {
  const u = readUrl();
  if (u.dataset && [...globals.dataset.options].some((o) => o.value === u.dataset)) globals.dataset.value = u.dataset;
  else if (u.dataset) showNotice(`dataset: "${u.dataset}" is not one of mnist, fashion-mnist, custom (using MNIST)`);
  if (u.backend && ['webgpu', 'cpu'].includes(u.backend)) globals.backend.value = u.backend;
  else if (u.backend) showNotice(`backend: "${u.backend}" is not webgpu or cpu (using WebGPU where available)`);
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
  state.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  state.worker.onmessage = ({ data }) => handlers[data.type]?.(data);
  state.worker.onerror = (e) => showError(`The worker failed: ${e.message}`);
  post({ type: 'init', module, backend: backend() });
}

main().catch((e) => showError(`Dropout Lab could not start: ${e.message ?? e}`));
