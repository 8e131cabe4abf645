//! CIFAR-10 / CIFAR-100 decoding from archives built here in the real binary format (records of
//! label byte(s) + 3072 channel-major pixel bytes, in a tar, gzipped or not, or as loose .bin
//! files), and every bad input the page and the CLI can meet, each with a message that names the
//! file and the problem.
#![cfg(not(target_arch = "wasm32"))]

use std::io::Write;

use dropout_lab::data::cifar::{load_cifar, Cifar100Labels, CifarKind, PIXELS};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One record per image: labels, then pixels drawn from the seed.
fn records(labels: &[Vec<u8>], rng: &mut ChaCha8Rng) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut file = Vec::new();
    let mut images = Vec::new();
    for l in labels {
        let image: Vec<u8> = (0..PIXELS).map(|_| rng.random()).collect();
        file.extend_from_slice(l);
        file.extend_from_slice(&image);
        images.push(image);
    }
    (file, images)
}

fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A CIFAR-10 distribution with `per_batch` records per file, as (member name, bytes), and the
/// expected training images and labels in order.
struct Cifar10 {
    members: Vec<(String, Vec<u8>)>,
    train_images: Vec<Vec<u8>>,
    train_labels: Vec<u8>,
    test_labels: Vec<u8>,
}

fn cifar10(per_batch: usize) -> Cifar10 {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let mut c = Cifar10 {
        members: Vec::new(),
        train_images: Vec::new(),
        train_labels: Vec::new(),
        test_labels: Vec::new(),
    };
    for b in 1..=5 {
        let labels: Vec<u8> = (0..per_batch).map(|i| ((b + i) % 10) as u8).collect();
        let (file, images) = records(
            &labels.iter().map(|&l| vec![l]).collect::<Vec<_>>(),
            &mut rng,
        );
        c.members
            .push((format!("cifar-10-batches-bin/data_batch_{b}.bin"), file));
        c.train_images.extend(images);
        c.train_labels.extend(labels);
    }
    let labels: Vec<u8> = (0..per_batch).map(|i| (9 - i % 10) as u8).collect();
    let (file, _) = records(
        &labels.iter().map(|&l| vec![l]).collect::<Vec<_>>(),
        &mut rng,
    );
    c.members
        .push(("cifar-10-batches-bin/test_batch.bin".into(), file));
    c.test_labels = labels;
    c.members.push((
        "cifar-10-batches-bin/batches.meta.txt".into(),
        b"airplane\nautomobile\n".to_vec(),
    ));
    c
}

fn as_refs(members: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    members
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect()
}

#[test]
fn cifar10_reads_the_same_from_tar_gz_tar_and_loose_files() {
    let c = cifar10(3);
    let mut with_extra = as_refs(&c.members);
    with_extra.push(("cifar-10-batches-bin/notes.txt", b"hello"));
    let tar = tar_of(&with_extra);
    let tgz = gzip(&tar);
    let from_tgz = load_cifar(
        &[("cifar-10-binary.tar.gz", &tgz)],
        None,
        Cifar100Labels::Fine,
    )
    .unwrap();
    assert_eq!(from_tgz.kind, CifarKind::Cifar10);
    assert_eq!(from_tgz.train.len(), 15);
    assert_eq!(from_tgz.test.len(), 3);
    assert_eq!(from_tgz.train.classes, 10);
    assert_eq!(
        from_tgz.train.labels, c.train_labels,
        "batches joined in order 1..5"
    );
    assert_eq!(from_tgz.test.labels, c.test_labels);
    let joined: Vec<u8> = c.train_images.concat();
    assert_eq!(from_tgz.train.pixels, joined);
    // The unknown member is said; the distribution's own metadata is not.
    assert_eq!(from_tgz.notes.len(), 1, "{:?}", from_tgz.notes);
    assert!(
        from_tgz.notes[0].contains("notes.txt"),
        "{:?}",
        from_tgz.notes
    );

    let from_tar = load_cifar(
        &[("cifar-10-binary.tar", &tar)],
        Some(CifarKind::Cifar10),
        Cifar100Labels::Fine,
    )
    .unwrap();
    assert_eq!(from_tar.train, from_tgz.train);
    assert_eq!(from_tar.test, from_tgz.test);
    // Loose files, in any order, named without their folder.
    let mut loose: Vec<(String, Vec<u8>)> = c
        .members
        .iter()
        .map(|(n, d)| (n.rsplit('/').next().unwrap().to_string(), d.clone()))
        .collect();
    loose.reverse();
    let from_files = load_cifar(&as_refs(&loose), None, Cifar100Labels::Fine).unwrap();
    assert_eq!(from_files.train, from_tgz.train);
    assert!(from_files.notes.is_empty());
}

