// `npm run soak` (not part of `npm test`): long sessions must not leak. The real page trains
// back to back for SOAK_MINUTES (30) on each backend, alternating a free-training run and a preset
// run, and every minute samples the worker's wasm memory and the page's JS heap (after a forced
// garbage collection, split by a heap snapshot into the lab's objects and the browser's own
// compiled code and timeline buffers); then the native CLI runs one preset SOAK_NATIVE_RUNS (100)
// times in one process and reports its resident memory after each run. The wasm memory, the lab's
// heap and the native resident memory must stay within 10 % of their values after the first run
// (the whole JS heap is reported beside them). JSON on stdout; exit code 1 when a curve grew.
//   SOAK_MINUTES=30 SOAK_NATIVE_RUNS=100 SOAK_BACKENDS=webgpu,cpu node scripts/soak.mjs
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { launch, openLab, runPreset, startServer, trainToEnd } from '../tests/browser.mjs';

const minutes = Number(process.env.SOAK_MINUTES ?? 30);
const nativeRuns = Number(process.env.SOAK_NATIVE_RUNS ?? 100);
const backends = (process.env.SOAK_BACKENDS ?? 'webgpu,cpu').split(',').filter(Boolean);
const cli = process.env.DROPOUT_LAB_CLI;
const TOLERANCE = 0.10;
const TRAIN = 'view=train&dataset=mnist&train=1000&test=1000&widths=784-50-50-10&act=relu&drop=0,0.5&init=auto&opt=momentum&lr=0.05&mom=0.9&epochs=2&batch=50&seed=7';
const PRESET = { train_size: '200', test_size: '200', widths: '784-32-32-10', epochs: '2', lr: '0.001', directions: '1', points: '5', seed: '7' };
// The native soak's run: larger, as a process runs it in a fraction of the page's time.
const NATIVE = { ...PRESET, train_size: '1000', test_size: '1000', widths: '784-64-64-10', epochs: '5', directions: '2', points: '11' };
const log = (m) => console.error(`[soak] ${m}`);

/// The largest relative rise of `values` over the first, and whether it is within the tolerance.
function verdict(values) {
  const base = values[0];
  const worst = Math.max(...values.map((v) => (v - base) / base));
  return { base, max: Math.max(...values), worst_rise: worst, flat: worst <= TOLERANCE };
}

/// Bytes and counts of the page's heap by object kind (a V8 heap snapshot), so that growth can be
/// attributed: to the lab's objects, or to the browser's own buffers and compiled code.
async function heapCensus(cdp) {
  await cdp.send('HeapProfiler.collectGarbage');
  const chunks = [];
  const collect = (e) => chunks.push(e.chunk);
  cdp.on('HeapProfiler.addHeapSnapshotChunk', collect);
  await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  cdp.off('HeapProfiler.addHeapSnapshotChunk', collect);
  const { snapshot: { meta }, nodes, strings } = JSON.parse(chunks.join(''));
  const [type, name, size] = ['type', 'name', 'self_size'].map((f) => meta.node_fields.indexOf(f));
  const census = new Map();
  for (let i = 0; i < nodes.length; i += meta.node_fields.length) {
    const kind = `${meta.node_types[0][nodes[i + type]]}:${strings[nodes[i + name]].slice(0, 60)}`;
    const c = census.get(kind) ?? { count: 0, bytes: 0 };
    c.count += 1;
    c.bytes += nodes[i + size];
    census.set(kind, c);
  }
  return census;
}

/// Heap kinds that belong to the browser, not to the lab, found by the census below: V8's compiled
/// code (it grows as V8 tiers the page's JS up), the compiled code of the page's wasm module (its
/// optimising tier replaces functions as they get hot), and the performance timeline's buffered
/// entries (long animation frames with their script timings, task attributions, layout shifts and
/// their rectangles, paints: each kind is buffered up to the size its spec sets, 150-200 entries,
/// then no more). All are bounded; none holds lab state.
const BROWSER_OWNED = [
  /^code:/,
  /^native:system \/ CppGCManaged \(WasmNativeModule\)$/,
  /^(object|native):(Performance\w*Timing|PerformanceEntry|LargestContentfulPaint|LayoutShift\w*|TaskAttributionTiming|PerformancePaintTiming|blink::ScriptTimingInfo|DOMRectReadOnly)$/,
];
const browserOwned = (kind) => BROWSER_OWNED.some((re) => re.test(kind));

/// The heap's bytes split into the lab's (everything else) and the browser's own.
function split(census) {
  let lab = 0;
  let browser = 0;
  for (const [kind, c] of census) {
    if (browserOwned(kind)) browser += c.bytes;
    else lab += c.bytes;
  }
  return { lab, browser };
}

