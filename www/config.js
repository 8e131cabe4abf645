// The form <-> TrainConfig (Rust `train::TrainConfig`) <-> URL query mapping, shared by the page
// and the tests. The URL holds every field, so a copied link reproduces the run.
export const PROTOCOL = 1;

const FIELDS = ['dataset', 'train', 'test', 'widths', 'act', 'drop', 'init', 'opt', 'lr', 'mom', 'epochs', 'batch', 'seed', 'backend', 'f2settings', 'f2train', 'f2epochs', 'f2samples', 'f2k', 'f2source',
  'f1epochs', 'f1lr', 'f1dirs', 'f1range', 'f1points',
  'f4settings', 'f4train', 'f4epochs', 'f4samples', 'f4source',
  'f6settings', 'f6train', 'f6epochs', 'f6every', 'f6samples', 'f6probes',
  'cossettings', 'costrain', 'cosepochs', 'cosevery', 'cossamples', 'cosprobes', 'cosnull',
  'vtrain', 'vtest', 'vepochs', 'vdrop', 'vlr', 'vrows', 'vrates', 'vcorr', 'csettings', 'ceps', 'csamples', 'crows',
  'mtrain', 'mepochs', 'mlr', 'mrates', 'mmodes', 'mseeds',
  'strain', 'sepochs', 'sdrop', 'slr', 'sexplicit', 'simplicit', 'sseeds', 'nla', 'nlh', 'nws', 'nseeds'];

export function readUrlIntoForm(form, search = location.search) {
  const params = new URLSearchParams(search);
  for (const name of FIELDS) {
    if (params.has(name) && form.elements[name]) form.elements[name].value = params.get(name);
  }
}

export function writeFormToUrl(form) {
  const params = new URLSearchParams();
  for (const name of FIELDS) params.set(name, form.elements[name].value);
  history.replaceState(null, '', `?${params}`);
}

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

// The Fig 2 preset (Rust `experiments::fig2_variance_flatness::Fig2Config`), demo defaults
// from the core; the paper's keep probabilities 0.9 / 0.8 are drop rates 0.1 / 0.2.
export function formToFig2Config(form, defaults) {
  return {
    ...defaults,
    settings: parseSettings(form, 'f2settings'),
    train_size: number(form, 'f2train', { integer: true, min: 2 }),
    epochs: number(form, 'f2epochs', { integer: true, min: 1, max: 100000 }),
    samples: number(form, 'f2samples', { integer: true, min: 2, max: 100000 }),
    top_k: number(form, 'f2k', { integer: true, min: 1, max: 10000 }),
    sources: form.elements.f2source.value === 'both' ? ['grad', 'para'] : [form.elements.f2source.value],
    seed: number(form, 'seed', { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER }),
  };
}

/// One CSV row per (setting, eigen-direction) of a Fig 2 result.
export function fig2ToCsv(result) {
  const lines = [
    `# dropout-lab ${result.crate_version} backend=${result.backend} seed=${result.config.seed}`,
    'source,drop_rate,lr,index,eigenvalue,flatness_left,flatness_right,flatness_width,fit_slope,fit_r2',
  ];
  for (const s of result.settings) {
    s.eigenvalues.forEach((lambda, i) => {
      const f = s.flatness[i];
      lines.push([s.source, s.setting.drop_rate, s.setting.lr, i + 1, lambda, f.left ?? '', f.right ?? '', f.width ?? '', s.fit?.slope ?? '', s.fit?.r2 ?? ''].join(','));
    });
  }
  return lines.join('\n') + '\n';
}

// The Fig 1a preset (Rust `experiments::fig1a_landscape::Fig1aConfig`): the model and training
// fields of the form, trained once with and once without the drop rates given there.
export function formToFig1aConfig(form, defaults) {
  const base = formToConfig(form);
  const range = number(form, 'f1range', { min: 1e-6, max: 1000 });
  return {
    ...defaults,
    train_size: base.train_size,
    test_size: base.test_size,
    widths: base.model.widths,
    activation: base.model.activation,
    drop_rates: base.model.drop_rates,
    optimizer: 'adam',
    lr: number(form, 'f1lr', { min: 1e-12, max: 100 }),
    epochs: number(form, 'f1epochs', { integer: true, min: 1, max: 100000 }),
    batch_size: base.batch_size,
    seed: base.seed,
    directions: number(form, 'f1dirs', { integer: true, min: 1, max: 100 }),
    alpha_min: -range,
    alpha_max: range,
    points: number(form, 'f1points', { integer: true, min: 2, max: 10000 }),
  };
}

