//! CIFAR-10 and CIFAR-100 in their binary distributions (Krizhevsky 2009, "binary version" on
//! the dataset's page), as the user or the deployer supplies them: the `.tar.gz`, the `.tar`, or
//! the extracted `.bin` files, in any mix.
//! - CIFAR-10 (`cifar-10-binary.tar.gz`): `data_batch_1.bin` … `data_batch_5.bin` (training, in
//!   that order) and `test_batch.bin`; 10000 records each of 1 label byte + 3072 pixel bytes.
//! - CIFAR-100 (`cifar-100-binary.tar.gz`): `train.bin` (50000) and `test.bin` (10000); records of
//!   a coarse label byte (20 superclasses), a fine label byte (100 classes), 3072 pixel bytes.
//!
//! Pixels are channel-major (1024 red, 1024 green, 1024 blue bytes, rows of 32) and stay u8 on
//! the host, 154 MB for CIFAR-10's training set instead of 614 MB as f32: features are made per
//! subset (`ImageBytes::to_dataset`). Archives are read as streams (`flate2` and `tar`), one
//! member at a time, so a decompressed copy of the whole archive is never held.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use serde::{Deserialize, Serialize};

use super::Dataset;
use crate::error::{LabError, LabResult};

/// Bytes of one 3x32x32 image.
pub const PIXELS: usize = 3 * 32 * 32;

/// Largest member accepted: a CIFAR member is at most 154 MB (CIFAR-100's train.bin), so this
/// bounds what a forged archive can make us allocate.
const MAX_MEMBER_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CifarKind {
    Cifar10,
    Cifar100,
}

impl CifarKind {
    pub fn name(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "CIFAR-10",
            CifarKind::Cifar100 => "CIFAR-100",
        }
    }

    /// The lab's dataset name (results, URLs, the page's menu).
    pub fn id(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "cifar-10",
            CifarKind::Cifar100 => "cifar-100",
        }
    }

    /// Label bytes, then pixels.
    fn record_len(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1 + PIXELS,
            CifarKind::Cifar100 => 2 + PIXELS,
        }
    }

    fn other(self) -> Self {
        match self {
            CifarKind::Cifar10 => CifarKind::Cifar100,
            CifarKind::Cifar100 => CifarKind::Cifar10,
        }
    }

    /// The data members, training ones first in the order they are joined.
    fn members(self) -> (&'static [&'static str], &'static str) {
        match self {
            CifarKind::Cifar10 => (
                &[
                    "data_batch_1.bin",
                    "data_batch_2.bin",
                    "data_batch_3.bin",
                    "data_batch_4.bin",
                    "data_batch_5.bin",
                ],
                "test_batch.bin",
            ),
            CifarKind::Cifar100 => (&["train.bin"], "test.bin"),
        }
    }

    fn owns(self, member: &str) -> bool {
        let (train, test) = self.members();
        train.contains(&member) || member == test
    }
}

/// Which of CIFAR-100's two labels becomes the class (fine by default, as in the papers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cifar100Labels {
    /// The 100 classes.
    #[default]
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// Images kept as the files store them: [n, channels, height, width] bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageBytes {
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub classes: usize,
}

