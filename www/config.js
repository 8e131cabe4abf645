// The free-training form -> TrainConfig (Rust `train::TrainConfig`). Preset forms are built from
// the Rust schema instead (see preset-view.js); nothing here is per preset.
export const PROTOCOL = 2;

// The free-training form's fields, by their names in the form and the URL.
export const TRAIN_FIELDS = ['train', 'test', 'widths', 'act', 'drop', 'init', 'opt', 'lr', 'mom', 'epochs', 'batch', 'seed'];

function number(form, name, { integer = false, min = -Infinity, max = Infinity } = {}) {
  const raw = form.elements[name].value.trim();
  const value = Number(raw);
  if (raw === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    const label = form.elements[name].closest('label')?.firstChild?.textContent.trim() ?? name;
    throw new Error(`${label}: "${raw}" must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`);
  }
  return value;
}

export function formToConfig(form) {
  const widths = form.elements.widths.value.split('-').map((w) => Number(w.trim()));
  if (widths.length < 2 || widths.some((w) => !Number.isInteger(w) || w < 1)) {
    throw new Error(`Widths: "${form.elements.widths.value}" must look like 784-50-50-10`);
  }
  const dropText = form.elements.drop.value.trim();
  const drops = dropText === '' ? [] : dropText.split(',').map((d) => Number(d.trim()));
  const hidden = widths.length - 2;
  if (drops.length === 1 && hidden > 1) while (drops.length < hidden) drops.push(drops[0]);
  if (drops.length !== hidden || drops.some((d) => !(d >= 0 && d < 1))) {
    throw new Error(`Drop rates: give ${hidden} value(s) in [0, 1), one per hidden layer (got "${dropText}")`);
  }
  const act = form.elements.act.value;
  const init = form.elements.init.value === 'auto' ? (act === 'relu' ? 'he' : 'xavier') : form.elements.init.value;
  return {
    model: { widths, activation: act, drop_rates: drops, init },
    train_size: number(form, 'train', { integer: true, min: 1 }),
    test_size: number(form, 'test', { integer: true, min: 1 }),
    optimizer: form.elements.opt.value,
    lr: number(form, 'lr', { min: 1e-12, max: 100 }),
    momentum: number(form, 'mom', { min: 0, max: 0.999 }),
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    epochs: number(form, 'epochs', { integer: true, min: 1, max: 100000 }),
    batch_size: number(form, 'batch', { integer: true, min: 1 }),
    seed: number(form, 'seed', { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER }),
    eval_every: 1,
    record_steps: false,
    snapshot_every: 0,
  };
}
