// The page: controls, URL state and drawing. All computation happens in worker.js; this thread
// only draws charts (with the same wasm module, compiled once and shared with the worker).
import init, { drawHistoryChart, drawPresetChart } from './pkg/dropout_lab.js';
import {
  PROTOCOL, complexityToCsv, fig1aToCsv, formToModesConfig, formToNoiseConfig, formToSplitConfig, modeLabel, modesToCsv, noiseToCsv, splitToCsv, fig2ToCsv, fig4ToCsv, formToConfig, formToFig1aConfig, formToFig2Config, formToFig4Config,
  formToComplexityConfig, formToTrackConfig, formToVolumeConfig, formToVolumeRateConfig, readUrlIntoForm, trackToCsv, volumeRateToCsv, volumeToCsv,
  writeFormToUrl,
} from './config.js';

const $ = (id) => document.getElementById(id);
const form = $('controls');
const state = { worker: null, history: null, running: false, etaFrom: null, presets: {}, presetDefaults: null };

// The paper-figure presets: how the form becomes their config, and how their result reads.
const PRESETS = {
  fig1a: {
    config: () => formToFig1aConfig(form, state.presetDefaults.fig1a),
    csv: fig1aToCsv,
    summary: (r) => r.models.map((m) =>
      `${m.dropout ? 'with' : 'without'} dropout: train loss ${m.train_loss.toFixed(4)}, test loss ${m.test_loss.toFixed(4)}, ` +
      `test accuracy ${(100 * m.test_accuracy).toFixed(2)}%`).join('\n'),
  },
  fig2: {
    config: () => formToFig2Config(form, state.presetDefaults.fig2),
    csv: fig2ToCsv,
    summary: (r) => r.settings.map((s) => {
      const fit = s.fit ? `slope ${s.fit.slope.toFixed(3)} (R² ${s.fit.r2.toFixed(3)}, ${s.fit.used} points)` : 'no fit';
      const missing = s.no_crossing ? `, ${s.no_crossing} direction(s) without a crossing` : '';
      return `S_${s.source} · drop ${s.setting.drop_rate}, lr ${s.setting.lr}: final train loss ${s.final_train_loss.toFixed(4)}, ${fit}${missing}`;
    }).join('\n'),
  },
  fig4: {
    config: () => formToFig4Config(form, state.presetDefaults.fig4),
    csv: fig4ToCsv,
    summary: (r) => r.series.map((s) => {
      const fit = s.fit ? `slope ${s.fit.slope.toFixed(3)} (R² ${s.fit.r2.toFixed(3)}, ${s.fit.used} points)` : 'no fit';
      return `S_${s.source} · drop ${s.setting.drop_rate}, lr ${s.setting.lr}: λ_max(H) ${s.hessian_eigenvalues[0].toPrecision(4)}, ${fit}`;
    }).join('\n'),
  },
  fig6: {
    config: () => formToTrackConfig(form, 'f6', state.presetDefaults.fig6),
    csv: trackToCsv,
    summary: (r) => r.series.map((s) => {
      const ratios = s.checkpoints.map((c) => c.alignment.trace_h_sigma / c.alignment.trace_h_isotropic);
      const last = s.checkpoints[s.checkpoints.length - 1];
      return `drop ${s.setting.drop_rate}, lr ${s.setting.lr}: Tr(HΣ)/Tr(HΣ̄) between ${Math.min(...ratios).toFixed(1)} and ` +
        `${Math.max(...ratios).toFixed(1)} over ${s.checkpoints.length} epochs; final loss ${last.train_loss.toFixed(4)}`;
    }).join('\n'),
  },
  cosine: {
    config: () => formToTrackConfig(form, 'cos', state.presetDefaults.cosine),
    csv: trackToCsv,
    summary: (r) => r.series.map((s) => {
      const alphas = s.checkpoints.map((c) => c.alignment.cosine);
      return `drop ${s.setting.drop_rate}, lr ${s.setting.lr}: α between ${Math.min(...alphas).toFixed(3)} and ${Math.max(...alphas).toFixed(3)}, ` +
        `final ${alphas[alphas.length - 1].toFixed(3)}`;
    }).concat(r.null ? [`null (random eigenvectors, ${r.null.repeats} pairs): ${r.null.sample_mean.toExponential(2)} ± ${r.null.sample_std.toExponential(1)}, exact mean ${r.null.analytic_mean.toExponential(2)}`] : []).join('\n'),
  },
  volume: {
    config: () => formToVolumeConfig(form, state.presetDefaults.volume),
    csv: volumeToCsv,
    summary: (r) => r.runs.map((run) => {
      const last = run.epochs[run.epochs.length - 1];
      const per = last.layers.map((l) => (l.log_volume / (l.fan_in * l.fan_out)).toFixed(3)).join(', ');
      return `${run.dropout ? 'with' : 'without'} dropout: log vol / D per layer at epoch ${last.epoch}: ${per}; ` +
        `test accuracy ${(100 * run.final_test_accuracy).toFixed(2)}%, gap ${(100 * run.generalisation_gap).toFixed(2)} points` +
        (run.update_correlations.length ? `; mean |ρ| of updates ${run.update_correlations.map((c) =>
          `${c.correlation.mean_abs_off_diagonal.toFixed(3)} (epoch ${c.epoch})`).join(', ')}` : '');
    }).join('\n'),
  },
  volumerate: {
    config: () => formToVolumeRateConfig(form, state.presetDefaults.volumerate),
    csv: volumeRateToCsv,
    summary: (r) => r.points.map((p) =>
      `drop ${p.drop_rate}: log vol / D per layer ${p.layers.map((l) => (l.log_volume / (l.fan_in * l.fan_out)).toFixed(3)).join(', ')}; ` +
      `loss gap ${p.loss_gap.toFixed(4)}, accuracy gap ${(100 * p.accuracy_gap).toFixed(2)} points`).join('\n'),
  },
  complexity: {
    config: () => formToComplexityConfig(form, state.presetDefaults.complexity),
    csv: complexityToCsv,
    summary: complexitySummary,
  },
  modes: {
    config: () => formToModesConfig(form, state.presetDefaults.modes),
    csv: modesToCsv,
    summary: modesSummary,
  },
  noise: {
    config: () => formToNoiseConfig(form, state.presetDefaults.noise),
    csv: noiseToCsv,
    summary: (r) => r.variants.map((v) => {
      return `${v.variant.replace('_', ' ').padEnd(16)} test loss ${f(v.final_test_loss)}, test accuracy ${f(v.final_test_accuracy)}, ` +
        `gap ${v.loss_gap == null ? '-' : v.loss_gap.toFixed(4)}, log vol / D ${v.log_volume_per_weight.map((x) => x.toFixed(3)).join(', ')}` +
        (v.diverged ? `; ${v.diverged} seed(s) diverged` : '');
    }).join('\n'),
  },
  split: {
    config: () => formToSplitConfig(form, state.presetDefaults.split),
    csv: splitToCsv,
    summary: (r) => r.variants.map((v) => {
      return `${v.variant.replace('_', ' + ').padEnd(18)} test accuracy ${f(v.final_test_accuracy)}, test loss ${f(v.final_test_loss)}, ` +
        `train loss ${f(v.final_train_loss)}${v.diverged ? `; ${v.diverged} of ${r.config.seeds} seed(s) diverged` : ''}`;
    }).join('\n'),
  },
};