/// Per-channel mean and standard deviation of pixel / 255 over a training set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelStats {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl ImageBytes {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Mean and (population) standard deviation of each channel over every image and pixel, in
    /// f64 sums, the usual per-channel normalisation constants of CIFAR training.
    pub fn channel_stats(&self) -> ChannelStats {
        let plane = self.height * self.width;
        let mut sum = vec![0f64; self.channels];
        let mut sq = vec![0f64; self.channels];
        for image in self.pixels.chunks_exact(self.image_len()) {
            for (c, values) in image.chunks_exact(plane).enumerate() {
                for &p in values {
                    let x = p as f64 / 255.0;
                    sum[c] += x;
                    sq[c] += x * x;
                }
            }
        }
        let n = (self.len() * plane).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        ChannelStats {
            std: sq
                .iter()
                .zip(&mean)
                .map(|(s, m)| ((s / n - m * m).max(0.0).sqrt()) as f32)
                .collect(),
            mean: mean.into_iter().map(|m| m as f32).collect(),
        }
    }

    /// The first `n` images as f32 features [n, channels·height·width] (channel-major, as
    /// stored): pixel / 255, standardised per channel with `stats` when given.
    pub fn to_dataset(&self, n: usize, stats: Option<&ChannelStats>) -> LabResult<Dataset> {
        if n == 0 || n > self.len() {
            return Err(LabError::Config(format!(
                "subset size {n} must be between 1 and {}",
                self.len()
            )));
        }
        if let Some(s) = stats {
            if s.mean.len() != self.channels
                || s.std.len() != self.channels
                || s.std.iter().any(|v| !(*v > 0.0))
            {
                return Err(LabError::Config(format!(
                    "normalisation needs {} channel means and positive deviations, got {s:?}",
                    self.channels
                )));
            }
        }
        let plane = self.height * self.width;
        let len = self.image_len();
        let features = self.pixels[..n * len]
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let x = p as f32 / 255.0;
                match stats {
                    Some(s) => {
                        let c = (i % len) / plane;
                        (x - s.mean[c]) / s.std[c]
                    }
                    None => x,
                }
            })
            .collect();
        Ok(Dataset {
            features,
            labels: self.labels[..n].to_vec(),
            dim: len,
            classes: self.classes,
        })
    }
}

/// A decoded CIFAR set.
#[derive(Debug, Clone, PartialEq)]
pub struct CifarSet {
    pub kind: CifarKind,
    pub train: ImageBytes,
    pub test: ImageBytes,
    /// What was left aside (unknown archive members), to show the user.
    pub notes: Vec<String>,
}

/// Members of the distributions that carry no records (class names, the readme): skipped quietly.
const METADATA: [&str; 4] = [
    "batches.meta.txt",
    "readme.html",
    "fine_label_names.txt",
    "coarse_label_names.txt",
];

/// Decode CIFAR-10 or CIFAR-100 from `files` (each `(file name, bytes)`: a `.tar.gz`, a `.tar`
/// or a `.bin` member). `expected` is the set the user asked for, if any: the other set's files
/// are then refused with a message saying which set they look like. Every message names the
/// file at fault.
pub fn load_cifar(
    files: &[(&str, &[u8])],
    expected: Option<CifarKind>,
    labels: Cifar100Labels,
) -> LabResult<CifarSet> {
    let streams = files
        .iter()
        .map(|(name, bytes)| (name.to_string(), Box::new(*bytes) as Box<dyn Read>))
        .collect();
    load_cifar_streams(streams, expected, labels)
}

