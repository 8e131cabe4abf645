//! The preset registry: every preset's configs round-trip through JSON and through the text of
//! its form fields, its schema covers every config field, and result files carry their version.
// Native only: the wasm build runs tests/browser.rs (wasm-pack test, wasm-bindgen-test).
#![cfg(not(target_arch = "wasm32"))]

use dropout_lab::experiments::preset::{
    apply_fields, base_config, config_from_fields, to_value, typed_config, SCHEMA_VERSION,
};
use dropout_lab::experiments::registry::{catalogue, ids, visit};
use dropout_lab::experiments::schema::{get_path, leaf_paths};
use dropout_lab::experiments::{Preset, ResultFile, Scale, Visitor};

/// Run `check::<P>()` for every registered preset.
fn each(check: impl Fn(&str) -> Result<(), String>) {
    let failures: Vec<String> = ids()
        .into_iter()
        .filter_map(|id| check(id).err().map(|e| format!("{id}: {e}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

struct RoundTrip;
impl Visitor for RoundTrip {
    type Out = Result<(), String>;
    fn visit<P: Preset>(self) -> Result<(), String> {
        for scale in [Scale::Demo, Scale::Paper] {
            let json = base_config::<P>(scale);
            let typed = typed_config::<P>(&json).map_err(|e| format!("{scale:?}: {e}"))?;
            let again = to_value(&typed);
            if again != json {
                return Err(format!(
                    "{scale:?} config changes through JSON: {json} vs {again}"
                ));
            }
        }
        Ok(())
    }
}

#[test]
fn every_demo_and_paper_config_round_trips_through_json_and_validates() {
    each(|id| visit(id, RoundTrip).unwrap());
}

struct Covered;
impl Visitor for Covered {
    type Out = Result<(), String>;
    fn visit<P: Preset>(self) -> Result<(), String> {
        let keys: Vec<&str> = P::fields().iter().map(|f| f.key).collect();
        let mut seen = std::collections::HashSet::new();
        for k in &keys {
            if !seen.insert(*k) {
                return Err(format!("field `{k}` is listed twice"));
            }
            if get_path(&base_config::<P>(Scale::Demo), k).is_none() {
                return Err(format!("field `{k}` is not in the config"));
            }
        }
        let missing: Vec<String> = leaf_paths(&base_config::<P>(Scale::Demo))
            .into_iter()
            .filter(|leaf| !keys.contains(&leaf.as_str()) && !P::fixed().contains(&leaf.as_str()))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "config fields without a form field: {}",
                missing.join(", ")
            ))
        }
    }
}

#[test]
fn every_schema_names_every_config_field_once() {
    each(|id| visit(id, Covered).unwrap());
}

/// The demo and paper values as the form shows them parse back to the same config: what the URL
/// round trip of the page relies on.
struct TextRoundTrip;
impl Visitor for TextRoundTrip {
    type Out = Result<(), String>;
    fn visit<P: Preset>(self) -> Result<(), String> {
        for scale in [Scale::Demo, Scale::Paper] {
            let base = base_config::<P>(scale);
            let texts: Vec<(String, String)> = P::fields()
                .iter()
                .map(|f| (f.key.to_string(), f.format(get_path(&base, f.key).unwrap())))
                .collect();
            // Applied onto the other scale, the texts alone must rebuild this scale's config.
            let other = if scale == Scale::Demo {
                Scale::Paper
            } else {
                Scale::Demo
            };
            let (rebuilt, errors) = config_from_fields::<P>(other, &texts);
            if !errors.is_empty() {
                return Err(format!("{scale:?}: {errors:?}"));
            }
            for (key, text) in &texts {
                if get_path(&rebuilt, key) != get_path(&base, key) {
                    return Err(format!(
                        "{scale:?} `{key}` = \"{text}\" parses to {:?}, not {:?}",
                        get_path(&rebuilt, key),
                        get_path(&base, key)
                    ));
                }
            }
        }
        Ok(())
    }
}

#[test]
fn every_field_text_parses_back_to_its_value() {
    each(|id| visit(id, TextRoundTrip).unwrap());
}

#[test]
fn the_catalogue_lists_every_preset_with_distinct_ids_and_its_fields() {
    let c = catalogue();
    assert_eq!(c.len(), ids().len());
    let mut names: Vec<&str> = c.iter().map(|e| e.info.id).collect();
    names.dedup();
    assert_eq!(names.len(), c.len());
    for e in &c {
        assert!(
            !e.fields.is_empty() && !e.charts.is_empty(),
            "{}",
            e.info.id
        );
        assert!(
            e.fields
                .iter()
                // Lists that may be empty: epochs to correlate, a schedule's milestones.
                .all(|f| !f.demo.is_empty()
                    || f.field.key.contains("correlation_epochs")
                    || f.field.key.ends_with("milestones")),
            "{}",
            e.info.id
        );
    }
}

struct Fields(Vec<(String, String)>);
impl Visitor for Fields {
    type Out = (serde_json::Value, Vec<String>);
    fn visit<P: Preset>(self) -> Self::Out {
        let mut c = base_config::<P>(Scale::Demo);
        let errors = apply_fields::<P>(&mut c, &self.0);
        (
            c,
            errors
                .into_iter()
                .map(|e| format!("{}: {}", e.key, e.message))
                .collect(),
        )
    }
}

#[test]
fn bad_field_texts_are_refused_with_the_field_named_and_the_rest_applied() {
    let set = |pairs: &[(&str, &str)]| {
        visit(
            "fig2",
            Fields(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        )
        .unwrap()
    };
    let (c, errors) = set(&[
        ("train_size", "300"),
        ("samples", "NaN"),
        ("epochs", "-4"),
        ("top_k", "<img src=x onerror=alert(1)>"),
        ("settings", "0.2:0.1, 1.5:0.1"),
        ("sources", "grad, gradient"),
        ("no_such", "1"),
    ]);
    assert_eq!(c["train_size"], 300, "a good field is applied");
    assert_eq!(
        c["samples"],
        base_config::<dropout_lab::experiments::fig2_variance_flatness::Fig2>(Scale::Demo)
            ["samples"],
        "a bad one keeps its value"
    );
    assert_eq!(errors.len(), 6, "{errors:?}");
    assert!(
        errors[0].starts_with("samples: Noise samples: \"NaN\" must be a whole number"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("\"-4\" must be a whole number in [1, 1000000]"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].contains("\"<img src=x onerror=alert(1)>\""),
        "the text is quoted back as is: {}",
        errors[2]
    );
    assert!(
        errors[3].contains("drop rate must be a number in (0, 1)"),
        "{}",
        errors[3]
    );
    assert!(
        errors[4].contains("names \"gradient\", not one of grad, para"),
        "{}",
        errors[4]
    );
    assert!(
        errors[5].contains("fig2 has no setting `no_such`"),
        "{}",
        errors[5]
    );
    // Modes and settings as people type them.
    let (m, e) = visit(
        "modes",
        Fields(vec![(
            "modes".into(),
            "standard, augmented:0.001, backward".into(),
        )]),
    )
    .unwrap();
    assert!(e.is_empty(), "{e:?}");
    assert_eq!(
        m["modes"],
        serde_json::json!([{"kind": "standard"}, {"kind": "augmented", "backward_rate": 0.001}, {"kind": "backward_only"}])
    );
    let (_, e) = visit("modes", Fields(vec![("modes".into(), "sideways".into())])).unwrap();
    assert!(
        e[0].contains("not one of standard, forward, backward, augmented:RATE"),
        "{e:?}"
    );
}

#[test]
fn an_unknown_preset_is_named_with_the_known_ones() {
    let e = visit("fig99", RoundTrip).unwrap_err().to_string();
    assert!(
        e.contains("unknown preset `fig99`") && e.contains("fig1a"),
        "{e}"
    );
}

#[test]
fn result_files_with_another_version_or_malformed_are_refused_with_a_message() {
    let good = ResultFile {
        schema_version: SCHEMA_VERSION,
        preset: "fig2".into(),
        crate_version: dropout_lab::CRATE_VERSION.into(),
        backend: "cpu".into(),
        dataset: "mnist".into(),
        seed: Some(3),
        elapsed_s: None,
        weights: None,
        config: serde_json::json!({}),
        result: serde_json::json!({}),
    };
    assert_eq!(ResultFile::parse(&good.to_json()).unwrap(), good);
    let future = good.to_json().replacen(
        &format!("\"schema_version\": {SCHEMA_VERSION}"),
        "\"schema_version\": 99",
        1,
    );
    let e = ResultFile::parse(&future).unwrap_err().to_string();
    assert!(
        e.contains("schema_version 99") && e.contains(&format!("reads version {SCHEMA_VERSION}")),
        "{e}"
    );
    for (text, want) in [
        ("{", "not a Dropout Lab result file"),
        ("{\"a\": 1}", "no schema_version"),
        ("[1, 2]", "no schema_version"),
    ] {
        let e = ResultFile::parse(text).unwrap_err().to_string();
        assert!(e.contains(want), "{text}: {e}");
    }
    // The preset's own result type is checked when it is read.
    let e = good
        .result_of::<dropout_lab::experiments::fig2_variance_flatness::Fig2>()
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a fig2 result"), "{e}");
}

/// Every shipped gallery result reads with this version's types, and each of its charts renders
/// to one SVG document (a chart that presents a panel early would close the document twice).
struct ShippedSvg;
impl Visitor for ShippedSvg {
    type Out = Result<(), String>;
    fn visit<P: Preset>(self) -> Result<(), String> {
        let id = P::info().id;
        let path = format!("{}/../www/gallery/{id}.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("{path}: {e} (run scripts/gallery.mjs)"))?;
        let file = ResultFile::parse(&text).map_err(|e| e.to_string())?;
        if file.preset != id {
            return Err(format!("{path} holds a {} result", file.preset));
        }
        file.result_of::<P>().map_err(|e| e.to_string())?;
        for chart in P::charts() {
            let svg = dropout_lab::experiments::preset::svg_of::<P>(&file, chart.id)
                .map_err(|e| e.to_string())?;
            let (opened, closed) = (svg.matches("<svg").count(), svg.matches("</svg>").count());
            if opened != 1 || closed != 1 || !svg.trim_end().ends_with("</svg>") {
                return Err(format!(
                    "chart {}: {opened} <svg, {closed} </svg>, ends {:?}",
                    chart.id,
                    &svg[svg.len().saturating_sub(40)..]
                ));
            }
        }
        Ok(())
    }
}

#[test]
fn every_shipped_gallery_result_opens_and_draws_one_svg_per_chart() {
    each(|id| visit(id, ShippedSvg).unwrap());
}
