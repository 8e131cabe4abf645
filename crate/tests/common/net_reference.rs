//! An independent f64 forward of a `NetSpec`, written from the layers' definitions with plain
//! loops (naive convolution, pooling windows, BatchNorm by its formula): the oracle for the lab's
//! burn forward, gradients and Hessian-vector products through conv nets.
#![allow(dead_code)]

use dropout_lab::model::net::{Layer, NetSpec, Shortcut};

/// One example's activations [c][h][w], flattened c-major.
#[derive(Clone, Debug)]
pub struct Map {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub v: Vec<f64>,
}

impl Map {
    fn zeros(c: usize, h: usize, w: usize) -> Self {
        Map {
            c,
            h,
            w,
            v: vec![0.0; c * h * w],
        }
    }
    fn at(&self, c: usize, y: usize, x: usize) -> f64 {
        self.v[(c * self.h + y) * self.w + x]
    }
    fn set(&mut self, c: usize, y: usize, x: usize, a: f64) {
        let (h, w) = (self.h, self.w);
        self.v[(c * h + y) * w + x] = a;
    }
}

/// How BatchNorm normalises in the reference.
#[derive(Clone, Copy, PartialEq)]
pub enum RefBn<'a> {
    /// Running (mean, var) per BatchNorm, in order.
    Eval(&'a [(Vec<f64>, Vec<f64>)]),
    /// Batch statistics over all examples (biased variance).
    Train,
    /// As `Train`, and each BatchNorm's batch mean and unbiased variance (n/(n - 1) times the
    /// biased one, as PyTorch stores running statistics) pushed here in order.
    Collect(&'a std::cell::RefCell<Vec<(Vec<f64>, Vec<f64>)>>),
}

pub struct Reference<'a> {
    pub spec: &'a NetSpec,
    /// Parameters in state_dict order and PyTorch layout.
    pub params: &'a [Vec<f64>],
    pub bn: RefBn<'a>,
    /// Per dropout site: per example, the mask values (length of the site's mask shape).
    pub masks: &'a [Vec<Vec<f64>>],
}

/// Output size of a window, PyTorch's rule (floor, or ceil without a window starting past the
/// input plus left padding).
fn out_size(n: usize, k: usize, s: usize, p: usize, ceil: bool) -> usize {
    let num = n + 2 * p - k;
    let mut o = if ceil {
        (num + s - 1) / s + 1
    } else {
        num / s + 1
    };
    if ceil && (o - 1) * s >= n + p {
        o -= 1;
    }
    o
}

fn conv(x: &Map, w: &[f64], b: Option<&[f64]>, out: usize, k: usize, s: usize, p: usize) -> Map {
    let oh = out_size(x.h, k, s, p, false);
    let ow = out_size(x.w, k, s, p, false);
    let mut y = Map::zeros(out, oh, ow);
    for o in 0..out {
        for i in 0..oh {
            for j in 0..ow {
                let mut acc = b.map_or(0.0, |b| b[o]);
                for c in 0..x.c {
                    for ki in 0..k {
                        for kj in 0..k {
                            let yy = (i * s + ki) as isize - p as isize;
                            let xx = (j * s + kj) as isize - p as isize;
                            if yy < 0 || xx < 0 || yy >= x.h as isize || xx >= x.w as isize {
                                continue;
                            }
                            acc += w[((o * x.c + c) * k + ki) * k + kj]
                                * x.at(c, yy as usize, xx as usize);
                        }
                    }
                }
                y.set(o, i, j, acc);
            }
        }
    }
    y
}

fn pool(x: &Map, k: usize, s: usize, ceil: bool, max: bool) -> Map {
    let oh = out_size(x.h, k, s, 0, ceil);
    let ow = out_size(x.w, k, s, 0, ceil);
    let mut y = Map::zeros(x.c, oh, ow);
    for c in 0..x.c {
        for i in 0..oh {
            for j in 0..ow {
                // Windows cut by the border cover only the input.
                let (y0, x0) = (i * s, j * s);
                let (y1, x1) = ((y0 + k).min(x.h), (x0 + k).min(x.w));
                let vals: Vec<f64> = (y0..y1)
                    .flat_map(|a| (x0..x1).map(move |b| (a, b)))
                    .map(|(a, b)| x.at(c, a, b))
                    .collect();
                let v = if max {
                    vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                } else {
                    vals.iter().sum::<f64>() / vals.len() as f64
                };
                y.set(c, i, j, v);
            }
        }
    }
    y
}