/// The `top` kinds that grew most in bytes from census `a` to `b`.
function growth(a, b, top = 12) {
  return [...b].map(([kind, c]) => ({ kind, count: c.count - (a.get(kind)?.count ?? 0), bytes: c.bytes - (a.get(kind)?.bytes ?? 0) }))
    .sort((x, y) => y.bytes - x.bytes).slice(0, top);
}

async function soakPage(url, backend) {
  const browser = await launch({ webgpu: backend === 'webgpu' });
  try {
    const { page } = await openLab(browser, `${url}?${TRAIN}&backend=${backend}`);
    await page.waitForSelector('body[data-data="mnist"]');
    const cdp = await page.context().newCDPSession(page);
    const sample = async (minute, runs) => {
      await cdp.send('HeapProfiler.collectGarbage');
      const { usedSize } = await cdp.send('Runtime.getHeapUsage');
      const { wasmBytes } = await page.evaluate(() => new Promise((resolve) => {
        window.dropoutLab.onMemory = resolve;
        window.dropoutLab.worker.postMessage({ type: 'memory' });
      }));
      const { lab, browser } = split(await heapCensus(cdp));
      const s = { minute, runs, wasm_bytes: wasmBytes, js_heap_bytes: usedSize, lab_heap_bytes: lab, browser_heap_bytes: browser };
      log(`${backend} ${JSON.stringify(s)}`);
      return s;
    };
    const presetQuery = new URLSearchParams({ view: 'preset', preset: 'fig1a', backend, dataset: 'mnist', ...PRESET });
    const trainUrl = `${url}?${TRAIN}&backend=${backend}`;
    const presetUrl = `${url}?${presetQuery}`;
    // Views switch through the page's own links (history.pushState), so the page and its worker
    // live for the whole soak, as at a booth.
    const go = (target) => page.evaluate((href) => {
      const a = Object.assign(document.createElement('a'), { href });
      a.dataset.route = '';
      document.body.append(a);
      a.click();
      a.remove();
    }, target);
    const start = Date.now();
    const samples = [];
    let firstCensus = null;
    let runs = 0;
    let nextSample = 0;
    while (Date.now() - start < minutes * 60_000) {
      await go(trainUrl);
      await trainToEnd(page);
      await go(presetUrl);
      await runPreset(page, 'fig1a', backend);
      runs += 2;
      const minute = (Date.now() - start) / 60_000;
      if (samples.length === 0 || minute >= nextSample) {
        samples.push(await sample(Number(minute.toFixed(2)), runs));
        nextSample = Math.floor(minute) + 1;
      }
      firstCensus ??= await heapCensus(cdp);
    }
    return {
      runs,
      samples,
      heap_growth_by_kind: growth(firstCensus, await heapCensus(cdp)),
      wasm: verdict(samples.map((s) => s.wasm_bytes)),
      // The bound applies to what the lab owns; the whole heap is reported beside it.
      lab_heap: verdict(samples.map((s) => s.lab_heap_bytes)),
      js_heap_total: verdict(samples.map((s) => s.js_heap_bytes)),
    };
  } finally {
    await browser.close();
  }
}

function soakNative() {
  return new Promise((resolve, reject) => {
    const args = ['run', 'fig1a', '--repeat', String(nativeRuns), '--out', '/dev/null',
      ...Object.entries(NATIVE).flatMap(([k, v]) => ['--set', `${k}=${v}`])];
    const child = spawn(cli, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const samples = [];
    let buffered = '';
    child.stderr.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        if (!line.startsWith('{"soak"')) continue;
        const { soak } = JSON.parse(line);
        samples.push(soak);
        if (soak.run % 10 === 0) log(`native ${JSON.stringify(soak)}`);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${cli} exited with ${code}`));
      resolve({ runs: samples.length, samples, rss: verdict(samples.map((s) => s.rss_bytes)) });
    });
  });
}

const report = { date: new Date().toISOString(), minutes_per_backend: minutes, tolerance: TOLERANCE, page: {}, native: null };
const { server, url } = await startServer();
try {
  for (const b of backends) report.page[b] = await soakPage(url, b);
} finally {
  server.close();
}
if (nativeRuns > 0 && cli && existsSync(cli)) report.native = await soakNative();
else log('native soak skipped: set DROPOUT_LAB_CLI to the dropout-lab binary (`npm run soak` does)');
console.log(JSON.stringify(report, null, 2));
const flat = [...Object.values(report.page).flatMap((p) => [p.wasm, p.lab_heap]), report.native?.rss].filter(Boolean).every((v) => v.flat);
if (!flat) {
  log('memory grew by more than 10 % after the first run');
  process.exitCode = 1;
}
