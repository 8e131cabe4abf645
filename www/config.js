// The free-training form -> TrainConfig (Rust `train::TrainConfig`). Preset forms are built from
// the Rust schema instead (see preset-view.js); nothing here is per preset.
export const PROTOCOL = 2;

// A deployer's CIFAR archive under www/data/ (no registry ships CIFAR): the page offers each one
// the server has.
export const CIFAR_ARCHIVES = {
  'cifar-10': 'data/cifar-10-binary.tar.gz',
  'cifar-100': 'data/cifar-100-binary.tar.gz',
};

// The free-training form's fields, by their names in the form and the URL.
export const TRAIN_FIELDS = ['train', 'test', 'widths', 'act', 'drop', 'mode', 'chan', 'short', 'init', 'opt', 'lr', 'mom', 'wd', 'sched', 'epochs', 'batch', 'seed', 'aug'];
// The named conv nets (crate/src/model/net/arch.rs); the Widths field takes one, optionally *width.
export const ARCHS = ['lenet5', 'convnet-quick', 'vgg9', 'vgg11', 'resnet20'];

// The numeric fields' rules: one place for the Train button and for links.
const NUMBERS = {
  train: { integer: true, min: 1 },
  test: { integer: true, min: 1 },
  lr: { min: 1e-12, max: 100 },
  mom: { min: 0, max: 0.999 },
  wd: { min: 0, max: 1 },
  epochs: { integer: true, min: 1, max: 100000 },
  batch: { integer: true, min: 1 },
  seed: { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER },
};

const labelOf = (form, name) => form.elements[name].closest('label')?.firstChild?.textContent.trim() ?? name;

function number(form, name) {
  const { integer = false, min = -Infinity, max = Infinity } = NUMBERS[name];
  const raw = form.elements[name].value.trim();
  const value = Number(raw);
  if (raw === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new Error(`${labelOf(form, name)}: "${raw}" must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`);
  }
  return value;
}

/// The conv net the Widths field names ({ arch, width }), or null for MLP widths.
export function archOf(form) {
  const text = form.elements.widths.value.trim();
  const m = text.match(/^([a-z0-9-]+)(?:\*(.+))?$/);
  if (!m || !ARCHS.includes(m[1])) return null;
  const width = m[2] === undefined ? 1 : Number(m[2]);
  if (!(width > 0 && width <= 8)) throw new Error(`Widths: the width multiplier in "${text}" must be a number in (0, 8]`);
  return { arch: m[1], width };
}

/// The step schedule of the "divide by 10 at epochs" field (PyTorch's MultiStepLR).
function scheduleOf(form) {
  const text = form.elements.sched.value.trim();
  const milestones = text === '' ? [] : text.split(',').map((m) => Number(m.trim()));
  if (milestones.some((m) => !Number.isInteger(m) || m < 1) || milestones.some((m, i) => i > 0 && m <= milestones[i - 1])) {
    throw new Error(`Divide the rate by 10 at epochs: "${text}" must be increasing whole epochs such as 150,225,275`);
  }
  return { milestones, gamma: 0.1, unit: 'epochs' };
}

function widthsOf(form) {
  const widths = form.elements.widths.value.split('-').map((w) => Number(w.trim()));
  if (widths.length < 2 || widths.some((w) => !Number.isInteger(w) || w < 1)) {
    throw new Error(`Widths: "${form.elements.widths.value}" must look like 784-50-50-10 or name a conv net (${ARCHS.join(', ')}, optionally *width)`);
  }
  return widths;
}

function dropsOf(form, hidden) {
  const dropText = form.elements.drop.value.trim();
  const drops = dropText === '' ? [] : dropText.split(',').map((d) => Number(d.trim()));
  if (drops.length === 1 && hidden > 1) while (drops.length < hidden) drops.push(drops[0]);
  if (drops.length !== hidden || drops.some((d) => !(d >= 0 && d < 1))) {
    throw new Error(`Drop rates: give ${hidden} value(s) in [0, 1), one per hidden layer (got "${dropText}")`);
  }
  return drops;
}

/// Put a link's `text` into field `name`; returns the problem (and leaves `fallback` there) when
/// the field cannot hold it. Number inputs and selects drop what they cannot hold without a
/// word, so the text is compared with what the field kept.
export function setTrainField(form, name, text, fallback) {
  const input = form.elements[name];
  input.value = text;
  let problem = null;
  if (input.tagName === 'SELECT') {
    if (input.value !== text) problem = `${labelOf(form, name)}: "${text}" is not one of ${[...input.options].map((o) => o.value).join(', ')}`;
  } else {
    try {
      if (input.value !== text) throw new Error(`${labelOf(form, name)}: "${text}" is not a number`);
      if (name in NUMBERS) number(form, name);
      if (name === 'widths' && !archOf(form)) widthsOf(form);
      if (name === 'sched') scheduleOf(form);
      if (name === 'drop') dropsOf(form, archOf(form) ? 1 : widthsOf(form).length - 2);
    } catch (e) {
      problem = e.message;
    }
  }
  if (problem) input.value = fallback;
  return problem && `${problem} (using ${fallback})`;
}

/// Paper 004's dropout mode (`model::dropout::DropoutMode`); Table 3's augmented ratio is 1e-4.
function modeOf(form) {
  const kind = form.elements.mode.value;
  return kind === 'augmented' ? { kind, backward_rate: 1e-4 } : { kind };
}

/// The settings of a TrainConfig beside its network (an MLP's `model` or a conv net's `arch`).
function optimisation(form) {
  return {
    dropout_mode: modeOf(form),
    train_size: number(form, 'train'),
    test_size: number(form, 'test'),
    optimizer: form.elements.opt.value,
    lr: number(form, 'lr'),
    momentum: number(form, 'mom'),
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weight_decay: number(form, 'wd'),
    schedule: scheduleOf(form),
    epochs: number(form, 'epochs'),
    batch_size: number(form, 'batch'),
    seed: number(form, 'seed'),
  };
}

export function formToConfig(form) {
  const arch = archOf(form);
  if (arch) {
    const [dropRate] = dropsOf(form, 1);
    return {
      arch: { ...arch, drop_rate: dropRate, channelwise: form.elements.chan.value === 'channel', shortcut: form.elements.short.value },
      ...optimisation(form),
      augment: form.elements.aug.value === 'on',
    };
  }
  if (form.elements.aug.value === 'on') throw new Error('Augmentation: crops and flips are for conv nets on images; an MLP trains without them');
  if (form.elements.chan.value === 'channel') throw new Error('Conv-net dropout: channel-wise masks drop whole feature maps of a conv net; an MLP has none (choose element-wise)');
  if (form.elements.short.value === 'b') throw new Error('ResNet shortcut: option B is the projection of a residual block; an MLP has none (choose A)');
  const widths = widthsOf(form);
  const drops = dropsOf(form, widths.length - 2);
  const act = form.elements.act.value;
  const init = form.elements.init.value === 'auto' ? (act === 'relu' ? 'he' : 'xavier') : form.elements.init.value;
  return {
    model: { widths, activation: act, drop_rates: drops, init },
    ...optimisation(form),
    eval_every: 1,
    record_steps: false,
    snapshot_every: 0,
  };
}
