// The gallery: one card per paper figure (from the Rust catalogue) with a thumbnail and the time
// of a real demo-scale run shipped in gallery/, plus the free-training card.
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

/// The shipped runs: { id: { seconds: { backend: s }, thumbnail, result } }, or {} without one.
export async function loadGalleryIndex() {
  try {
    const r = await fetch('gallery/index.json');
    return r.ok ? await r.json() : {};
  } catch {
    return {};
  }
}

function timeText(id, shipped, backend) {
  const mine = Number(localStorage.getItem(`dropout-lab:seconds:${id}:${backend}`));
  if (mine > 0) return `demo scale: ${Math.round(mine)} s on ${backend} (your last run)`;
  const s = shipped?.seconds?.[backend];
  if (s > 0) return `demo scale: about ${Math.round(s)} s on ${backend} (measured in this page)`;
  const any = Object.entries(shipped?.seconds ?? {})[0];
  if (any) return `demo scale: about ${Math.round(any[1])} s on ${any[0]} (measured in this page)`;
  return 'demo scale: not yet timed';
}

/// Fill `list` with cards; `onOpenExample(id)` opens the shipped result of a card.
export function renderGallery(list, catalogue, index, backend, onOpenExample) {
  list.replaceChildren();
  for (const e of catalogue) {
    const shipped = index[e.id];
    const href = `?view=preset&preset=${encodeURIComponent(e.id)}`;
    const card = el('li', { className: 'card' });
    card.dataset.preset = e.id;
    if (shipped?.thumbnail) {
      card.append(el('img', { src: `gallery/${shipped.thumbnail}`, alt: `${e.title}: the chart of a demo-scale run` }));
    }
    const open = el('a', { href, className: 'open', textContent: `Open ${e.figure}` });
    open.dataset.route = '';
    card.append(
      el('div', { className: 'meta', textContent: `Paper ${e.paper} · ${e.figure}` }),
      el('h3', { textContent: e.title }),
      el('p', { textContent: e.claim }),
      el('div', { className: 'meta', textContent: timeText(e.id, shipped, backend) }),
      open,
    );
    if (shipped?.result) {
      const example = el('button', { type: 'button', textContent: 'View the shipped result' });
      example.addEventListener('click', () => onOpenExample(e.id));
      card.append(example);
    }
    list.append(card);
  }
  const free = el('li', { className: 'card' });
  free.dataset.preset = 'train';
  const open = el('a', { href: '?view=train', className: 'open', textContent: 'Open free training' });
  open.dataset.route = '';
  free.append(
    el('div', { className: 'meta', textContent: 'Any MLP, any optimiser' }),
    el('h3', { textContent: 'Free training' }),
    el('p', { textContent: 'Train an MLP with dropout of your choice, watch loss and accuracy, export the history and the weights, or import your own PyTorch weights.' }),
    open,
  );
  list.append(free);
}