/// One CSV row per (model, direction, α) of a Fig 1a result.
export function fig1aToCsv(result) {
  const lines = [
    `# dropout-lab ${result.crate_version} backend=${result.backend} seed=${result.config.seed}`,
    'dropout,direction,alpha,train_loss,test_loss',
  ];
  for (const c of result.curves) {
    result.alphas.forEach((a, i) => lines.push([c.dropout, c.direction, a, c.train[i], c.test[i]].join(',')));
  }
  return lines.join('\n') + '\n';
}

// "drop:lr, drop:lr" -> [{ drop_rate, lr }]; each pair is one series of a preset.
export function parseSettings(form, name, { allowNoDropout = false } = {}) {
  const raw = form.elements[name].value.trim();
  const settings = raw.split(',').filter((p) => p.trim() !== '').map((pair) => {
    const [drop, lr] = pair.split(':').map((x) => Number(x.trim()));
    return { drop_rate: drop, lr };
  });
  const dropOk = (p) => (allowNoDropout ? p >= 0 : p > 0) && p < 1;
  if (settings.length === 0 || settings.some((s) => !dropOk(s.drop_rate) || !(s.lr > 0 && s.lr <= 100))) {
    throw new Error(`Settings: "${raw}" must be drop:lr pairs separated by commas, drop rate in ${allowNoDropout ? '[0, 1)' : '(0, 1)'}, ` +
      'lr in (0, 100], e.g. 0.1:0.05, 0.2:0.1');
  }
  return settings;
}

