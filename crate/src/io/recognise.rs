//! Which of the lab's named architectures a plain PyTorch state_dict is, from its tensor names
//! and shapes alone (PyTorch stores no layer types, pooling or activations): the module that
//! `dropout-lab arch ARCH` prints names its `nn.Sequential` `layers`, so a state_dict saved
//! from it has the lab's names. Every architecture, dropout placement and shortcut is built at
//! the widths that give the file's first weight its channel count, for grey 28x28 and colour
//! 32x32 inputs, and a candidate is accepted when its parameters and BatchNorm buffers are
//! exactly the file's tensors, shape for shape.

use std::collections::BTreeMap;

use crate::error::{LabError, LabResult};
use crate::model::net::{Arch, ArchConfig, NetSpec, Placement, Shortcut};

/// A file's tensors: name -> shape.
pub type Shapes = BTreeMap<String, Vec<usize>>;

/// Steps tried across the interval of widths that round to the first layer's channel count.
const WIDTH_STEPS: usize = 64;

/// The architecture (with the data shape it was built for: features per example, classes) whose
/// state_dict has exactly these tensors, or an error naming what no candidate explains.
pub fn recognise(shapes: &Shapes) -> LabResult<(ArchConfig, NetSpec)> {
    let first = shapes
        .iter()
        .filter(|(n, s)| n.ends_with(".weight") && s.len() == 4)
        .min_by_key(|(n, _)| super::pytorch::natural_key(n))
        .ok_or_else(|| {
            LabError::Weights(
                "the state_dict holds no convolution weight ([out, in, kh, kw]) to recognise a \
                 network by"
                    .into(),
            )
        })?;
    let (out0, in0) = (first.1[0], first.1[1]);
    let classes = last_dense_outputs(shapes).map_err(|_| {
        LabError::Weights(format!(
            "cannot place tensor `{}` of shape {:?}: the lab's conv nets end in a dense layer \
             (`<layer>.weight` [classes, in]) and the state_dict holds none",
            first.0, first.1
        ))
    })?;
    let dims = [in0 * 28 * 28, in0 * 32 * 32];
    let mut closest: Option<(usize, String)> = None;
    for arch in Arch::ALL {
        for (placement, shortcut) in variants(arch) {
            let base = ArchConfig {
                placement,
                shortcut,
                ..ArchConfig::new(arch)
            };
            let Ok(unit) = base.build([in0, 32, 32], classes) else {
                continue;
            };
            let Some(c0) = unit.params()?.first().map(|p| p.shape[0] as f64) else {
                continue;
            };
            for w in widths(out0 as f64, c0) {
                for &dim in &dims {
                    let cfg = ArchConfig {
                        width: w,
                        ..base.clone()
                    };
                    let Ok(spec) = crate::model::ModelConfig::Arch(cfg.clone()).build(dim, classes)
                    else {
                        continue;
                    };
                    match difference(&spec, shapes)? {
                        None => return Ok((cfg, spec)),
                        Some((score, why)) => {
                            if closest.as_ref().is_none_or(|(s, _)| score > *s) {
                                closest =
                                    Some((score, format!("{why} (closest: {})", cfg_label(&cfg))));
                            }
                        }
                    }
                }
            }
        }
    }
    Err(LabError::Weights(format!(
        "{}: the state_dict is none of the lab's architectures ({}) at any width; the lab reads \
         the state_dict of the module `dropout-lab arch ARCH [--width W]` prints",
        closest.map_or("no architecture builds for it".into(), |(_, why)| why),
        Arch::ALL.map(Arch::id).join(", "),
    )))
}

fn cfg_label(c: &ArchConfig) -> String {
    crate::model::ModelConfig::Arch(c.clone()).label()
}

/// The placements and shortcuts an architecture builds with.
fn variants(arch: Arch) -> Vec<(Placement, Shortcut)> {
    match arch {
        Arch::Resnet20 => vec![
            (Placement::Paper, Shortcut::A),
            (Placement::Paper, Shortcut::B),
            (Placement::AfterConvs, Shortcut::A),
            (Placement::AfterConvs, Shortcut::B),
        ],
        _ => vec![(Placement::Paper, Shortcut::A)],
    }
}

/// Widths w with round(c0 · w) = out0, the shortest decimals first (a width a person typed:
/// 0.04 before 0.0394), then a fine grid over the rest of the interval.
fn widths(out0: f64, c0: f64) -> Vec<f64> {
    let (lo, hi) = ((out0 - 0.5).max(0.0) / c0, (out0 + 0.5) / c0);
    let decimals = (0..=4).flat_map(move |digits| {
        let unit = 10f64.powi(-digits);
        let first = (lo / unit).floor() as i64 + 1;
        (first..)
            .map(move |k| k as f64 * unit)
            .take_while(move |w| *w < hi)
    });
    decimals
        .chain((0..WIDTH_STEPS).map(|i| lo + (hi - lo) * (i as f64 + 0.5) / WIDTH_STEPS as f64))
        .filter(|w| *w > 0.0 && *w <= 8.0)
        .collect()
}

/// The output count of the last dense weight ([out, in]) in name order: the classes.
fn last_dense_outputs(shapes: &Shapes) -> LabResult<usize> {
    shapes
        .iter()
        .filter(|(n, s)| n.ends_with(".weight") && s.len() == 2)
        .max_by_key(|(n, _)| super::pytorch::natural_key(n))
        .map(|(_, s)| s[0])
        .ok_or_else(|| {
            LabError::Weights(
                "the state_dict holds no dense weight ([out, in]) for the classes".into(),
            )
        })
}

/// None when the spec's tensors are exactly the file's; else how many matched and the first
/// tensor that does not.
fn difference(spec: &NetSpec, shapes: &Shapes) -> LabResult<Option<(usize, String)>> {
    let mut want: Vec<(String, Vec<usize>)> = spec
        .params()?
        .into_iter()
        .map(|p| (p.name, p.shape))
        .collect();
    for (prefix, c) in spec.batch_norms()? {
        want.push((format!("{prefix}.running_mean"), vec![c]));
        want.push((format!("{prefix}.running_var"), vec![c]));
    }
    let mut matched = 0;
    for (name, shape) in &want {
        match shapes.get(name) {
            Some(s) if s == shape => matched += 1,
            Some(s) => {
                return Ok(Some((
                    matched,
                    format!("cannot place tensor `{name}` of shape {s:?}, not {shape:?}"),
                )))
            }
            None => {
                return Ok(Some((
                    matched,
                    format!("tensor `{name}` {shape:?} is missing"),
                )))
            }
        }
    }
    let extra = shapes
        .keys()
        .find(|n| !n.ends_with(".num_batches_tracked") && !want.iter().any(|(w, _)| w == *n));
    Ok(extra.map(|n| {
        (
            matched,
            format!("cannot place tensor `{n}` of shape {:?}", shapes[n]),
        )
    }))
}