impl Reference<'_> {
    /// The logits of every example, and the smallest |pre-activation| met at a ReLU and the
    /// smallest gap between the two largest values of a max-pool window (how far the point is
    /// from a kink, for choosing finite-difference steps).
    pub fn logits(&self, xs: &[Vec<f64>]) -> (Vec<Vec<f64>>, f64) {
        let [c, h, w] = self.spec.input;
        let mut acts: Vec<Map> = xs
            .iter()
            .map(|x| Map {
                c,
                h,
                w,
                v: x.clone(),
            })
            .collect();
        let mut p = 0;
        let mut bn = 0;
        let mut site = 0;
        let mut margin = f64::INFINITY;
        for layer in &self.spec.layers {
            acts = self.layer(layer, acts, &mut p, &mut bn, &mut site, &mut margin);
        }
        (acts.into_iter().map(|m| m.v).collect(), margin)
    }

    fn take<'b>(&'b self, p: &mut usize) -> &'b [f64] {
        *p += 1;
        &self.params[*p - 1]
    }

    fn layer(
        &self,
        layer: &Layer,
        acts: Vec<Map>,
        p: &mut usize,
        bn: &mut usize,
        site: &mut usize,
        margin: &mut f64,
    ) -> Vec<Map> {
        match *layer {
            Layer::Pad { pixels: q } => acts
                .iter()
                .map(|a| {
                    let mut y = Map::zeros(a.c, a.h + 2 * q, a.w + 2 * q);
                    for c in 0..a.c {
                        for i in 0..a.h {
                            for j in 0..a.w {
                                y.set(c, i + q, j + q, a.at(c, i, j));
                            }
                        }
                    }
                    y
                })
                .collect(),
            Layer::Conv {
                out,
                kernel,
                stride,
                padding,
                bias,
            } => {
                let w = self.take(p).to_vec();
                let b = bias.then(|| self.take(p).to_vec());
                acts.iter()
                    .map(|a| conv(a, &w, b.as_deref(), out, kernel, stride, padding))
                    .collect()
            }
            Layer::Dense { out } => {
                let w = self.take(p).to_vec();
                let b = self.take(p).to_vec();
                acts.iter()
                    .map(|a| {
                        let n = a.v.len();
                        let v = (0..out)
                            .map(|o| b[o] + (0..n).map(|i| w[o * n + i] * a.v[i]).sum::<f64>())
                            .collect();
                        Map {
                            c: out,
                            h: 1,
                            w: 1,
                            v,
                        }
                    })
                    .collect()
            }
            Layer::MaxPool {
                kernel,
                stride,
                ceil,
            } => {
                for a in &acts {
                    *margin = margin.min(pool_gap(a, kernel, stride, ceil));
                }
                acts.iter()
                    .map(|a| pool(a, kernel, stride, ceil, true))
                    .collect()
            }
            Layer::AvgPool {
                kernel,
                stride,
                ceil,
            } => acts
                .iter()
                .map(|a| pool(a, kernel, stride, ceil, false))
                .collect(),
            Layer::GlobalAvgPool => acts
                .iter()
                .map(|a| {
                    let hw = a.h * a.w;
                    Map {
                        c: a.c,
                        h: 1,
                        w: 1,
                        v: (0..a.c)
                            .map(|c| a.v[c * hw..(c + 1) * hw].iter().sum::<f64>() / hw as f64)
                            .collect(),
                    }
                })
                .collect(),
            Layer::BatchNorm => self.batch_norm(acts, p, bn),
            Layer::Relu => relu(acts, margin),
            Layer::Tanh => acts
                .into_iter()
                .map(|mut a| {
                    a.v.iter_mut().for_each(|v| *v = v.tanh());
                    a
                })
                .collect(),
            Layer::Flatten => acts
                .into_iter()
                .map(|a| Map {
                    c: a.v.len(),
                    h: 1,
                    w: 1,
                    v: a.v,
                })
                .collect(),
            Layer::Dropout { rate, channelwise } => self.dropout(acts, rate, channelwise, site),
            Layer::Residual {
                out,
                stride,
                shortcut,
                drop_rate,
                channelwise,
            } => {
                let c_in = acts[0].c;
                let w1 = self.take(p).to_vec();
                let mut h: Vec<Map> = acts
                    .iter()
                    .map(|a| conv(a, &w1, None, out, 3, stride, 1))
                    .collect();
                h = self.batch_norm(h, p, bn);
                h = relu(h, margin);
                h = self.dropout(h, drop_rate, channelwise, site);
                let w2 = self.take(p).to_vec();
                h = h.iter().map(|a| conv(a, &w2, None, out, 3, 1, 1)).collect();
                h = self.batch_norm(h, p, bn);
                let s: Vec<Map> = if stride == 1 && out == c_in {
                    acts
                } else if shortcut == Shortcut::A {
                    // x[:, :, ::s, ::s] with (out - in)/2 zero channels on each side.
                    let off = (out - c_in) / 2;
                    acts.iter()
                        .map(|a| {
                            let (oh, ow) = (a.h.div_ceil(stride), a.w.div_ceil(stride));
                            let mut y = Map::zeros(out, oh, ow);
                            for c in 0..c_in {
                                for i in 0..oh {
                                    for j in 0..ow {
                                        y.set(c + off, i, j, a.at(c, i * stride, j * stride));
                                    }
                                }
                            }
                            y
                        })
                        .collect()
                } else {
                    let ws = self.take(p).to_vec();
                    let s = acts
                        .iter()
                        .map(|a| conv(a, &ws, None, out, 1, stride, 0))
                        .collect();
                    self.batch_norm(s, p, bn)
                };
                let sum = h
                    .into_iter()
                    .zip(s)
                    .map(|(mut a, b)| {
                        a.v.iter_mut().zip(&b.v).for_each(|(x, y)| *x += y);
                        a
                    })
                    .collect();
                relu(sum, margin)
            }
        }
    }

    fn batch_norm(&self, acts: Vec<Map>, p: &mut usize, bn: &mut usize) -> Vec<Map> {
        let gamma = self.take(p).to_vec();
        let beta = self.take(p).to_vec();
        let i = *bn;
        *bn += 1;
        let (c, hw) = (acts[0].c, acts[0].h * acts[0].w);
        let (mean, var): (Vec<f64>, Vec<f64>) = match self.bn {
            RefBn::Eval(stats) => stats[i].clone(),
            RefBn::Train | RefBn::Collect(_) => {
                let (mean, (var, unbiased)): (Vec<f64>, (Vec<f64>, Vec<f64>)) = (0..c)
                    .map(|ch| {
                        let vals: Vec<f64> = acts
                            .iter()
                            .flat_map(|a| a.v[ch * hw..(ch + 1) * hw].to_vec())
                            .collect();
                        let n = vals.len() as f64;
                        let m = vals.iter().sum::<f64>() / n;
                        let ss = vals.iter().map(|x| (x - m).powi(2)).sum::<f64>();
                        (m, (ss / n, ss / (n - 1.0)))
                    })
                    .unzip();
                if let RefBn::Collect(out) = self.bn {
                    out.borrow_mut().push((mean.clone(), unbiased));
                }
                (mean, var)
            }
        };
        acts.into_iter()
            .map(|mut a| {
                for ch in 0..c {
                    let s = (var[ch] + 1e-5).sqrt();
                    for v in &mut a.v[ch * hw..(ch + 1) * hw] {
                        *v = gamma[ch] * (*v - mean[ch]) / s + beta[ch];
                    }
                }
                a
            })
            .collect()
    }

    fn dropout(&self, acts: Vec<Map>, rate: f32, channelwise: bool, site: &mut usize) -> Vec<Map> {
        if rate <= 0.0 {
            return acts;
        }
        let i = *site;
        *site += 1;
        let Some(masks) = self.masks.get(i) else {
            return acts;
        };
        acts.into_iter()
            .zip(masks)
            .map(|(mut a, m)| {
                let hw = a.h * a.w;
                for (k, v) in a.v.iter_mut().enumerate() {
                    *v *= if channelwise { m[k / hw] } else { m[k] };
                }
                a
            })
            .collect()
    }
}