function seed(form) {
  return number(form, 'seed', { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
}

function sources(form, name) {
  return form.elements[name].value === 'both' ? ['grad', 'para'] : [form.elements[name].value];
}

// The Fig 4 preset (Rust `experiments::fig4_variance_hessian::Fig4Config`): the Fig 2 training
// and sampling, then the dense Hessian of the 2500 weights between the hidden layers.
export function formToFig4Config(form, defaults) {
  return {
    ...defaults,
    settings: parseSettings(form, 'f4settings'),
    train_size: number(form, 'f4train', { integer: true, min: 2 }),
    epochs: number(form, 'f4epochs', { integer: true, min: 1, max: 100000 }),
    samples: number(form, 'f4samples', { integer: true, min: 2, max: 100000 }),
    sources: sources(form, 'f4source'),
    seed: seed(form),
  };
}

// Fig 6 and 001 Fig 3 share the tracked-alignment config (Rust `alignment_track::TrackConfig`);
// `prefix` names their fields (f6…, cos…).
export function formToTrackConfig(form, prefix, defaults) {
  const config = {
    ...defaults,
    settings: parseSettings(form, `${prefix}settings`),
    train_size: number(form, `${prefix}train`, { integer: true, min: 2 }),
    epochs: number(form, `${prefix}epochs`, { integer: true, min: 1, max: 100000 }),
    every: number(form, `${prefix}every`, { integer: true, min: 1, max: 100000 }),
    samples: number(form, `${prefix}samples`, { integer: true, min: 2, max: 100000 }),
    probes: number(form, `${prefix}probes`, { integer: true, min: 2, max: 10000 }),
    seed: seed(form),
  };
  if (form.elements[`${prefix}null`]) config.null_repeats = number(form, `${prefix}null`, { integer: true, min: 0, max: 10000 });
  return config;
}

/// One CSV row per (series, Hessian eigen-direction) of a Fig 4 result.
export function fig4ToCsv(result) {
  const lines = [
    `# dropout-lab ${result.crate_version} backend=${result.backend} seed=${result.config.seed}`,
    'source,drop_rate,lr,index,hessian_eigenvalue,projected_variance,fit_slope,fit_r2',
  ];
  for (const s of result.series) {
    s.hessian_eigenvalues.forEach((lambda, i) => {
      lines.push([s.source, s.setting.drop_rate, s.setting.lr, i + 1, lambda, s.projected_variance[i], s.fit?.slope ?? '', s.fit?.r2 ?? ''].join(','));
    });
  }
  return lines.join('\n') + '\n';
}

/// One CSV row per (setting, checkpoint) of a Fig 6 or 001 Fig 3 result.
export function trackToCsv(result) {
  const lines = [
    `# dropout-lab ${result.crate_version} backend=${result.backend} seed=${result.config.seed}` +
      (result.null ? ` null_cosine_mean=${result.null.analytic_mean} null_cosine_sampled=${result.null.sample_mean}±${result.null.sample_std}` : ''),
    'drop_rate,lr,epoch,train_loss,trace_h_sigma,trace_h_isotropic,cosine,trace_h,trace_h_se,frobenius_sq_h,frobenius_sq_h_se,trace_sigma,frobenius_sigma',
  ];
  for (const s of result.series) {
    for (const c of s.checkpoints) {
      const a = c.alignment;
      lines.push([s.setting.drop_rate, s.setting.lr, c.epoch, c.train_loss, a.trace_h_sigma, a.trace_h_isotropic, a.cosine,
        a.trace_h.value, a.trace_h.std_error, a.frobenius_sq_h.value, a.frobenius_sq_h.std_error, a.covariance.trace, a.covariance.frobenius].join(','));
    }
  }
  return lines.join('\n') + '\n';
}

// Paper 002 Fig 2(b) (Rust `experiments::p002_fig2_volume::VolumeTrackConfig`).
export function formToVolumeConfig(form, defaults, { correlations = true } = {}) {
  const drop = number(form, 'vdrop', { min: 0, max: 0.99 });
  if (!(drop > 0)) throw new Error('Drop rate: the dropout network needs a rate in (0, 0.99]');
  return {
    ...defaults,
    train_size: number(form, 'vtrain', { integer: true, min: 2 }),
    test_size: number(form, 'vtest', { integer: true, min: 1 }),
    epochs: number(form, 'vepochs', { integer: true, min: 1, max: 10000 }),
    drop_rate: drop,
    lr: number(form, 'vlr', { min: 1e-12, max: 100 }),
    kfac_rows: number(form, 'vrows', { integer: true, min: 1, max: 60000 }),
    // Fig 3 and the complexity table train the same networks but track no update correlations.
    correlation_epochs: correlations ? correlationEpochs(form) : [],
    seed: seed(form),
  };
}

function correlationEpochs(form) {
  const raw = form.elements.vcorr.value;
  const epochs = raw.split(',').filter((e) => e.trim() !== '').map((e) => Number(e.trim()));
  const max = number(form, 'vepochs', { integer: true, min: 1, max: 10000 });
  if (epochs.some((e) => !Number.isInteger(e) || e < 1 || e > max)) {
    throw new Error(`Update-correlation epochs: "${raw}" must be whole epochs between 1 and ${max}, separated by commas`);
  }
  return epochs;
}

/// One CSV row per (network, epoch, layer) of a weight-volume result.
export function volumeToCsv(result) {
  const lines = [
    `# dropout-lab ${result.crate_version} backend=${result.backend} seed=${result.config.seed}`,
    'dropout,epoch,layer,fan_in,fan_out,log_volume,log_volume_per_weight',
  ];
  for (const run of result.runs) {
    for (const e of run.epochs) {
      for (const l of e.layers) {
        lines.push([run.dropout, e.epoch, l.layer + 1, l.fan_in, l.fan_out, l.log_volume, l.log_volume / (l.fan_in * l.fan_out)].join(','));
      }
    }
  }
  return lines.join('\n') + '\n';
}

// Paper 002 Fig 3 (Rust `experiments::p002_fig3_volume_rate::VolumeRateConfig`): the Fig 2(b)
// fields with a list of drop rates instead of one.
export function formToVolumeRateConfig(form, defaults) {
  const raw = form.elements.vrates.value;
  const rates = raw.split(',').filter((r) => r.trim() !== '').map((r) => Number(r.trim()));
  if (rates.length === 0 || rates.some((r) => !(r >= 0 && r < 1))) {
    throw new Error(`Drop rates for Fig 3: "${raw}" must be numbers in [0, 1) separated by commas`);
  }
  const { drop_rate: _, ...single } = formToVolumeConfig(form, defaults, { correlations: false });
  // The base config's single drop_rate is required by its type but unused: each point sets its own.
  return { ...single, drop_rate: 0.5, drop_rates: rates };
}

/// One CSV row per (drop rate, layer) of a volume-vs-rate result.
export function volumeRateToCsv(result) {
  const lines = [
    `# dropout-lab ${result.crate_version} backend=${result.backend} seed=${result.config.seed}`,
    'drop_rate,layer,fan_in,fan_out,log_volume,log_volume_per_weight,train_loss,test_loss,loss_gap,accuracy_gap',
  ];
  for (const p of result.points) {
    for (const l of p.layers) {
      lines.push([p.drop_rate, l.layer + 1, l.fan_in, l.fan_out, l.log_volume, l.log_volume / (l.fan_in * l.fan_out),
        p.train_loss, p.test_loss, p.loss_gap, p.accuracy_gap].join(','));
    }
  }
  return lines.join('\n') + '\n';
}

// Paper 002 complexity table (Rust `experiments::p002_complexity_table::ComplexityTableConfig`):
// the Fig 2 fields for training, plus the settings and the sharpness/sampling controls.
export function formToComplexityConfig(form, defaults) {
  const { drop_rate: _, ...base } = formToVolumeConfig(form, defaults, { correlations: false });
  const settings = parseSettings(form, 'csettings', { allowNoDropout: true });
  if (settings.length < 2) throw new Error('Settings: the complexity table compares at least two networks');
  const epsilon = number(form, 'ceps', { min: 1e-9, max: 100 });
  return {
    ...base,
    drop_rate: 0.5,
    settings,
    loss_rows: number(form, 'crows', { integer: true, min: 1, max: 60000 }),
    sharpness: { ...defaults.sharpness, epsilon },
    sampling: { ...defaults.sampling, epsilon, iterations: number(form, 'csamples', { integer: true, min: 2, max: 100000 }) },
  };
}

/// One CSV row per (measure, network) of a complexity table, with the measure's agreement with GG.
export function complexityToCsv(result) {
  const lines = [
    `# dropout-lab ${result.crate_version} backend=${result.backend} seed=${result.config.seed}`,
    'measure,drop_rate,lr,value,loss_gap,kendall_tau_gap,normalised_mi_gap,kendall_tau_dropout,normalised_mi_dropout',
  ];
  for (const row of result.rows) {
    result.nets.forEach((n, i) => {
      lines.push([JSON.stringify(row.name), n.setting.drop_rate, n.setting.lr, row.values[i] ?? '', n.loss_gap,
        row.gap?.kendall_tau ?? '', row.gap?.normalised_mi ?? '', row.dropout?.kendall_tau ?? '', row.dropout?.normalised_mi ?? ''].join(','));
    });
  }
  return lines.join('\n') + '\n';
}

// Paper 004 Table 1 (Rust `experiments::p004_table1_modes::ModesTableConfig`). Modes are written
// "standard", "forward", "backward" or "augmented:RATE" (RATE: the extra backward drop rate).
export function parseModes(raw) {
  const modes = raw.split(',').map((m) => m.trim()).filter((m) => m !== '').map((m) => {
    const [name, rate] = m.split(':').map((x) => x.trim());
    if (name === 'standard') return { kind: 'standard' };
    if (name === 'forward') return { kind: 'forward_only' };
    if (name === 'backward') return { kind: 'backward_only' };
    if (name === 'augmented' && Number(rate) >= 0 && Number(rate) < 1 && rate !== '') return { kind: 'augmented', backward_rate: Number(rate) };
    throw new Error(`Modes: "${m}" is not one of standard, forward, backward, augmented:RATE (RATE in [0, 1))`);
  });
  if (modes.length === 0) throw new Error('Modes: name at least one dropout mode');
  return modes;
}

export function formToModesConfig(form, defaults) {
  const raw = form.elements.mrates.value;
  const rates = raw.split(',').filter((r) => r.trim() !== '').map((r) => Number(r.trim()));
  if (rates.length === 0 || rates.some((r) => !(r > 0 && r < 1))) {
    throw new Error(`Drop rates: "${raw}" must be numbers in (0, 1) separated by commas`);
  }
  const trainSize = number(form, 'mtrain', { integer: true, min: 2 });
  return {
    ...defaults,
    train_size: trainSize,
    batch_size: Math.min(defaults.batch_size, trainSize),
    epochs: number(form, 'mepochs', { integer: true, min: 1, max: 10000 }),
    lr: number(form, 'mlr', { min: 1e-12, max: 100 }),
    rates,
    modes: parseModes(form.elements.mmodes.value),
    seeds: number(form, 'mseeds', { integer: true, min: 1, max: 100 }),
    seed: seed(form),
  };
}

export function modeLabel(mode) {
  return mode.kind === 'augmented' ? `augmented (+${mode.backward_rate})` : mode.kind.replace('_only', '');
}

/// One CSV row per (mode, rate, seed) of a modes table, the plain network first.
export function modesToCsv(result) {
  const lines = [
    `# dropout-lab ${result.crate_version} backend=${result.backend} dataset=${result.dataset} seed=${result.config.seed}`,
    'mode,drop_rate,seed,test_accuracy,mean_test_accuracy,sd_test_accuracy,mean_test_loss',
  ];
  for (const c of [result.plain, ...result.cells]) {
    c.accuracies.forEach((a, k) => lines.push([c.rate === 0 ? 'plain' : modeLabel(c.mode), c.rate, result.config.seed + k, a ?? 'diverged',
      c.test_accuracy?.mean ?? '', c.test_accuracy?.std ?? '', c.test_loss?.mean ?? ''].join(',')));
  }
  return lines.join('\n') + '\n';
}

// Paper 003 (Rust `experiments::p003_explicit_implicit::SplitConfig`).
export function formToSplitConfig(form, defaults) {
  const trainSize = number(form, 'strain', { integer: true, min: 2 });
  const drop = number(form, 'sdrop', { min: 0, max: 0.99 });
  if (!(drop > 0)) throw new Error('Drop rate: the explicit and implicit parts need a rate in (0, 0.99]');
  return {
    ...defaults,
    train_size: trainSize,
    batch_size: Math.min(defaults.batch_size, trainSize),
    epochs: number(form, 'sepochs', { integer: true, min: 1, max: 10000 }),
    drop_rate: drop,
    lr: number(form, 'slr', { min: 1e-12, max: 100 }),
    explicit: form.elements.sexplicit.value,
    implicit: form.elements.simplicit.value,
    seeds: number(form, 'sseeds', { integer: true, min: 1, max: 100 }),
    seed: seed(form),
  };
}

/// One CSV row per (variant, epoch) of the seed-averaged curves.
export function splitToCsv(result) {
  const lines = [
    `# dropout-lab ${result.crate_version} backend=${result.backend} dataset=${result.dataset} seed=${result.config.seed} seeds=${result.config.seeds}`,
    'variant,epoch,train_loss,test_loss,train_accuracy,test_accuracy,diverged_seeds',
  ];
  for (const v of result.variants) {
    for (const p of v.curve) {
      lines.push([v.variant, p.epoch, p.train_loss, p.test_loss, p.train_accuracy, p.test_accuracy, v.diverged].join(','));
    }
  }
  return lines.join('\n') + '\n';
}

// Paper 002 Fig 4 (Rust `experiments::p002_fig4_noise::NoiseFig4Config`): the Fig 2 fields plus
// the noise strengths.
export function formToNoiseConfig(form, defaults) {
  return {
    ...formToVolumeConfig(form, defaults, { correlations: false }),
    lambda_a: number(form, 'nla', { min: 0, max: 100 }),
    lambda_h: number(form, 'nlh', { min: 0, max: 100 }),
    weight_noise_std: number(form, 'nws', { min: 0, max: 100 }),
    seeds: number(form, 'nseeds', { integer: true, min: 1, max: 100 }),
  };
}

/// One CSV row per (noise, epoch) of the seed-averaged curves, with the final volumes per layer.
export function noiseToCsv(result) {
  const layers = Math.max(0, ...result.variants.map((v) => v.log_volume_per_weight.length));
  const lines = [
    `# dropout-lab ${result.crate_version} backend=${result.backend} dataset=${result.dataset} seed=${result.config.seed} seeds=${result.config.seeds}`,
    ['variant', 'epoch', 'train_loss', 'test_loss', 'test_accuracy', 'diverged_seeds',
      ...Array.from({ length: layers }, (_, l) => `final_log_vol_per_weight_layer${l + 1}`)].join(','),
  ];
  for (const v of result.variants) {
    for (const p of v.curve) {
      lines.push([v.variant, p.epoch, p.train_loss, p.test_loss, p.test_accuracy, v.diverged, ...v.log_volume_per_weight].join(','));
    }
  }
  return lines.join('\n') + '\n';
}
