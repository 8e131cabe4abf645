// `npm run bench`: the same worker as the lab runs the hot loops; results land in
// window.benchResults and on the page (a module file, as the server's CSP allows no inline script).
import { PROTOCOL } from './config.js';
import { roofline } from './roofline.js';

const params = new URLSearchParams(location.search);
const out = document.getElementById('out');
const module = await WebAssembly.compileStreaming(fetch('./pkg/dropout_lab_bg.wasm'));
const steps = Number(params.get('steps') ?? 20);

// One benchmark in a fresh worker: `init` extends its init message, `job` its bench message.
function inWorker(init, job) {
  return new Promise((resolve, reject) => {
    const worker = new Worker('./worker.js', { type: 'module' });
    const done = (settle, value) => {
      worker.terminate();
      settle(value);
    };
    worker.onmessage = ({ data }) => {
      if (data.type === 'ready') worker.postMessage({ v: PROTOCOL, type: 'bench', steps, ...job });
      if (data.type === 'bench') done(resolve, data.results);
      if (data.type === 'error' || data.type === 'crashed') done(reject, new Error(data.message));
    };
    worker.postMessage({ v: PROTOCOL, type: 'init', module, backend: 'webgpu', ...init });
  });
}

try {
  const results = await inWorker({}, {
    hessianRows: Number(params.get('hessian_rows') ?? 1000),
    convSteps: Number(params.get('conv_steps') ?? 3),
    convLayerReps: Number(params.get('conv_layers') ?? 2),
  });
  // After the lab's benchmarks, so the two never share the adapter's time.
  results.roofline = await roofline().catch((e) => ({ error: String(e) }));
  // cubecl's tasks_max (launches per submitted command buffer; the run above has its default,
  // 32): the MLP training entries again, one fresh worker per value, as the runtime takes it
  // only before its device exists.
  const sweep = (params.get('tasks_max') ?? '').split(',').filter(Boolean).map(Number);
  if (sweep.length > 0 && results.backends.webgpu) {
    results.tasks_max_sweep = [];
    for (const tasksMax of sweep) {
      const entry = await inWorker({ tasksMax }, { trainingOnly: true })
        .then((r) => ({ training: r.backends.webgpu.training }))
        .catch((e) => ({ error: String(e?.message ?? e) }));
      results.tasks_max_sweep.push({ tasks_max: tasksMax, ...entry });
    }
  }
  window.benchResults = results;
  out.textContent = JSON.stringify(results, null, 2);
} catch (e) {
  window.benchResults = { error: String(e?.message ?? e) };
  out.textContent = window.benchResults.error;
}