// Table 1 as text: one row per mode, one column per drop rate, mean ± sd over seeds.
function modesSummary(r) {
  const rates = [...new Set(r.cells.map((c) => c.rate))];
  const fmt = (c) => (c.test_accuracy
    ? `${c.test_accuracy.mean.toFixed(4)}±${c.test_accuracy.std.toFixed(4)}${c.diverged ? '*' : ''}`
    : 'diverged').padStart(16);
  const lines = [`${r.dataset}, test accuracy over ${r.config.seeds} seed(s); plain ${fmt(r.plain).trim()}`,
    `${'mode \\ drop'.padEnd(22)}${rates.map((x) => String(x).padStart(16)).join('')}`];
  const modes = [...new Set(r.cells.map((c) => JSON.stringify(c.mode)))].map((m) => JSON.parse(m));
  for (const m of modes) {
    const row = rates.map((x) => r.cells.find((c) => c.rate === x && JSON.stringify(c.mode) === JSON.stringify(m)));
    lines.push(`${modeLabel(m).padEnd(22)}${row.map((c) => (c ? fmt(c) : '-'.padStart(16))).join('')}`);
  }
  if (r.cells.some((c) => c.diverged)) lines.push('* some seeds diverged (NaN/Inf loss) and are left out of the mean');
  return lines.join('\n');
}

