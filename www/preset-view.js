// One preset at a time: its form built from the Rust schema (demo and paper values side by side),
// Run / Cancel with stage progress and an ETA, its charts (PNG and SVG), summary and exports. The
// same view shows a result file opened from disk. Nothing here is written per preset.
import { download, importWeightsFrom } from './files.js';

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};
const formatSeconds = (s) => (!Number.isFinite(s) ? '…' : s < 90 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`);
// Times of earlier runs, per figure, backend and exact config (a string hash of its JSON); the
// gallery's card shows the demo config's.
const hash = (text) => [...text].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) | 0, 0).toString(36);
const timeKey = (id, backend, config) => `dropout-lab:seconds:${id}:${backend}${config ? `:${hash(config)}` : ''}`;

export class PresetView {
  /// ctx: { catalogue, wasm, post, showError, showNotice, setRunning, backend(), activeBackend(), onChange(), gallery }
  constructor(ctx) {
    this.ctx = ctx;
    this.entry = null;
    this.scale = 'demo';
    this.result = null;
    this.started = null;
    $('preset-form').addEventListener('submit', (e) => { e.preventDefault(); this.run(); });
    $('preset-form').addEventListener('change', () => ctx.onChange());
    $('preset-cancel').addEventListener('click', () => ctx.post({ type: 'cancel' }));
    $('reset-demo').addEventListener('click', () => this.reset('demo'));
    $('reset-paper').addEventListener('click', () => this.reset('paper'));
    $('preset-json').addEventListener('click', () => download(`dropout-lab-${this.entry.id}.json`, 'application/json', this.result));
    $('preset-csv').addEventListener('click', () => download(`dropout-lab-${this.entry.id}.csv`, 'text/csv', ctx.wasm.resultCsv(this.result)));
    importWeightsFrom($('preset-weights-file'), $('preset-weights-act'), ctx.post);
  }

  /// Imported weights (from here or the Train view): presets that analyse one network may use them.
  onImported({ label, source, name }) {
    $('preset-use-weights').disabled = false;
    $('preset-use-weights').checked = true;
    $('preset-weights-status').textContent = `Imported ${label} (${source === 'pytorch' ? 'PyTorch state_dict' : 'Dropout Lab file'}${name ? `, ${name}` : ''}).`;
  }

  get id() { return this.entry?.id; }

  /// Show preset `id` with `fields` ({ key: text }, e.g. from a link) over the `scale` values.
  /// Unusable fields are listed in one notice and fall back to the scale's value.
  open(id, { fields = {}, scale = 'demo' } = {}) {
    const entry = this.ctx.catalogue.find((e) => e.id === id);
    if (!entry) throw new Error(`There is no figure "${id}" in this lab.`);
    this.entry = entry;
    this.scale = scale === 'paper' ? 'paper' : 'demo';
    this.result = null;
    $('preset-title').textContent = `Paper ${entry.paper}, ${entry.figure}: ${entry.title}`;
    $('preset-claim').textContent = entry.claim;
    $('preset-description').textContent = entry.description;
    $('preset-reference').textContent = `Where: ${entry.reference}`;
    $('preset-weights').hidden = !entry.weights;
    $('preset-weights-note').textContent = entry.weights ?? '';
    this.buildForm();
    this.fill(this.scale);
    const known = new Set(entry.fields.map((f) => f.key));
    const given = Object.fromEntries(Object.entries(fields).filter(([k]) => known.has(k)));
    const unknown = Object.keys(fields).filter((k) => !known.has(k));
    const problems = unknown.map((k) => `${k}: not a setting of this figure (ignored)`);
    if (Object.keys(given).length) {
      const checked = JSON.parse(this.ctx.wasm.presetConfig(id, this.scale, JSON.stringify(given)));
      const bad = new Set(checked.errors.map((e) => e.key));
      for (const [k, v] of Object.entries(given)) if (!bad.has(k)) this.setField(k, v);
      problems.push(...checked.errors.map((e) => `${e.message} (using ${this.fieldText(e.key)})`));
    }
    if (problems.length) this.ctx.showNotice(`Some settings in the link could not be used:\n${problems.join('\n')}`);
    this.clearResult();
    this.updateScaleNote();
  }

  buildForm() {
    const main = $('preset-fields');
    const advanced = $('preset-advanced');
    main.replaceChildren();
    advanced.replaceChildren();
    for (const f of this.entry.fields) {
      const id = `field-${f.key.replaceAll('.', '-')}`;
      let input;
      if (f.kind.type === 'choice') {
        input = el('select', { id, name: f.key });
        for (const o of f.kind.options) input.append(el('option', { value: o.text, textContent: o.label }));
      } else if (f.kind.type === 'bool') {
        input = el('input', { id, name: f.key, type: 'checkbox' });
      } else {
        input = el('input', { id, name: f.key, type: 'text', spellcheck: false });
        if (f.kind.type === 'int' || f.kind.type === 'float') input.inputMode = 'decimal';
      }
      const label = el('label', { htmlFor: id, textContent: f.unit ? `${f.label} (${f.unit})` : f.label });
      const values = el('div', { className: 'values', textContent: f.demo === f.paper ? `demo and paper: ${f.demo}` : `demo: ${f.demo} · paper: ${f.paper}` });
      const row = el('div', { className: 'field' }, label, input, values);
      if (f.help) row.append(el('div', { className: 'values', textContent: f.help }));
      (f.advanced ? advanced : main).append(row);
    }
    $('preset-advanced-box').hidden = advanced.childElementCount === 0;
    const charts = $('preset-charts');
    charts.replaceChildren();
    for (const c of this.entry.charts) {
      const canvas = el('canvas', { id: `chart-${this.entry.id}-${c.id}`, width: c.width, height: c.height });
      canvas.setAttribute('aria-label', c.title);
      const png = el('button', { type: 'button', textContent: `${c.title}: PNG` });
      png.dataset.png = c.id;
      png.addEventListener('click', () => canvas.toBlob((b) => download(`dropout-lab-${this.entry.id}-${c.id}.png`, 'image/png', b)));
      const svg = el('button', { type: 'button', textContent: 'SVG' });
      svg.dataset.svg = c.id;
      svg.addEventListener('click', () => download(`dropout-lab-${this.entry.id}-${c.id}.svg`, 'image/svg+xml', this.ctx.wasm.resultSvg(this.result, c.id)));
      const fig = el('figure', { hidden: true }, canvas, el('figcaption', {}, png, ' ', svg));
      fig.dataset.chart = c.id;
      charts.append(fig);
    }
  }

  input(key) { return $('preset-form').elements[key]; }
  setField(key, text) {
    const input = this.input(key);
    if (!input) return;
    if (input.type === 'checkbox') input.checked = text === 'true';
    else input.value = text;
    input.removeAttribute('aria-invalid');
  }
  fieldText(key) {
    const input = this.input(key);
    return input.type === 'checkbox' ? String(input.checked) : input.value;
  }
  /// Every field as { key: text }: what the URL holds and what `presetConfig` parses.
  fields() {
    return Object.fromEntries(this.entry.fields.map((f) => [f.key, this.fieldText(f.key)]));
  }
  fill(scale) {
    for (const f of this.entry.fields) this.setField(f.key, scale === 'paper' ? f.paper : f.demo);
  }
  reset(scale) {
    this.scale = scale;
    this.fill(scale);
    this.updateScaleNote();
    this.ctx.onChange();
  }
  updateScaleNote() {
    $('preset-scale').textContent = this.scale === 'paper'
      ? 'Paper scale: these runs take minutes to hours; `dropout-lab run` natively is the better place for them.'
      : 'Demo scale: about a minute.';
  }

  /// Check the form with the Rust parser; start the run when every field is usable.
  run() {
    this.ctx.showError('');
    for (const f of this.entry.fields) this.input(f.key).removeAttribute('aria-invalid');
    const checked = JSON.parse(this.ctx.wasm.presetConfig(this.id, this.scale, JSON.stringify(this.fields())));
    if (checked.errors.length) {
      for (const e of checked.errors) this.input(e.key)?.setAttribute('aria-invalid', 'true');
      this.ctx.showError(checked.errors.map((e) => e.message).join('\n'));
      return;
    }
    if (checked.invalid) {
      this.ctx.showError(checked.invalid);
      return;
    }
    this.ctx.onChange();
    this.ctx.setRunning(true);
    const fields = this.fields();
    const demo = this.entry.fields.every((f) => fields[f.key] === f.demo) && this.scale === 'demo';
    const config = JSON.stringify(checked.config);
    this.started = { time: performance.now(), backend: this.ctx.activeBackend(), id: this.id, demo, config };
    $('preset-progress-text').textContent = 'starting…';
    const useWeights = Boolean(this.entry.weights) && $('preset-use-weights').checked;
    this.ctx.post({ type: 'preset', name: this.id, config: JSON.stringify(checked.config), backend: this.ctx.backend(), useWeights });
  }

  /// How long this exact run took before here, or the gallery's run of the demo config.
  expectedSeconds({ id, backend, demo, config }) {
    const mine = Number(localStorage.getItem(timeKey(id, backend, config)));
    if (mine > 0) return { seconds: mine, source: 'your last run of these settings' };
    const shipped = this.ctx.gallery?.[id]?.seconds?.[backend];
    if (demo && shipped > 0) return { seconds: shipped, source: 'the gallery run' };
    return null;
  }

  onStage({ stage, done, total }) {
    $('preset-progress').max = Math.max(total, 1);
    $('preset-progress').value = done;
    const elapsed = this.started ? (performance.now() - this.started.time) / 1000 : 0;
    const expected = this.started ? this.expectedSeconds(this.started) : null;
    const eta = expected ? ` · about ${formatSeconds(Math.max(0, expected.seconds - elapsed))} left (from ${expected.source})` : '';
    $('preset-progress-text').textContent = `${stage}: ${done}/${total} · ${formatSeconds(elapsed)} so far${eta}`;
  }

  onResult(result) {
    let text = result;
    if (this.started) {
      const seconds = (performance.now() - this.started.time) / 1000;
      const file = JSON.parse(result);
      file.elapsed_s = seconds;
      text = JSON.stringify(file);
      localStorage.setItem(timeKey(this.started.id, this.started.backend, this.started.config), String(seconds));
      if (this.started.demo) localStorage.setItem(timeKey(this.started.id, this.started.backend), String(seconds));
      $('preset-progress-text').textContent = `done in ${formatSeconds(seconds)}`;
      this.started = null;
    }
    this.show(text);
  }

  /// Draw a result file (a run's, or one opened from disk) into this view.
  show(resultText) {
    this.result = resultText;
    const file = JSON.parse(resultText);
    const problems = [];
    for (const fig of $('preset-charts').children) {
      fig.hidden = false;
      try {
        this.ctx.wasm.drawResult(this.id, resultText, fig.querySelector('canvas'), fig.dataset.chart);
      } catch (e) {
        problems.push(`Could not draw ${fig.dataset.chart}: ${e.message ?? e}`);
      }
    }
    $('preset-summary').textContent = this.ctx.wasm.resultSummary(resultText);
    $('preset-provenance').textContent = `${file.preset} · ${file.dataset} · backend ${file.backend} · seed ${file.seed ?? '-'} · ` +
      `Dropout Lab ${file.crate_version}` + (file.elapsed_s ? ` · ${formatSeconds(file.elapsed_s)}` : '') +
      (file.weights ? ` · imported network ${file.weights}, not trained here` : '');
    $('preset-json').disabled = false;
    $('preset-csv').disabled = false;
    if (problems.length) this.ctx.showError(problems.join('\n'));
  }

  /// Show a result file's config in the form (its fields as text) and its charts.
  showFile(resultText) {
    const file = JSON.parse(resultText);
    this.open(file.preset);
    for (const f of this.entry.fields) {
      const v = f.key.split('.').reduce((o, k) => (o == null ? undefined : o[k]), file.config);
      if (v !== undefined) this.setField(f.key, this.formatValue(f, v));
    }
    this.show(resultText);
  }

  /// The text of a JSON value, by asking Rust to format it through the field's kind.
  formatValue(field, value) {
    return this.ctx.wasm.formatField(this.id, field.key, JSON.stringify(value));
  }

  clearResult() {
    this.result = null;
    for (const fig of $('preset-charts').children) fig.hidden = true;
    $('preset-summary').textContent = '';
    $('preset-provenance').textContent = '';
    $('preset-progress').value = 0;
    $('preset-progress-text').textContent = 'idle';
    $('preset-json').disabled = true;
    $('preset-csv').disabled = true;
  }
}
