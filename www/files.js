// Files in and out: downloads, and what a dropped or picked file is (IDX data or a result).
export function download(name, mime, data) {
  const url = URL.createObjectURL(new Blob([data], { type: mime }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/// Send the weights file picked in `input` to the worker (with the activation chosen in `act`).
export function importWeightsFrom(input, act, post) {
  input.addEventListener('change', async () => {
    const file = input.files[0];
    if (!file) return;
    const bytes = await file.arrayBuffer();
    // Not transferred: the page keeps the bytes to give a restarted worker.
    post({ type: 'importWeights', bytes, activation: act.value, name: file.name });
    input.value = '';
  });
}

/// Split dropped files into result JSON files and data files (everything else).
export function sortFiles(files) {
  const results = [];
  const data = [];
  for (const f of files) (/\.json$/i.test(f.name) ? results : data).push(f);
  return { results, data };
}

/// Show a drop zone while files are dragged over the page; `onDrop(files)` gets what was dropped.
export function acceptDrops(zone, onDrop) {
  let depth = 0;
  const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');
  addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    depth += 1;
    zone.hidden = false;
  });
  addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.hidden = true;
  });
  addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
  addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    zone.hidden = true;
    onDrop([...e.dataTransfer.files]);
  });
}
