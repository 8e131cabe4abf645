// The page's peak memory while it loads a full-size CIFAR-10 archive (50000 + 10000 records in
// the real format; pixels from a fixed generator, since no registry ships CIFAR). The archive is
// deployed under www/data/ for the run and removed after. Reports the worker's wasm memory (it
// only grows, so its size after loading is its peak) and the peak resident memory (VmHWM) of the
// browser's renderer processes, which host the page and its worker. JSON on stdout.
//   node scripts/cifar-memory.mjs      (after `npm run build`)
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launch, openLab, startServer } from '../tests/browser.mjs';
import { cifar10Archive } from '../tests/cifar-archive.mjs';

const log = (m) => console.error(`[cifar-memory] ${m}`);
const archivePath = fileURLToPath(new URL('../www/data/cifar-10-binary.tar.gz', import.meta.url));
const listData = () => execFileSync(process.execPath, [fileURLToPath(new URL('./data-index.mjs', import.meta.url))]);

/// Peak resident kB of each Chromium renderer process.
function rendererPeaks() {
  const peaks = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('--type=renderer')) continue;
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (hwm) peaks.push(Number(hwm[1]));
    } catch { /* the process ended */ }
  }
  return peaks;
}

log('building a full-size cifar-10-binary.tar.gz (6 x 10000 records)');
const archive = cifar10Archive(10000);
writeFileSync(archivePath, archive);
listData();
const { server, url } = await startServer();
const browser = await launch({ webgpu: false });
try {
  const { page } = await openLab(browser, `${url}?view=train&dataset=cifar-10&backend=cpu`);
  const started = Date.now();
  await page.waitForSelector('body[data-data="cifar-10"]', { timeout: 600_000 });
  const seconds = (Date.now() - started) / 1000;
  const { wasmBytes } = await page.evaluate(() => new Promise((resolve) => {
    window.dropoutLab.onMemory = resolve;
    window.dropoutLab.worker.postMessage({ type: 'memory' });
  }));
  const report = {
    archive_bytes: archive.length,
    load_seconds: seconds,
    data_info: await page.textContent('#data-info'),
    wasm_memory_bytes: wasmBytes,
    renderer_peak_rss_kb: Math.max(...rendererPeaks()),
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  await browser.close();
  server.close();
  rmSync(archivePath, { force: true });
  listData();
}
