// The static server: only files inside its root (no `..` in any spelling, no symlink out), only
// GET and HEAD, and a Content-Security-Policy of 'self' on every response. Raw requests, so the
// client does not normalise the paths first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSP, serve } from '../scripts/serve.mjs';

let dir, server, port;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dropout-lab-serve-'));
  const root = join(dir, 'www');
  await mkdir(join(root, 'sub'), { recursive: true });
  await writeFile(join(root, 'index.html'), '<!doctype html><p>lab</p>');
  await writeFile(join(root, 'sub', 'a.json'), '{"a":1}');
  await writeFile(join(dir, 'secret.txt'), 'outside the root');
  await mkdir(join(dir, 'www-evil'));
  await writeFile(join(dir, 'www-evil', 'x.txt'), 'a sibling whose name starts like the root');
  await symlink(join(dir, 'secret.txt'), join(root, 'leak.txt'));
  await symlink(dir, join(root, 'up'));
  await symlink(join(root, 'sub', 'a.json'), join(root, 'inside.json'));
  server = await serve(0, root);
  port = server.address().port;
});

after(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

function get(path, method = 'GET') {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => ok({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

test('files inside the root are served with the CSP; HEAD has no body', async () => {
  const index = await get('/');
  assert.equal(index.status, 200);
  assert.match(index.body, /lab/);
  assert.equal(index.headers['content-security-policy'], CSP);
  assert.match(CSP, /default-src 'self'/);
  assert.match(CSP, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
  assert.doesNotMatch(CSP, /\*|https?:/);
  const inline = CSP.split('; ').filter((d) => d.includes('unsafe-inline'));
  assert.deepEqual(inline, ["style-src-attr 'unsafe-inline'"], 'no inline script, no <style>: only style attributes');
  assert.equal((await get('/sub/a.json')).body, '{"a":1}');
  assert.equal((await get('/inside.json')).status, 200, 'a symlink that stays inside is fine');
  const head = await get('/sub/a.json', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '7');
  assert.equal(head.body, '');
  assert.equal((await get('/nothing.js')).status, 404);
});

test('every spelling of a way out of the root is refused', async () => {
  for (const path of [
    '/../secret.txt',
    '/sub/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/..%2fsecret.txt',
    '/sub/..%2f..%2fsecret.txt',
    '/..%5csecret.txt',
    '/%2e%2e%5csecret.txt',
    '/../www-evil/x.txt',
    '/leak.txt',
    '/up/secret.txt',
    '/sub%00/a.json',
  ]) {
    const r = await get(path);
    assert.ok([400, 403, 404].includes(r.status), `${path}: status ${r.status}`);
    assert.doesNotMatch(r.body, /outside the root|sibling/, `${path} leaked a file`);
    assert.equal(r.headers['content-security-policy'], CSP, `${path}: refusals carry the CSP too`);
  }
  assert.equal((await get('/%E0%A4%A')).status, 400, 'malformed percent-encoding');
  assert.equal((await get('/leak.txt')).status, 403, 'a symlink out is refused, not followed');
});

test('only GET and HEAD', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
    const r = await get('/index.html', method);
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.allow, 'GET, HEAD');
  }
});
