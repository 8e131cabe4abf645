// `npm run bench`: open www/bench.html in headless Chromium (WebGPU on whatever adapter it finds)
// and print the results as JSON. Not a test: nothing is asserted about speed.
import { launch, startServer } from './browser.mjs';

const steps = Number(process.env.BENCH_STEPS ?? 20);
const { server, url } = await startServer();
const browser = await launch({ webgpu: true });
try {
  const page = await browser.newPage();
  await page.goto(`${url}bench.html?steps=${steps}`);
  await page.waitForFunction(() => window.benchResults, null, { timeout: 0 });
  const results = await page.evaluate(() => window.benchResults);
  console.log(JSON.stringify({ date: new Date().toISOString(), steps, ...results }, null, 2));
  if (results.error) process.exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
