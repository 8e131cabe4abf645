// Shared Playwright setup: Debian's Chromium (never a downloaded browser), the page served by
// scripts/serve.mjs on 127.0.0.1, and a record of every console error.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { CSP, serve } from '../scripts/serve.mjs';

export const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;
mkdirSync(ARTIFACTS, { recursive: true });

const BASE_ARGS = [
  '--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
];

export async function startServer() {
  const server = await serve(0);
  return { server, url: `http://127.0.0.1:${server.address().port}/` };
}

export async function launch({ webgpu }) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: webgpu ? [...BASE_ARGS, '--enable-unsafe-webgpu'] : [...BASE_ARGS, '--disable-features=WebGPU'],
  });
}

export async function openLab(browser, url) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => { if (m.type() === 'error') errors.push(`worker: ${m.text()}`); }));
  // Nothing leaves the origin: any request elsewhere is an error of the test (CSP violations
  // already show up as console errors).
  const origin = new URL(url).origin;
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!['data:', 'blob:'].includes(u.protocol) && u.origin !== origin) errors.push(`request to another origin: ${r.url()}`);
  });
  const response = await page.goto(url);
  assert.equal(response.headers()['content-security-policy'], CSP, 'the page is served with the lab\'s CSP');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  return { page, errors };
}

/// Press Train and wait for the run to end; returns the run's history.
export async function trainToEnd(page, timeout = 480_000) {
  await page.click('#train-button');
  await page.waitForSelector('body[data-run="done"], body[data-run="error"], body[data-run="cancelled"]', { timeout });
  const outcome = await page.getAttribute('body', 'data-run');
  if (outcome !== 'done') throw new Error(`run ended with ${outcome}: ${await page.textContent('#error')}`);
  return JSON.parse(await page.evaluate(() => window.dropoutLab.history));
}

/// Open preset `id` with `fields` ({ key: text }) through a link, wait for the data.
export async function openPreset(browser, url, id, fields = {}, { backend = 'cpu', extra = '' } = {}) {
  const q = new URLSearchParams({ view: 'preset', preset: id, backend, dataset: 'mnist', ...fields });
  const opened = await openLab(browser, `${url}?${q}${extra}`);
  await opened.page.waitForSelector('body[data-data="mnist"]');
  return opened;
}

/// Select `backend`, press Run and wait for the run to end; returns the preset's result (the
/// result file's `result`, with the file itself under `file`).
export async function runPreset(page, name, backend, timeout = 480_000) {
  await page.selectOption('select[name="backend"]', backend);
  await page.evaluate(() => { document.body.dataset.run = ''; });
  await page.click('#run-button');
  // A config the page refuses shows an error without starting a run: stop waiting then too.
  await page.waitForSelector('body[data-run="done"], body[data-run="error"], body[data-run="cancelled"], #error:not([hidden])', { timeout });
  const outcome = await page.getAttribute('body', 'data-run');
  if (outcome !== 'done') throw new Error(`${name} ended with ${outcome}: ${await page.textContent('#error')}`);
  const file = JSON.parse(await page.evaluate((n) => window.dropoutLab.presets[n], name));
  assert.equal(file.preset, name);
  return { ...file.result, file };
}

/// Press Run expecting the page to refuse the form; returns the error text.
export async function refused(page) {
  await page.evaluate(() => { document.getElementById('error').hidden = true; });
  await page.click('#run-button');
  await page.waitForSelector('#error:not([hidden])');
  return page.textContent('#error');
}

/// A plain PyTorch state_dict (no lab metadata) of f32 tensors `[name, shape, values?]`,
/// values absent = zeros, as `safetensors.torch.save_file` writes it.
export function stateDict(tensors) {
  const header = {};
  const parts = [];
  let offset = 0;
  for (const [name, shape, values] of tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Buffer.alloc(4 * n);
    (values ?? []).forEach((v, i) => data.writeFloatLE(v, 4 * i));
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + 4 * n] };
    parts.push(data);
    offset += 4 * n;
  }
  const text = JSON.stringify(header);
  const headerBytes = Buffer.from(text.padEnd(8 * Math.ceil(text.length / 8)));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  return Buffer.concat([len, headerBytes, ...parts]);
}

/// A plain PyTorch state_dict of an nn.Sequential of Linear layers with all-zero weights, as
/// `safetensors.torch.save_file` writes it (no lab metadata): its outputs are uniform, so its loss
/// is ln(classes) whatever the data.
export function zeroStateDict(widths) {
  const header = {};
  let offset = 0;
  for (let l = 0; l + 1 < widths.length; l++) {
    for (const [name, shape] of [[`${2 * l}.weight`, [widths[l + 1], widths[l]]], [`${2 * l}.bias`, [widths[l + 1]]]]) {
      const bytes = 4 * shape.reduce((a, b) => a * b, 1);
      header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
    }
  }
  const text = JSON.stringify(header);
  const headerBytes = Buffer.from(text.padEnd(8 * Math.ceil(text.length / 8)));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  return Buffer.concat([len, headerBytes, Buffer.alloc(offset)]);
}