/// As `load_cifar`, reading each file as a stream (the page reads its JS buffers in chunks, so
/// no copy of a whole archive is made).
pub fn load_cifar_streams<'a>(
    files: Vec<(String, Box<dyn Read + 'a>)>,
    expected: Option<CifarKind>,
    labels: Cifar100Labels,
) -> LabResult<CifarSet> {
    if files.is_empty() {
        return Err(LabError::data("CIFAR", "no files were given"));
    }
    let given: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    let mut members: BTreeMap<String, (String, Vec<u8>)> = BTreeMap::new();
    let mut notes = Vec::new();
    for (name, source) in files {
        for (member, origin, data) in expand(&name, source)? {
            let base = member.rsplit('/').next().unwrap_or(&member).to_string();
            if base.is_empty() || METADATA.contains(&base.as_str()) {
                continue;
            }
            if !CifarKind::Cifar10.owns(&base) && !CifarKind::Cifar100.owns(&base) {
                notes.push(format!("ignored {origin}: not a CIFAR batch file"));
                continue;
            }
            if let Some((first, _)) = members.get(&base) {
                return Err(LabError::data(
                    &origin,
                    format!("{base} was given twice (also in {first})"),
                ));
            }
            members.insert(base, (origin, data));
        }
    }
    let has = |k: CifarKind| members.keys().any(|m| k.owns(m));
    let kind = match (has(CifarKind::Cifar10), has(CifarKind::Cifar100)) {
        (true, true) => {
            return Err(LabError::data(
                "CIFAR",
                "both CIFAR-10 (data_batch_*.bin, test_batch.bin) and CIFAR-100 (train.bin, \
                 test.bin) files were given: load one set at a time",
            ))
        }
        (true, false) => CifarKind::Cifar10,
        (false, true) => CifarKind::Cifar100,
        (false, false) => {
            return Err(LabError::data(
                &given.join(", "),
                "no CIFAR batch files found: expected data_batch_1.bin … data_batch_5.bin and \
                 test_batch.bin (CIFAR-10) or train.bin and test.bin (CIFAR-100), in a .tar.gz, \
                 a .tar or as files",
            ));
        }
    };
    if let Some(want) = expected.filter(|w| *w != kind) {
        let origin = &members.values().next().expect("a member was found").0;
        return Err(LabError::data(
            origin,
            format!(
                "this is {} ({}-byte records), not {}: choose {} or give the {} files",
                kind.name(),
                kind.record_len(),
                want.name(),
                kind.name(),
                want.name()
            ),
        ));
    }
    let (train_names, test_name) = kind.members();
    let mut take = |name: &str| {
        members.remove(name).ok_or_else(|| {
            LabError::data(
                name,
                format!(
                    "missing: {} needs {} and {test_name}",
                    kind.name(),
                    train_names.join(", ")
                ),
            )
        })
    };
    let mut train = Vec::new();
    for name in train_names {
        train.push(take(name)?);
    }
    let test = take(test_name)?;
    Ok(CifarSet {
        kind,
        train: decode_records(kind, labels, &train)?,
        test: decode_records(kind, labels, std::slice::from_ref(&test))?,
        notes,
    })
}

/// The members of one given file: the entries of a tar (gzipped or not), or the file itself.
/// Each is `(member name, where it came from for messages, bytes)`.
fn expand<'a>(
    name: &str,
    mut source: Box<dyn Read + 'a>,
) -> LabResult<Vec<(String, String, Vec<u8>)>> {
    let mut magic = Vec::with_capacity(2);
    (&mut source)
        .take(2)
        .read_to_end(&mut magic)
        .map_err(|e| LabError::data(name, format!("could not be read ({e})")))?;
    if magic.is_empty() {
        return Err(LabError::data(name, "the file is empty (0 bytes)"));
    }
    let gzipped = magic == [0x1f, 0x8b];
    let source = Cursor::new(magic).chain(source);
    let mut stream: Box<dyn Read + 'a> = if gzipped {
        Box::new(flate2::read::GzDecoder::new(source))
    } else {
        Box::new(source)
    };
    // A tar's first header block carries "ustar" at offset 257: peek at it without buffering
    // the (possibly decompressed) stream.
    let mut head = Vec::with_capacity(512);
    (&mut stream)
        .take(512)
        .read_to_end(&mut head)
        .map_err(|e| corrupt(name, gzipped, e))?;
    let is_tar = head.len() == 512 && &head[257..262] == b"ustar";
    let stream = Cursor::new(head).chain(stream);
    if !is_tar {
        if name.ends_with(".tar") || name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            return Err(LabError::data(
                name,
                if gzipped {
                    "the gzip stream does not hold a tar archive"
                } else {
                    "not a tar archive (no ustar header) and not gzip-compressed"
                },
            ));
        }
        let member = name.strip_suffix(".gz").unwrap_or(name).to_string();
        let mut data = Vec::new();
        stream
            .take(MAX_MEMBER_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|e| corrupt(name, gzipped, e))?;
        if data.len() as u64 > MAX_MEMBER_BYTES {
            return Err(LabError::data(name, "larger than any CIFAR file (256 MiB)"));
        }
        let base = member.rsplit('/').next().unwrap_or(&member).to_string();
        return Ok(vec![(base, name.to_string(), data)]);
    }
    let mut archive = tar::Archive::new(stream);
    let mut out = Vec::new();
    let entries = archive.entries().map_err(|e| corrupt(name, gzipped, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(name, gzipped, e))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| corrupt(name, gzipped, e))?
            .to_string_lossy()
            .into_owned();
        let size = entry.size();
        if size > MAX_MEMBER_BYTES {
            return Err(LabError::data(
                &format!("{name}: {path}"),
                format!("member of {size} bytes is larger than any CIFAR file (256 MiB)"),
            ));
        }
        let mut data = Vec::with_capacity(size as usize);
        entry
            .read_to_end(&mut data)
            .map_err(|e| corrupt(&format!("{name}: {path}"), gzipped, e))?;
        if (data.len() as u64) < size {
            return Err(LabError::data(
                &format!("{name}: {path}"),
                format!(
                    "the archive is truncated: the member holds {} of its {size} bytes",
                    data.len()
                ),
            ));
        }
        out.push((path.clone(), format!("{name}: {path}"), data));
    }
    Ok(out)
}

