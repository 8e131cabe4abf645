// A static server for www/ on 127.0.0.1 (a secure context, as WebGPU requires). Serves the
// pre-compressed wasm with Content-Encoding: gzip. PORT overrides 8080; PORT=0 picks a free port.
// Only GET and HEAD; only regular files whose real path lies inside the root (no `..`, encoded or
// not, no symlink out); every response carries a Content-Security-Policy that lets the page talk to
// its own origin only.
import { createServer } from 'node:http';
import { createReadStream, realpathSync, statSync } from 'node:fs';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const WWW = fileURLToPath(new URL('../www', import.meta.url));
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.gz': 'application/gzip', '.png': 'image/png', '.svg': 'image/svg+xml',
  '.wgsl': 'text/wgsl; charset=utf-8',
};

// 'self' for everything; 'wasm-unsafe-eval' lets WebAssembly compile (no JS eval); data: for the
// blank favicon and blob: for downloads drawn from canvases. No inline script and no <style>;
// style *attributes* are allowed because plotters measures chart text in the browser with a
// <span style="font-…"> (plotters 0.3.7, src/style/font/web.rs), and an attribute cannot run code.
export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self'",
  "style-src-attr 'unsafe-inline'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

function fileAt(path) {
  try {
    const s = statSync(path);
    return s.isFile() ? s : null;
  } catch {
    return null;
  }
}

/// The real path of `rel` under `root`, or null when it is not a file inside it (after decoding,
/// `..` and symlinks).
function resolveInside(root, rel) {
  if (rel.includes('\0') || rel.includes('\\')) return null;
  const candidate = resolve(root, `.${rel}`);
  if (candidate !== root && !candidate.startsWith(root + sep)) return null;
  let real;
  try {
    real = realpathSync(candidate);
  } catch {
    return { missing: candidate };
  }
  if (real !== root && !real.startsWith(root + sep)) return null;
  return { path: real };
}

export function serve(port = Number(process.env.PORT ?? 8080), root = WWW) {
  const base = realpathSync(root);
  const server = createServer((req, res) => {
    const refuse = (code, text, extra = {}) => res.writeHead(code, { ...SECURITY, 'Content-Type': 'text/plain', ...extra }).end(text);
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(405, 'only GET and HEAD', { Allow: 'GET, HEAD' });
    let rel;
    try {
      rel = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    } catch {
      return refuse(400, 'bad path');
    }
    // The raw request line too: `/a/../../x` is normalised away by URL, which is safe, but a
    // request that tries it is refused rather than quietly redirected.
    if (/(^|[\\/])\.\.([\\/]|$)/.test(safeDecode(req.url.split('?')[0]))) return refuse(403, 'forbidden');
    if (rel.endsWith('/')) rel += 'index.html';
    const found = resolveInside(base, rel);
    if (!found) return refuse(403, 'forbidden');
    if (found.missing) return refuse(404, `not found: ${rel}`);
    const path = found.path;
    const headers = { ...SECURITY, 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream', 'Cache-Control': 'no-cache' };
    let file = path;
    if (extname(path) === '.wasm' && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '') && fileAt(`${path}.gz`)) {
      file = `${path}.gz`;
      headers['Content-Encoding'] = 'gzip';
    }
    const stat = fileAt(file);
    if (!stat) return refuse(404, `not found: ${rel}`);
    headers['Content-Length'] = stat.size;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(port, '127.0.0.1', () => ok(server)));
}

function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await serve();
  console.log(`Dropout Lab: http://127.0.0.1:${server.address().port}/`);
}
