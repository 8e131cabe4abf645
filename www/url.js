// The page's state in the URL: the view, the data set and backend, and the open view's fields,
// so a copied link opens the same figure with the same values. Reading never trusts the URL:
// values only ever reach the page as form values or text, never as HTML.
const GLOBAL = ['view', 'preset', 'scale', 'run', 'dataset', 'backend'];
export const VIEWS = ['gallery', 'preset', 'train'];

/// { view, preset, scale, run, dataset, backend, fields: { key: text } } from a query string.
export function readUrl(search = location.search) {
  const params = new URLSearchParams(search);
  const state = { fields: {} };
  for (const [k, v] of params) {
    if (GLOBAL.includes(k)) state[k] = v;
    else state.fields[k] = v;
  }
  state.run = state.run === '1';
  return state;
}

/// Replace the URL with this state (no history entry per keystroke).
export function writeUrl({ view, preset, scale, dataset, backend, fields = {} }, { push = false } = {}) {
  const params = new URLSearchParams();
  params.set('view', view);
  if (view === 'preset') params.set('preset', preset);
  if (view === 'preset' && scale && scale !== 'demo') params.set('scale', scale);
  if (dataset) params.set('dataset', dataset);
  if (backend) params.set('backend', backend);
  for (const [k, v] of Object.entries(fields)) params.set(k, v);
  const url = `?${params}`;
  if (url === location.search) return;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}
