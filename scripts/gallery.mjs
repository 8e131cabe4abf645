// Regenerate www/gallery/: every preset run once at demo scale in the real page (headless
// Chromium, the wasm CPU backend), its result file, its first chart as an SVG thumbnail, and the
// wall time the page measured, which the gallery shows as the expected time. Run after a build:
//   node scripts/gallery.mjs [id ...]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { launch, openPreset, runPreset, startServer } from '../tests/browser.mjs';

const OUT = new URL('../www/gallery/', import.meta.url).pathname;
mkdirSync(OUT, { recursive: true });
const indexPath = `${OUT}index.json`;
let index = {};
try { index = JSON.parse(readFileSync(indexPath, 'utf8')); } catch { /* first run */ }

const { server, url } = await startServer();
const browser = await launch({ webgpu: false });
try {
  const probe = await browser.newPage();
  await probe.goto(url);
  await probe.waitForFunction(() => window.dropoutLab?.catalogue?.length > 0, null, { timeout: 120_000 });
  const catalogue = await probe.evaluate(() => window.dropoutLab.catalogue);
  await probe.close();
  const wanted = process.argv.slice(2);
  for (const e of catalogue.filter((x) => wanted.length === 0 || wanted.includes(x.id))) {
    const { page } = await openPreset(browser, url, e.id);
    const r = await runPreset(page, e.id, 'cpu', 1_800_000);
    const text = await page.evaluate((id) => window.dropoutLab.presets[id], e.id);
    const svg = await page.evaluate(([t, c]) => window.dropoutLab.wasm.resultSvg(t, c), [text, e.charts[0].id]);
    writeFileSync(`${OUT}${e.id}.json`, text);
    writeFileSync(`${OUT}${e.id}.svg`, svg);
    index[e.id] = { seconds: { cpu: Math.round(r.file.elapsed_s) }, thumbnail: `${e.id}.svg`, result: `${e.id}.json`, crate_version: r.file.crate_version };
    writeFileSync(indexPath, `${JSON.stringify(index, null, 2)}\n`);
    console.error(`${e.id}: ${r.file.elapsed_s.toFixed(1)} s`);
    await page.close();
  }
} finally {
  await browser.close();
  server.close();
}