fn relu(acts: Vec<Map>, margin: &mut f64) -> Vec<Map> {
    acts.into_iter()
        .map(|mut a| {
            for v in &mut a.v {
                *margin = margin.min(v.abs());
                *v = v.max(0.0);
            }
            a
        })
        .collect()
}

/// The smallest gap between a window's largest and second-largest value.
fn pool_gap(x: &Map, k: usize, s: usize, ceil: bool) -> f64 {
    let oh = out_size(x.h, k, s, 0, ceil);
    let ow = out_size(x.w, k, s, 0, ceil);
    let mut gap = f64::INFINITY;
    for c in 0..x.c {
        for i in 0..oh {
            for j in 0..ow {
                let mut vals: Vec<f64> = (i * s..(i * s + k).min(x.h))
                    .flat_map(|a| (j * s..(j * s + k).min(x.w)).map(move |b| (a, b)))
                    .map(|(a, b)| x.at(c, a, b))
                    .collect();
                vals.sort_by(|a, b| b.partial_cmp(a).unwrap());
                // Ties at exactly 0 are ReLU-clamped units: no gradient flows through either.
                if vals.len() > 1 && vals[0] != 0.0 {
                    gap = gap.min(vals[0] - vals[1]);
                }
            }
        }
    }
    gap
}

/// Mean cross-entropy of logits against labels.
pub fn cross_entropy(logits: &[Vec<f64>], labels: &[usize]) -> f64 {
    logits
        .iter()
        .zip(labels)
        .map(|(z, &y)| {
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - z[y]
        })
        .sum::<f64>()
        / labels.len() as f64
}