// Table 2 as text: one column per network, then each measure's agreement with the gap.
function complexitySummary(r) {
  const pad = (s, n) => String(s).padStart(n);
  const head = r.nets.map((n) => pad(`${n.setting.drop_rate}:${n.setting.lr}`, 10)).join('');
  const lines = [`${'drop:lr'.padEnd(16)}${head}   τ(GG)  Î(GG)`,
    `${'gap (GG)'.padEnd(16)}${r.nets.map((n) => pad(n.loss_gap.toFixed(4), 10)).join('')}`];
  for (const row of r.rows) {
    const values = row.values.map((v) => pad(v == null ? '-' : v.toPrecision(3), 10)).join('');
    const agree = row.gap ? `${pad(row.gap.kendall_tau.toFixed(2), 7)}${pad(row.gap.normalised_mi.toFixed(2), 7)}` : '      -      -';
    lines.push(`${row.name.padEnd(16)}${values}${agree}`);
  }
  lines.push('', ...r.nets.map((n) => `drop ${n.setting.drop_rate}, lr ${n.setting.lr}: σ ${n.sharpness.sigma.toExponential(2)}, ` +
    `sampling kept ${n.sampling.accepted}/${n.sampling.losses.length}` + (n.sampling.volume_error ? ` (${n.sampling.volume_error})` : '')));
  return lines.join('\n');
}
// A mean ± sd over seeds, or '-' when every seed diverged.
function f(x) {
  return x ? `${x.mean.toFixed(4)}±${x.std.toFixed(4)}` : '-';
}

