//! The bad-data sweep (issue "Reliability", item 7): every broken set of IDX files gets a message
//! that names the file at fault and the problem, and nothing is allocated from a forged header.
//! The files are built here byte by byte in the IDX format (LeCun's description: magic
//! 00 00 <type> <rank>, big-endian u32 dimensions, data); the page's e2e test sends the same
//! table through the worker.
#![cfg(not(target_arch = "wasm32"))]

use std::io::Write;

use dropout_lab::data::{Dataset, Normalisation};

fn idx(kind: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, kind, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn images(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..n * rows * cols).map(|i| (i % 251) as u8).collect();
    idx(8, &[n, rows, cols], &pixels)
}

fn labels(n: u32) -> Vec<u8> {
    let l: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    idx(8, &[n], &l)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

const NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// A good set: 12 training and 5 test images of 4x3.
fn good() -> [Vec<u8>; 4] {
    [images(12, 4, 3), labels(12), images(5, 4, 3), labels(5)]
}

fn load(files: &[Vec<u8>; 4]) -> Result<(Dataset, Dataset), String> {
    Dataset::splits_from_idx(
        [
            (NAMES[0], &files[0]),
            (NAMES[1], &files[1]),
            (NAMES[2], &files[2]),
            (NAMES[3], &files[3]),
        ],
        Normalisation::Unit,
    )
    .map_err(|e| e.to_string())
}

/// The set `good()` with file `which` replaced.
fn with(which: usize, bytes: Vec<u8>) -> [Vec<u8>; 4] {
    let mut f = good();
    f[which] = bytes;
    f
}

#[test]
fn the_good_set_loads() {
    let (train, test) = load(&good()).unwrap();
    assert_eq!((train.len(), test.len(), train.dim), (12, 5, 12));
    // gzipped files load to the same numbers.
    let gz = good().map(|f| gzip(&f));
    assert_eq!(load(&gz).unwrap(), (train, test));
}

#[test]
fn every_bad_file_is_named_with_its_problem() {
    let mut truncated_gzip = gzip(&images(12, 4, 3));
    truncated_gzip.truncate(truncated_gzip.len() / 2);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[
        0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 28, 0, 0, 0, 28,
    ]);
    let floats: Vec<u8> = (0..12 * 4 * 3 * 4).map(|i| i as u8).collect();
    let mut label_12 = labels(12);
    *label_12.last_mut().unwrap() = 12;
    let cases: Vec<(&str, [Vec<u8>; 4], usize, &str)> = vec![
        ("truncated gzip", with(0, truncated_gzip), 0, "gzip stream is corrupt or truncated"),
        (
            "dimensions in the wrong order",
            with(0, idx(8, &[4, 3, 12], &[7; 144])),
            0,
            "dimensions [4, 3, 12] look like [rows, cols, count] (12 images of 4x3); IDX images are [count, rows, cols]",
        ),
        ("a label above 9", with(1, label_12), 1, "label 12 at position 11 is out of range: labels must be 0..=9"),
        (
            "a header count of 2^31-1 with little data",
            with(0, idx(8, &[(1 << 31) - 1, 28, 28], &[0; 100])),
            0,
            "truncated: the header's dimensions [2147483647, 28, 28] need 1683627179248 bytes of data, the file has 100",
        ),
        ("zero images", [images(0, 4, 3), labels(0), images(5, 4, 3), labels(5)], 0, "the file holds zero images"),
        (
            "a float-typed IDX",
            with(2, idx(0x0D, &[12, 4, 3], &floats)),
            2,
            "IDX element type 0x0d (32-bit float) is not unsigned byte (0x08)",
        ),
        ("an empty file", with(3, Vec::new()), 3, "the file is empty (0 bytes)"),
        ("a PNG renamed as IDX", with(2, png), 2, "wrong magic number 89 50 4e 47: this is a PNG image, not an IDX file"),
        (
            "train and test of different image sizes",
            with(2, images(5, 32, 32)),
            2,
            "its images have 1024 pixels, those of train-images-idx3-ubyte 12: training and test images must have the same size",
        ),
        (
            "image and label counts that differ",
            with(1, labels(11)),
            1,
            "label count 11 does not match image count 12 in train-images-idx3-ubyte",
        ),
        ("labels with two dimensions", with(3, idx(8, &[5, 1], &[1; 5])), 3, "labels must have 1 dimension, found [5, 1]"),
        ("trailing bytes", with(1, [labels(12), vec![0, 0]].concat()), 1, "2 unexpected bytes after the data"),
    ];
    for (what, files, culprit, message) in cases {
        let e = load(&files).expect_err(what);
        assert!(
            e.starts_with(&format!("data error in {}: ", NAMES[culprit])),
            "{what}: names {}: {e}",
            NAMES[culprit]
        );
        assert!(e.contains(message), "{what}: {e}");
    }
}

#[test]
fn thirty_two_by_thirty_two_images_load_and_a_784_input_model_is_told_why_not() {
    let files = [images(12, 32, 32), labels(12), images(5, 32, 32), labels(5)];
    let (train, _) = load(&files).unwrap();
    assert_eq!(train.dim, 1024);
    let model = dropout_lab::model::MlpConfig {
        widths: vec![784, 10, 10],
        activation: dropout_lab::model::Activation::Relu,
        drop_rates: vec![0.5],
        init: dropout_lab::model::InitScheme::He,
    };
    let e = model
        .validate(train.dim, train.classes)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("input width 784 does not match the data's 1024 features"),
        "{e}"
    );
}
