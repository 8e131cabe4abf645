// `npm run bench`: open www/bench.html in headless Chromium (WebGPU on whatever adapter it finds)
// and print the results as JSON, next to the native Hessian benchmark (the CLI built by
// scripts/with-cli.sh). Not a test: nothing is asserted about speed.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { launch, startServer } from './browser.mjs';

const steps = Number(process.env.BENCH_STEPS ?? 20);
// The browser's Hessian benchmark: 10000 rows (the paper's) take half an hour on SwiftShader.
const hessianRows = Number(process.env.BENCH_HESSIAN_ROWS ?? 1000);
const nativeRows = Number(process.env.BENCH_NATIVE_HESSIAN_ROWS ?? 10000);
// Conv-net training steps per backend (ResNet-20 at batch 128 takes seconds per step on a CPU).
const convSteps = Number(process.env.BENCH_CONV_STEPS ?? 3);
// Timed calls per conv layer in the per-layer breakdown (`conv_layers`; 0 skips it).
const convLayerReps = Number(process.env.BENCH_CONV_LAYERS ?? 2);
const cli = process.env.DROPOUT_LAB_CLI;
// cubecl's tasks_max values to sweep on WebGPU (MLP training only, a fresh worker each; the main
// run has its default, 32), e.g. BENCH_TASKS_MAX=8,128; empty skips the sweep.
const tasksMax = process.env.BENCH_TASKS_MAX ?? '8,128';
// BENCH_BACKENDS=cpu: the wasm CPU backend only (WebGPU disabled in the browser).
const webgpu = (process.env.BENCH_BACKENDS ?? 'webgpu,cpu').split(',').includes('webgpu');

let native = null;
let nativeConv = null;
if (cli && existsSync(cli)) {
  console.error(`native Hessian benchmark (${nativeRows} rows)…`);
  native = JSON.parse(execFileSync(cli, ['bench-hessian', '--rows', String(nativeRows), '--k', '20']).toString());
  console.error(`native conv-net training benchmark (${convSteps} steps each)…`);
  nativeConv = JSON.parse(execFileSync(cli, ['bench-conv', '--steps', String(convSteps)]).toString());
}
const { server, url } = await startServer();
const browser = await launch({ webgpu });
try {
  const page = await browser.newPage();
  await page.goto(`${url}bench.html?steps=${steps}&hessian_rows=${hessianRows}&conv_steps=${convSteps}&conv_layers=${convLayerReps}&tasks_max=${tasksMax}`);
  await page.waitForFunction(() => window.benchResults, null, { timeout: 0 });
  const results = await page.evaluate(() => window.benchResults);
  console.log(JSON.stringify({ date: new Date().toISOString(), steps, ...results, native: { hessian: native, conv_training: nativeConv } }, null, 2));
  if (results.error) process.exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