#[test]
fn cifar100_takes_fine_labels_by_default_and_coarse_on_request() {
    let mut rng = ChaCha8Rng::seed_from_u64(100);
    let labels: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i * 5, 99 - i]).collect();
    let (train, images) = records(&labels, &mut rng);
    let (test, _) = records(&labels[..2], &mut rng);
    let tgz = gzip(&tar_of(&[
        ("cifar-100-binary/train.bin", &train),
        ("cifar-100-binary/test.bin", &test),
        ("cifar-100-binary/fine_label_names.txt", b"apple\n"),
    ]));
    let fine = load_cifar(
        &[("cifar-100-binary.tar.gz", &tgz)],
        Some(CifarKind::Cifar100),
        Cifar100Labels::Fine,
    )
    .unwrap();
    assert_eq!(fine.kind, CifarKind::Cifar100);
    assert_eq!(fine.train.classes, 100);
    assert_eq!(fine.train.labels, vec![99, 98, 97, 96]);
    assert_eq!(fine.train.pixels, images.concat());
    assert_eq!(fine.test.len(), 2);
    let coarse = load_cifar(
        &[("cifar-100-binary.tar.gz", &tgz)],
        None,
        Cifar100Labels::Coarse,
    )
    .unwrap();
    assert_eq!(coarse.train.classes, 20);
    assert_eq!(coarse.train.labels, vec![0, 5, 10, 15]);
}

#[test]
fn channel_statistics_and_features_follow_their_definitions() {
    let c = cifar10(4);
    let set = load_cifar(&as_refs(&c.members), None, Cifar100Labels::Fine).unwrap();
    let stats = set.train.channel_stats();
    // Two-pass mean and population deviation per channel, written here from the definition.
    for ch in 0..3 {
        let values: Vec<f64> = c
            .train_images
            .iter()
            .flat_map(|im| {
                im[ch * 1024..(ch + 1) * 1024]
                    .iter()
                    .map(|&p| p as f64 / 255.0)
            })
            .collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
        assert!(
            (stats.mean[ch] as f64 - mean).abs() < 1e-6,
            "channel {ch} mean"
        );
        assert!(
            (stats.std[ch] as f64 - var.sqrt()).abs() < 1e-6,
            "channel {ch} std"
        );
    }
    let d = set.train.to_dataset(7, Some(&stats)).unwrap();
    assert_eq!((d.len(), d.dim, d.classes), (7, 3072, 10));
    // Image 6, green channel (plane 1), row 3, column 5.
    let p = c.train_images[6][1024 + 3 * 32 + 5] as f32 / 255.0;
    let want = (p - stats.mean[1]) / stats.std[1];
    assert!((d.features[6 * 3072 + 1024 + 3 * 32 + 5] - want).abs() < 1e-6);
    let unit = set.train.to_dataset(1, None).unwrap();
    assert_eq!(unit.features[0], c.train_images[0][0] as f32 / 255.0);
    assert!(set
        .train
        .to_dataset(21, None)
        .unwrap_err()
        .to_string()
        .contains("between 1 and 20"));
}

