//! One seed drives all randomness: three runs with the same seed on the CPU backend give the same
//! result bit for bit (initial weights, dropout masks, Gaussian noise, batch order, S_grad masks,
//! the trajectory), and another seed gives different numbers. Covers a GD noise preset (000 Fig 2),
//! an SGD preset over dropout modes and seeds (004) and one over every noise kind (002 Fig 4).
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;

use dropout_lab::data::Dataset;
use dropout_lab::experiments::preset::{config_from_fields, run_to_file};
use dropout_lab::experiments::registry::visit;
use dropout_lab::experiments::{Preset, Scale, Silent, Visitor};

/// The preset's result JSON after a run at `fields` (the CLI's and the page's texts).
fn result_json(id: &str, fields: &[(&str, &str)], train: &Dataset, test: &Dataset) -> String {
    struct Run<'a> {
        fields: Vec<(String, String)>,
        train: &'a Dataset,
        test: &'a Dataset,
    }
    impl Visitor for Run<'_> {
        type Out = String;
        fn visit<P: Preset>(self) -> String {
            let (config, errors) = config_from_fields::<P>(Scale::Demo, &self.fields);
            assert!(errors.is_empty(), "{errors:?}");
            let inputs = common::cpu_inputs(self.train, self.test);
            let file = pollster::block_on(run_to_file::<P>(&config, &inputs, &mut Silent)).unwrap();
            serde_json::to_string(&file.result).unwrap()
        }
    }
    let fields = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    visit(
        id,
        Run {
            fields,
            train,
            test,
        },
    )
    .unwrap()
}

fn three_runs_agree_and_another_seed_differs(id: &str, fields: &[(&str, &str)]) {
    let (train, test) = (
        common::mnist("train").first(256).unwrap(),
        common::mnist("test").first(128).unwrap(),
    );
    let with_seed = |seed: &'static str| {
        let mut f = fields.to_vec();
        f.push(("seed", seed));
        result_json(id, &f, &train, &test)
    };
    let first = with_seed("11");
    for run in 2..=3 {
        assert!(
            with_seed("11") == first,
            "{id}: run {run} with seed 11 differs from the first"
        );
    }
    assert_ne!(
        with_seed("12"),
        first,
        "{id}: seed 12 gives the same numbers as seed 11"
    );
}

#[test]
fn fig2_same_seed_same_spectra_and_flatness() {
    three_runs_agree_and_another_seed_differs(
        "fig2",
        &[
            ("settings", "0.2:0.1"),
            ("train_size", "128"),
            ("epochs", "5"),
            ("samples", "6"),
            ("sources", "grad, para"),
            ("widths", "784-16-16-10"),
            ("top_k", "3"),
        ],
    );
}

#[test]
fn modes_same_seed_same_table() {
    three_runs_agree_and_another_seed_differs(
        "modes",
        &[
            ("rates", "0.3"),
            ("modes", "standard, augmented:0.0001"),
            ("seeds", "2"),
            ("train_size", "256"),
            ("test_size", "128"),
            ("epochs", "1"),
            ("widths", "784-16-16-10"),
            ("batch_size", "32"),
        ],
    );
}

#[test]
fn noise_kinds_same_seed_same_volumes() {
    three_runs_agree_and_another_seed_differs(
        "noise",
        &[
            (
                "variants",
                "plain, dropout, gaussian_dropout, disentanglement, weight_noise",
            ),
            ("seeds", "1"),
            ("train_size", "256"),
            ("test_size", "128"),
            ("epochs", "1"),
            ("kfac_rows", "64"),
            ("widths", "784-16-16-16-10"),
            ("batch_size", "32"),
            ("mask_draws", "2"),
            ("refresh_every", "4"),
        ],
    );
}
