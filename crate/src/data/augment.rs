//! Seeded augmentation of image batches for the CIFAR ResNet runs of paper 004 (He et al. 2016
//! Sec. 4.2: "4 pixels are padded on each side, and a 32x32 crop is randomly sampled from the
//! padded image or its horizontal flip").

use rand::Rng;

/// Pad by `pad` pixels, crop a random window of the original size, and flip it horizontally with
/// probability 1/2, independently per example, in place. `batch` holds rows of [c, h, w] features
/// (already normalised): the padding is 0 in feature space, the training set's mean colour after
/// per-channel standardisation (torchvision pads black before normalising).
pub fn pad_crop_flip(batch: &mut [f32], shape: [usize; 3], pad: usize, rng: &mut impl Rng) {
    let [c, h, w] = shape;
    let dim = c * h * w;
    let mut out = vec![0.0f32; dim];
    for example in batch.chunks_mut(dim) {
        // Offsets of the crop in the padded image: dy, dx in [0, 2·pad].
        let dy = rng.random_range(0..=2 * pad) as isize - pad as isize;
        let dx = rng.random_range(0..=2 * pad) as isize - pad as isize;
        let flip = rng.random::<bool>();
        for ch in 0..c {
            for y in 0..h {
                let sy = y as isize + dy;
                for x in 0..w {
                    let xx = if flip { w - 1 - x } else { x };
                    let sx = xx as isize + dx;
                    out[(ch * h + y) * w + x] =
                        if sy < 0 || sx < 0 || sy >= h as isize || sx >= w as isize {
                            0.0
                        } else {
                            example[(ch * h + sy as usize) * w + sx as usize]
                        };
                }
            }
        }
        example.copy_from_slice(&out);
    }
}

/// The [channels, side, side] shape of a flat image of `dim` features: grey when `dim` is a
/// square (MNIST 784 = 28²), RGB when dim/3 is one (CIFAR 3072 = 3·32²).
pub fn image_shape(dim: usize) -> Option<[usize; 3]> {
    let side = |n: usize| {
        let s = (n as f64).sqrt().round() as usize;
        (s * s == n && s > 0).then_some(s)
    };
    if let Some(s) = side(dim) {
        return Some([1, s, s]);
    }
    if dim % 3 == 0 {
        if let Some(s) = side(dim / 3) {
            return Some([3, s, s]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};

    #[test]
    fn shapes_of_the_lab_sets() {
        assert_eq!(image_shape(784), Some([1, 28, 28]));
        assert_eq!(image_shape(3072), Some([3, 32, 32]));
        assert_eq!(image_shape(49), Some([1, 7, 7]));
        assert_eq!(image_shape(10), None);
    }

    #[test]
    fn crops_are_shifted_copies_and_flips_mirror() {
        // One 1x6x6 image with distinct values: every output is either 0 (padding) or the input
        // at a fixed shift, and over many draws all 9 x 9 shifts and both flips occur.
        let img: Vec<f32> = (1..=36).map(|v| v as f32).collect();
        let mut seen = std::collections::HashSet::new();
        let mut rng = stream(1, Stream::Augment);
        for _ in 0..4000 {
            let mut b = img.clone();
            pad_crop_flip(&mut b, [1, 6, 6], 4, &mut rng);
            // Find the shift and flip that explain the output.
            let mut found = None;
            'search: for flip in [false, true] {
                for dy in -4isize..=4 {
                    for dx in -4isize..=4 {
                        let ok = (0..6).all(|y| {
                            (0..6).all(|x| {
                                let xx = if flip { 5 - x } else { x };
                                let (sy, sx) = (y as isize + dy, xx as isize + dx);
                                let want = if (0..6).contains(&sy) && (0..6).contains(&sx) {
                                    img[sy as usize * 6 + sx as usize]
                                } else {
                                    0.0
                                };
                                b[y * 6 + x] == want
                            })
                        });
                        if ok {
                            found = Some((flip, dy, dx));
                            break 'search;
                        }
                    }
                }
            }
            seen.insert(found.expect("output is a padded crop, possibly flipped"));
        }
        assert_eq!(seen.len(), 2 * 81, "every shift and flip occurs");
        let mut a = img.clone();
        let mut b = img.clone();
        pad_crop_flip(&mut a, [1, 6, 6], 4, &mut stream(2, Stream::Augment));
        pad_crop_flip(&mut b, [1, 6, 6], 4, &mut stream(2, Stream::Augment));
        assert_eq!(a, b, "same seed, same crops");
    }
}
