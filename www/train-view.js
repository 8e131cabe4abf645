// The free-training view: the form -> TrainConfig (an MLP's `model` or a conv net's `arch`), loss and accuracy charts while it trains,
// history and weights export, and weights import (the lab's own or a plain PyTorch state_dict).
import { TRAIN_FIELDS, formToConfig, setTrainField } from './config.js';
import { download, importWeightsFrom } from './files.js';

const $ = (id) => document.getElementById(id);
const formatSeconds = (s) => (!Number.isFinite(s) ? '…' : s < 90 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`);

export class TrainView {
  constructor(ctx) {
    this.ctx = ctx;
    this.form = $('controls');
    this.history = null;
    this.etaFrom = null;
    this.drawPending = false;
    this.defaults = this.fields();
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.start(); });
    this.form.addEventListener('change', () => ctx.onChange());
    $('cancel-button').addEventListener('click', () => ctx.post({ type: 'cancel' }));
    for (const b of this.form.parentElement.querySelectorAll('[data-png]')) {
      b.addEventListener('click', () => $(b.dataset.png).toBlob((blob) => download(`${b.dataset.png}.png`, 'image/png', blob)));
    }
    for (const b of this.form.parentElement.querySelectorAll('[data-svg]')) {
      b.addEventListener('click', () => {
        const c = $(`chart-${b.dataset.svg}`);
        download(`chart-${b.dataset.svg}.svg`, 'image/svg+xml', ctx.wasm.historySvg(this.history, b.dataset.svg, c.width, c.height));
      });
    }
    $('export-json').addEventListener('click', () => ctx.post({ type: 'export', what: 'json' }));
    $('export-csv').addEventListener('click', () => ctx.post({ type: 'export', what: 'csv' }));
    $('export-weights').addEventListener('click', () => ctx.post({ type: 'export', what: 'weights' }));
    importWeightsFrom($('import-weights'), $('import-act'), ctx.post);
  }

  fields() {
    return Object.fromEntries(TRAIN_FIELDS.map((n) => [n, this.form.elements[n].value]));
  }

  /// Fill the form from a link. Returns the problems (one line each): fields the form cannot
  /// hold fall back to their defaults, unknown ones are ignored. Widths go first, since the drop
  /// rates are checked against them.
  open(fields) {
    const problems = [];
    const order = Object.keys(fields).sort((a, b) => (b === 'widths') - (a === 'widths'));
    for (const k of order) {
      if (!TRAIN_FIELDS.includes(k)) problems.push(`${k}: not a setting of free training (ignored)`);
      else {
        const problem = setTrainField(this.form, k, fields[k], this.defaults[k]);
        if (problem) problems.push(problem);
      }
    }
    return problems;
  }

  start() {
    this.ctx.showError('');
    let config;
    try {
      config = formToConfig(this.form);
    } catch (e) {
      this.ctx.showError(e.message);
      return;
    }
    if (config.arch) {
      const side = Math.round(Math.sqrt(this.dataDim ?? 0));
      const native = config.arch.arch === 'lenet5' ? 28 : 32;
      if (side * side === this.dataDim && side < native) {
        this.ctx.showNotice(`${config.arch.arch} was built for ${native}x${native} images: the ${side}x${side} grey images are zero-padded by ${(native - side) / 2} pixels on each side.`);
      }
    }
    this.ctx.onChange();
    this.ctx.setRunning(true);
    this.etaFrom = null;
    this.ctx.post({ type: 'train', config, backend: this.ctx.backend() });
  }

  onData(info) {
    this.dataDim = info.dim;
    this.form.train.max = info.train;
    this.form.test.max = info.test;
  }

  onProgress({ progress, history }) {
    this.history = history;
    window.dropoutLab.history = history;
    const { step, total_steps, epoch, epochs, recent_loss } = progress;
    $('progress').max = total_steps;
    $('progress').value = step;
    // The rate excludes start-up (initialisation, first evaluation, kernel compilation).
    if (!this.etaFrom) this.etaFrom = { time: performance.now(), step };
    const elapsed = (performance.now() - this.etaFrom.time) / 1000;
    const done = step - this.etaFrom.step;
    const eta = done > 0 ? (elapsed / done) * (total_steps - step) : NaN;
    const loss = Number.isFinite(recent_loss) ? ` · batch loss ${recent_loss.toFixed(4)}` : '';
    $('progress-text').textContent = `step ${step}/${total_steps} · epoch ${epoch}/${epochs}${loss} · ETA ${formatSeconds(eta)}`;
    this.scheduleDraw();
    for (const id of ['export-json', 'export-csv', 'export-weights']) $(id).disabled = false;
  }

  // Progress can arrive faster than charts draw: coalesce to one drawing per frame, so a fast
  // worker never queues up work that keeps the page from answering clicks (Cancel).
  scheduleDraw() {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      this.draw();
    });
  }

  draw() {
    if (!this.history) return;
    for (const metric of ['loss', 'accuracy']) {
      try {
        this.ctx.wasm.drawHistoryChart($(`chart-${metric}`), this.history, metric);
      } catch (e) {
        this.ctx.showError(`Could not draw the ${metric} chart: ${e.message ?? e}`);
      }
    }
    const h = JSON.parse(this.history);
    const last = h.epochs[h.epochs.length - 1];
    if (last) {
      $('summary').textContent =
        `epoch ${last.epoch}: train loss ${last.train_loss.toFixed(4)}, train acc ${(100 * last.train_accuracy).toFixed(2)}%, ` +
        `test loss ${last.test_loss.toFixed(4)}, test acc ${(100 * last.test_accuracy).toFixed(2)}% (backend ${h.backend}, seed ${h.seed})`;
    }
  }

  onImported({ config, label, source }) {
    if (!config) {
      // A named architecture: pick it in the network field to train on from these weights.
      this.ctx.showNotice(`Imported ${source} weights for ${label}: a run of that network starts from them, and the gallery's Fig 2 and Fig 4 analyse it.`);
      return;
    }
    this.form.widths.value = config.widths.join('-');
    this.form.act.value = config.activation;
    this.form.drop.value = config.drop_rates.join(',');
    this.form.init.value = config.init;
    this.ctx.showNotice(`Imported ${source} weights for ${config.widths.join('-')}: the next run starts from them.`);
  }
}