/// (what is given, the set asked for, words the message must hold).
#[test]
fn bad_inputs_are_refused_with_the_file_and_the_problem() {
    let c = cifar10(2);
    let refs = as_refs(&c.members);
    let tgz = gzip(&tar_of(&refs));
    let batch1 = c.members[0].1.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (c100, _) = records(&[vec![1, 2], vec![3, 4]], &mut rng);

    let check = |files: &[(&str, &[u8])], expected: Option<CifarKind>, words: &[&str]| {
        let e = load_cifar(files, expected, Cifar100Labels::Fine)
            .expect_err("bad input must be refused")
            .to_string();
        for w in words {
            assert!(e.contains(w), "{e:?} should mention {w:?}");
        }
    };
    // Not gzip, not tar.
    check(
        &[(
            "cifar-10-binary.tar.gz",
            b"this is plainly not an archive at all",
        )],
        None,
        &["cifar-10-binary.tar.gz", "not a tar archive"],
    );
    check(
        &[("cifar-10-binary.tar.gz", &gzip(b"gzip of text"))],
        None,
        &["does not hold a tar archive"],
    );
    // A truncated archive: the gzip stream cut in the middle.
    check(
        &[("cifar-10-binary.tar.gz", &tgz[..tgz.len() / 2])],
        None,
        &["cifar-10-binary.tar.gz", "truncated"],
    );
    // A truncated tar (the end of the last member missing).
    let tar = tar_of(&refs);
    check(
        &[("c.tar", &tar[..tar.len() - 3000])],
        None,
        &["c.tar", "truncated"],
    );
    // A truncated record.
    let mut cut = refs.clone();
    let short = &batch1[..batch1.len() - 100];
    cut[0] = ("data_batch_1.bin", short);
    check(&cut, None, &["data_batch_1.bin", "truncated", "cut-off"]);
    // CIFAR-100 offered as CIFAR-10, by name and by record size.
    check(
        &[("train.bin", &c100), ("test.bin", &c100)],
        Some(CifarKind::Cifar10),
        &["test.bin", "CIFAR-100", "not CIFAR-10"],
    );
    let mut renamed = refs.clone();
    renamed[0] = ("data_batch_1.bin", &c100);
    check(
        &renamed,
        None,
        &[
            "data_batch_1.bin",
            "3074-byte records",
            "looks like CIFAR-100",
        ],
    );
    // And CIFAR-10 offered as CIFAR-100.
    check(
        &refs,
        Some(CifarKind::Cifar100),
        &["CIFAR-10", "not CIFAR-100"],
    );
    // A label out of range.
    let mut bad_label = batch1.clone();
    bad_label[PIXELS + 1] = 10; // the second record's label
    let mut labelled = refs.clone();
    labelled[0] = ("data_batch_1.bin", &bad_label);
    check(
        &labelled,
        None,
        &["data_batch_1.bin", "record 1", "label 10", "0..=9"],
    );
    let mut bad_fine = c100.clone();
    bad_fine[1] = 100;
    check(
        &[("train.bin", &bad_fine), ("test.bin", &c100)],
        None,
        &["train.bin", "fine label 100"],
    );
    // A missing batch file.
    let missing: Vec<(&str, &[u8])> = refs
        .iter()
        .filter(|(n, _)| !n.ends_with("data_batch_3.bin"))
        .copied()
        .collect();
    check(&missing, None, &["data_batch_3.bin", "missing"]);
    // Nothing CIFAR at all, an empty file, both sets at once, a member twice.
    check(
        &[("t10k-images-idx3-ubyte", &[0, 0, 8, 3])],
        None,
        &["t10k-images-idx3-ubyte", "no CIFAR batch files"],
    );
    check(
        &[("test_batch.bin", &[])],
        None,
        &["test_batch.bin", "empty"],
    );
    let mut both = refs.clone();
    both.push(("train.bin", &c100));
    check(&both, None, &["both CIFAR-10", "CIFAR-100"]);
    let mut twice = refs.clone();
    twice.push(("cifar-10-binary.tar.gz", &tgz));
    check(&twice, None, &["given twice"]);
}