// Read-only view for researchers poking at a run from the console, and for the e2e tests.
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
  $('train-button').disabled = running;
  for (const b of document.querySelectorAll('[data-preset]')) b.disabled = running;
  $('cancel-button').disabled = !running;
}
function formatSeconds(s) {
  if (!isFinite(s)) return '…';
  return s < 90 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`;
}

function drawCharts() {
  if (!state.history) return;
  const json = state.history;
  for (const metric of ['loss', 'accuracy']) {
    try {
      drawHistoryChart($(`chart-${metric}`), json, metric);
    } catch (e) {
      showError(`Could not draw the ${metric} chart: ${e.message ?? e}`);
    }
  }
}

function onProgress({ progress, history }) {
  state.history = history;
  const { step, total_steps, epoch, epochs, recent_loss } = progress;
  $('progress').max = total_steps;
  $('progress').value = step;
  // The rate excludes start-up (initialisation, first evaluation, kernel compilation).
  if (!state.etaFrom) state.etaFrom = { time: performance.now(), step };
  const elapsed = (performance.now() - state.etaFrom.time) / 1000;
  const done = step - state.etaFrom.step;
  const eta = done > 0 ? (elapsed / done) * (total_steps - step) : NaN;
  const loss = Number.isFinite(recent_loss) ? ` · batch loss ${recent_loss.toFixed(4)}` : '';
  $('progress-text').textContent = `step ${step}/${total_steps} · epoch ${epoch}/${epochs}${loss} · ETA ${formatSeconds(eta)}`;
  scheduleDraw();
  for (const id of ['export-json', 'export-csv', 'export-weights']) $(id).disabled = false;
}

// Progress can arrive faster than charts draw: coalesce to one drawing per frame, so a fast
// worker never queues up work that keeps the page from answering clicks (Cancel).
let drawPending = false;
function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    drawCharts();
    showSummary(state.history);
  });
}

function showSummary(history) {
  const h = JSON.parse(history);
  const last = h.epochs[h.epochs.length - 1];
  if (last) {
    $('summary').textContent =
      `epoch ${last.epoch}: train loss ${last.train_loss.toFixed(4)}, train acc ${(100 * last.train_accuracy).toFixed(2)}%, ` +
      `test loss ${last.test_loss.toFixed(4)}, test acc ${(100 * last.test_accuracy).toFixed(2)}% (backend ${h.backend}, seed ${h.seed})`;
  }
}

function download(name, mime, data) {
  const url = URL.createObjectURL(new Blob([data], { type: mime }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const handlers = {
  ready({ backend, notice }) {
    $('backend-badge').textContent = `backend: ${backend}`;
    if (backend !== 'webgpu') form.backend.value = 'cpu';
    if (notice) showNotice(notice);
    document.body.dataset.ready = 'true';
    loadData();
  },
  backend({ backend, notice }) {
    $('backend-badge').textContent = `backend: ${backend}`;
    form.backend.value = backend;
    if (notice) showNotice(notice);
  },
  data({ info }) {
    $('data-info').textContent = `${info.name}: ${info.train} train / ${info.test} test images of ${info.dim} pixels`;
    form.train.max = info.train;
    form.test.max = info.test;
    document.body.dataset.data = info.name;
  },
  progress(msg) {
    onProgress(msg);
  },
  done() {
    setRunning(false);
    document.body.dataset.run = 'done';
  },
  cancelled() {
    setRunning(false);
    $('progress-text').textContent += ' · cancelled';
    document.body.dataset.run = 'cancelled';
  },
  error({ message }) {
    setRunning(false);
    showError(message);
    document.body.dataset.run = 'error';
  },
  stage({ stage, done, total }) {
    $('progress').max = Math.max(total, 1);
    $('progress').value = done;
    $('progress-text').textContent = `${stage}: ${done}/${total}`;
  },
  presetDefaults({ defaults }) {
    state.presetDefaults = defaults;
  },
  preset({ name, result }) {
    state.presets[name] = result;
    $(`${name}-figure`).hidden = false;
    try {
      drawPresetChart($(`chart-${name}`), name, result);
    } catch (e) {
      showError(`Could not draw the ${name} chart: ${e.message ?? e}`);
    }
    $(`${name}-summary`).textContent = PRESETS[name].summary(JSON.parse(result));
    setRunning(false);
    document.body.dataset.run = 'done';
  },
  file({ name, mime, data }) {
    download(name, mime, data);
  },
  imported({ config }) {
    form.widths.value = config.widths.join('-');
    form.act.value = config.activation;
    form.drop.value = config.drop_rates.join(',');
    form.init.value = config.init;
    showNotice(`Imported weights for ${config.widths.join('-')}: the next run starts from them.`);
  },
};

function post(msg, transfer = []) {
  state.worker.postMessage({ v: PROTOCOL, ...msg }, transfer);
}

function loadData() {
  showError('');
  const dataset = form.dataset.value;
  $('custom-files').hidden = dataset !== 'custom';
  if (dataset !== 'custom') post({ type: 'load', dataset });
}

async function loadCustomFiles(files) {
  const named = {};
  for (const f of files) named[f.name] = await f.arrayBuffer();
  post({ type: 'loadFiles', files: named }, Object.values(named));
}

// Start a worker job from the form; a config the form cannot express is refused here.
function startJob(type, makeConfig, extra = {}) {
  showError('');
  let config;
  try {
    config = makeConfig();
  } catch (e) {
    showError(e.message);
    return;
  }
  writeFormToUrl(form);
  setRunning(true);
  document.body.dataset.run = 'running';
  state.etaFrom = null;
  post({ type, config, backend: form.backend.value, ...extra });
}
form.addEventListener('submit', (event) => {
  event.preventDefault();
  startJob('train', () => formToConfig(form));
});
for (const button of document.querySelectorAll('[data-preset]')) {
  const name = button.dataset.preset;
  button.addEventListener('click', () => startJob('preset', PRESETS[name].config, { name }));
}
for (const button of document.querySelectorAll('[data-export-json]')) {
  const name = button.dataset.exportJson;
  button.addEventListener('click', () => download(`dropout-lab-${name}.json`, 'application/json', state.presets[name]));
}
for (const button of document.querySelectorAll('[data-export-csv]')) {
  const name = button.dataset.exportCsv;
  button.addEventListener('click', () => download(`dropout-lab-${name}.csv`, 'text/csv', PRESETS[name].csv(JSON.parse(state.presets[name]))));
}
$('cancel-button').addEventListener('click', () => post({ type: 'cancel' }));
form.addEventListener('change', (event) => {
  writeFormToUrl(form);
  if (event.target.name === 'dataset') loadData();
  if (event.target.name === 'files') loadCustomFiles(event.target.files);
});
for (const button of document.querySelectorAll('[data-png]')) {
  button.addEventListener('click', () =>
    $(button.dataset.png).toBlob((blob) => download(`${button.dataset.png}.png`, 'image/png', blob)));
}
$('export-json').addEventListener('click', () => post({ type: 'export', what: 'json' }));
$('export-csv').addEventListener('click', () => post({ type: 'export', what: 'csv' }));
$('export-weights').addEventListener('click', () => post({ type: 'export', what: 'weights' }));
$('import-weights').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const bytes = await file.arrayBuffer();
  post({ type: 'importWeights', bytes }, [bytes]);
  event.target.value = '';
});

async function main() {
  readUrlIntoForm(form);
  $('custom-files').hidden = form.dataset.value !== 'custom';
  // Compile once; the worker gets the compiled module instead of downloading it again.
  const module = await WebAssembly.compileStreaming(fetch(new URL('./pkg/dropout_lab_bg.wasm', import.meta.url)));
  await init({ module_or_path: module });
  state.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  state.worker.onmessage = ({ data }) => handlers[data.type]?.(data);
  state.worker.onerror = (e) => showError(`The worker failed: ${e.message}`);
  post({ type: 'init', module, backend: form.backend.value });
  post({ type: 'presetDefaults' });
}

main().catch((e) => showError(`Dropout Lab could not start: ${e.message ?? e}`));