fn corrupt(name: &str, gzipped: bool, e: std::io::Error) -> LabError {
    let what = if gzipped {
        "the gzip stream or the tar inside it is corrupt or truncated"
    } else {
        "the tar archive is corrupt or truncated"
    };
    LabError::data(name, format!("{what} ({e})"))
}

/// Join the records of `parts` (each `(origin, bytes)`) into one image set.
fn decode_records(
    kind: CifarKind,
    labels: Cifar100Labels,
    parts: &[(String, Vec<u8>)],
) -> LabResult<ImageBytes> {
    let record = kind.record_len();
    let count: usize = parts.iter().map(|(_, d)| d.len() / record).sum();
    let (classes, label_at) = match (kind, labels) {
        (CifarKind::Cifar10, _) => (10, 0),
        (CifarKind::Cifar100, Cifar100Labels::Coarse) => (20, 0),
        (CifarKind::Cifar100, Cifar100Labels::Fine) => (100, 1),
    };
    let mut pixels = Vec::with_capacity(count * PIXELS);
    let mut out_labels = Vec::with_capacity(count);
    for (origin, data) in parts {
        if data.is_empty() {
            return Err(LabError::data(origin, "the file is empty (0 bytes)"));
        }
        if data.len() % record != 0 {
            let other = kind.other().record_len();
            let message = if data.len() % other == 0 {
                format!(
                    "{} bytes are whole {other}-byte records, as in {}, not {record}-byte \
                     {} records: this file looks like {}",
                    data.len(),
                    kind.other().name(),
                    kind.name(),
                    kind.other().name()
                )
            } else {
                format!(
                    "truncated: {} bytes are {} whole {record}-byte {} records and {} bytes of \
                     a cut-off one",
                    data.len(),
                    data.len() / record,
                    kind.name(),
                    data.len() % record
                )
            };
            return Err(LabError::data(origin, message));
        }
        for (i, r) in data.chunks_exact(record).enumerate() {
            // Every label byte is checked, the unused CIFAR-100 one too: a bad byte there means
            // the records are not what they claim to be.
            let ranges: &[(&str, usize)] = match kind {
                CifarKind::Cifar10 => &[("label", 10)],
                CifarKind::Cifar100 => &[("coarse label", 20), ("fine label", 100)],
            };
            for (at, (which, n)) in ranges.iter().enumerate() {
                if r[at] as usize >= *n {
                    return Err(LabError::data(
                        origin,
                        format!(
                            "record {i}: {which} {} is out of range 0..={}",
                            r[at],
                            n - 1
                        ),
                    ));
                }
            }
            let label = r[label_at];
            out_labels.push(label);
            pixels.extend_from_slice(&r[record - PIXELS..]);
        }
    }
    Ok(ImageBytes {
        pixels,
        labels: out_labels,
        channels: 3,
        height: 32,
        width: 32,
        classes,
    })
}