/// The CLI takes the archive (or its folder) with `--data`, trains an MLP on it, and refuses a
/// broken archive with the file's name and no panic.
#[test]
fn the_cli_trains_on_a_cifar_archive_and_refuses_a_broken_one() {
    use dropout_lab::model::{Activation, InitScheme, MlpConfig};
    use dropout_lab::train::{OptimizerKind, TrainConfig};
    let dir = std::env::temp_dir().join(format!("dropout-lab-cifar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = cifar10(3);
    let tgz = gzip(&tar_of(&as_refs(&c.members)));
    let archive = dir.join("cifar-10-binary.tar.gz");
    std::fs::write(&archive, &tgz).unwrap();
    let config = TrainConfig::for_preset(
        MlpConfig {
            widths: vec![3072, 8, 10],
            activation: Activation::Relu,
            drop_rates: vec![0.5],
            init: InitScheme::Xavier,
        },
        OptimizerKind::Sgd,
        0.01,
        1,
        5,
        15,
        3,
        1,
    );
    let config_path = dir.join("run.json");
    std::fs::write(&config_path, serde_json::to_string(&config).unwrap()).unwrap();
    let out = dir.join("history.json");
    let train = |data: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dropout-lab"))
            .args([
                "train",
                "--config",
                config_path.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .args(["--data", data.to_str().unwrap()])
            .output()
            .unwrap()
    };
    for data in [archive.as_path(), dir.as_path()] {
        let ran = train(data);
        let stderr = String::from_utf8_lossy(&ran.stderr);
        assert!(ran.status.success(), "{stderr}");
        assert!(
            stderr.contains("CIFAR-10: 15 training and 3 test images, 10 classes"),
            "{stderr}"
        );
        let history: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(
            history["epochs"].as_array().map(Vec::len),
            Some(2),
            "epochs 0 and 1: {history}"
        );
    }
    std::fs::write(&archive, &tgz[..tgz.len() / 3]).unwrap();
    let ran = train(&archive);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(!ran.status.success());
    assert!(
        stderr.contains("cifar-10-binary.tar.gz") && stderr.contains("truncated"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The CLI trains a conv net (a TrainConfig, told apart by its `arch`) on a CIFAR archive and
/// writes weights in PyTorch's state_dict layout that load back into the same network; an
/// unknown architecture is refused by name.
#[test]
fn the_cli_trains_a_conv_net_on_cifar_and_writes_state_dict_weights() {
    use dropout_lab::io::net_safetensors;
    use dropout_lab::model::net::{Arch, ArchConfig};
    use dropout_lab::train::TrainConfig;
    let dir = std::env::temp_dir().join(format!("dropout-lab-cifar-net-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = cifar10(3);
    let archive = dir.join("cifar-10-binary.tar.gz");
    std::fs::write(&archive, gzip(&tar_of(&as_refs(&c.members)))).unwrap();
    let mut arch = ArchConfig::new(Arch::ConvnetQuick);
    arch.width = 0.25;
    arch.drop_rate = 0.5;
    let mut config = TrainConfig::new(arch);
    config.train_size = 15;
    config.test_size = 3;
    config.batch_size = 5;
    let config_path = dir.join("net.json");
    let weights = dir.join("net.safetensors");
    let out = dir.join("net-history.json");
    let run = |config: &serde_json::Value| {
        std::fs::write(&config_path, config.to_string()).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_dropout-lab"))
            .args(["train", "--config", config_path.to_str().unwrap()])
            .args(["--out", out.to_str().unwrap()])
            .args(["--weights", weights.to_str().unwrap()])
            .args(["--data", archive.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let json = serde_json::to_value(&config).unwrap();
    let ran = run(&json);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(ran.status.success(), "{stderr}");
    assert!(
        stderr.contains("convnet-quick") && stderr.contains("step 3/3"),
        "{stderr}"
    );
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        history["epochs"].as_array().map(Vec::len),
        Some(2),
        "{history}"
    );
    let bytes = std::fs::read(&weights).unwrap();
    let spec = config.spec(3072, 10).unwrap();
    let params = net_safetensors::import(&bytes, &spec).unwrap();
    assert_eq!(params.params[0].len(), 8 * 3 * 5 * 5);

    let mut bad = json.clone();
    bad["arch"]["arch"] = "resnet50".into();
    let ran = run(&bad);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(!ran.status.success());
    assert!(stderr.contains("resnet50"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}
