// `npm run bench`: the same worker as the lab runs the hot loops; results land in
// window.benchResults and on the page (a module file, as the server's CSP allows no inline script).
import { PROTOCOL } from './config.js';
import { roofline } from './roofline.js';

const params = new URLSearchParams(location.search);
const out = document.getElementById('out');
const module = await WebAssembly.compileStreaming(fetch('./pkg/dropout_lab_bg.wasm'));
const worker = new Worker('./worker.js', { type: 'module' });
worker.onmessage = ({ data }) => {
  if (data.type === 'ready') {
    worker.postMessage({ v: PROTOCOL, type: 'bench', steps: Number(params.get('steps') ?? 20), hessianRows: Number(params.get('hessian_rows') ?? 1000), convSteps: Number(params.get('conv_steps') ?? 3), convLayerReps: Number(params.get('conv_layers') ?? 2) });
  }
  if (data.type === 'bench') {
    // After the lab's benchmarks, so the two never share the adapter's time.
    roofline().then((r) => ({ ...data.results, roofline: r }), (e) => ({ ...data.results, roofline: { error: String(e) } }))
      .then((results) => {
        window.benchResults = results;
        out.textContent = JSON.stringify(results, null, 2);
      });
  }
  if (data.type === 'error') {
    window.benchResults = { error: data.message };
    out.textContent = data.message;
  }
};
worker.postMessage({ v: PROTOCOL, type: 'init', module, backend: 'webgpu' });
