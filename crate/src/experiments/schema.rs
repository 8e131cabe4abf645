//! The field schema of a preset's config: what the page builds its form from and what the CLI's
//! `--set key=value` parses. A field is one dotted path into the config's JSON; its kind turns
//! the text a person types into that JSON value and back, so the page, the URL and the CLI share
//! one parser and one set of messages.

use serde::Serialize;
use serde_json::{Map, Value};

/// An interval of allowed numbers; `open_*` excludes the end point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Range {
    pub min: f64,
    pub max: f64,
    pub open_min: bool,
    pub open_max: bool,
}

impl Range {
    pub const fn closed(min: f64, max: f64) -> Self {
        Range {
            min,
            max,
            open_min: false,
            open_max: false,
        }
    }
    /// [min, max)
    pub const fn right_open(min: f64, max: f64) -> Self {
        Range {
            min,
            max,
            open_min: false,
            open_max: true,
        }
    }
    /// (min, max]
    pub const fn left_open(min: f64, max: f64) -> Self {
        Range {
            min,
            max,
            open_min: true,
            open_max: false,
        }
    }
    /// (min, max)
    pub const fn open(min: f64, max: f64) -> Self {
        Range {
            min,
            max,
            open_min: true,
            open_max: true,
        }
    }
    pub fn contains(&self, x: f64) -> bool {
        let lo = if self.open_min {
            x > self.min
        } else {
            x >= self.min
        };
        let hi = if self.open_max {
            x < self.max
        } else {
            x <= self.max
        };
        x.is_finite() && lo && hi
    }
    fn describe(&self) -> String {
        format!(
            "{}{}, {}{}",
            if self.open_min { '(' } else { '[' },
            self.min,
            self.max,
            if self.open_max { ')' } else { ']' }
        )
    }
}

/// One option of a choice: the word shown and typed, and the JSON value it stands for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    pub text: String,
    pub label: &'static str,
    pub value: Value,
}

/// How a field's text maps to JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    /// A whole number.
    Int { range: Range },
    /// A real number.
    Float { range: Range },
    /// true / false (a checkbox in the page).
    Bool,
    /// One of a few words.
    Choice { options: Vec<Choice> },
    /// Several of a few words, separated by commas.
    Choices { options: Vec<Choice> },
    /// Whole numbers separated by `sep` ("784-50-50-10", "1, 4, 7").
    Ints {
        range: Range,
        sep: char,
        min_len: usize,
    },
    /// Real numbers separated by commas.
    Floats { range: Range, min_len: usize },
    /// `drop:lr` pairs separated by commas ([{ drop_rate, lr }]).
    Settings { drop: Range, min_len: usize },
    /// Paper 004's dropout modes: standard, forward, backward, augmented:RATE.
    Modes,
}

/// One form field: a dotted path into the config's JSON, a label and help for a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub unit: &'static str,
    pub help: &'static str,
    /// Shown under "more settings" in the page: numerical knobs most readers leave alone.
    pub advanced: bool,
}

impl Field {
    fn new(key: &'static str, label: &'static str, kind: Kind) -> Self {
        Field {
            key,
            label,
            kind,
            unit: "",
            help: "",
            advanced: false,
        }
    }
    pub fn int(key: &'static str, label: &'static str, min: f64, max: f64) -> Self {
        Self::new(
            key,
            label,
            Kind::Int {
                range: Range::closed(min, max),
            },
        )
    }
    pub fn float(key: &'static str, label: &'static str, range: Range) -> Self {
        Self::new(key, label, Kind::Float { range })
    }
    pub fn bool(key: &'static str, label: &'static str) -> Self {
        Self::new(key, label, Kind::Bool)
    }
    pub fn choice(key: &'static str, label: &'static str, options: Vec<Choice>) -> Self {
        Self::new(key, label, Kind::Choice { options })
    }
    pub fn choices(key: &'static str, label: &'static str, options: Vec<Choice>) -> Self {
        Self::new(key, label, Kind::Choices { options })
    }
    pub fn ints(key: &'static str, label: &'static str, range: Range, sep: char) -> Self {
        Self::new(
            key,
            label,
            Kind::Ints {
                range,
                sep,
                min_len: 0,
            },
        )
    }
    pub fn floats(key: &'static str, label: &'static str, range: Range, min_len: usize) -> Self {
        Self::new(key, label, Kind::Floats { range, min_len })
    }
    pub fn settings(key: &'static str, label: &'static str, drop: Range, min_len: usize) -> Self {
        Self::new(key, label, Kind::Settings { drop, min_len })
    }
    pub fn modes(key: &'static str, label: &'static str) -> Self {
        Self::new(key, label, Kind::Modes)
    }
    /// The network's widths, "784-50-50-10".
    pub fn widths(key: &'static str) -> Self {
        Self::new(
            key,
            "Widths",
            Kind::Ints {
                range: Range::closed(1.0, 1e6),
                sep: '-',
                min_len: 2,
            },
        )
        .help("input-hidden-…-classes, e.g. 784-50-50-10")
    }
    /// ReLU or tanh.
    pub fn activation(key: &'static str) -> Self {
        Self::choice(
            key,
            "Activation",
            vec![
                Choice::new("relu", "ReLU", Value::from("relu")),
                Choice::new("tanh", "tanh", Value::from("tanh")),
            ],
        )
    }
    /// One of the lab's optimisers.
    pub fn optimizer(key: &'static str) -> Self {
        Self::choice(
            key,
            "Optimiser",
            vec![
                Choice::word("gd", "full-batch GD"),
                Choice::word("sgd", "SGD"),
                Choice::word("momentum", "SGD + momentum"),
                Choice::word("nesterov", "SGD + Nesterov"),
                Choice::word("adam", "Adam"),
            ],
        )
    }
    /// The one seed of every random draw.
    pub fn seed() -> Self {
        Self::int("seed", "Seed", 0.0, 9007199254740991.0)
            .help("drives every random draw: same seed and backend, same numbers")
    }
    pub fn help(mut self, help: &'static str) -> Self {
        self.help = help;
        self
    }
    pub fn unit(mut self, unit: &'static str) -> Self {
        self.unit = unit;
        self
    }
    pub fn advanced(mut self) -> Self {
        self.advanced = true;
        self
    }
    pub fn min_len(mut self, n: usize) -> Self {
        if let Kind::Ints { min_len, .. } = &mut self.kind {
            *min_len = n;
        }
        self
    }

    /// The JSON value of `text`, or a message that names the field and what it wants.
    pub fn parse(&self, text: &str) -> Result<Value, String> {
        let text = text.trim();
        let bad = |what: String| format!("{}: \"{}\" {what}", self.label, text);
        match &self.kind {
            Kind::Int { range } => int(text, range).map_err(bad),
            Kind::Float { range } => float(text, range).map(Value::from).map_err(bad),
            Kind::Bool => match text {
                "true" | "1" | "on" | "yes" => Ok(Value::Bool(true)),
                "false" | "0" | "off" | "no" | "" => Ok(Value::Bool(false)),
                _ => Err(bad("must be true or false".into())),
            },
            Kind::Choice { options } => options
                .iter()
                .find(|o| o.text == text)
                .map(|o| o.value.clone())
                .ok_or_else(|| bad(format!("must be one of {}", words(options)))),
            Kind::Choices { options } => {
                let picked: Result<Vec<Value>, String> = items(text, ',')
                    .map(|t| {
                        options
                            .iter()
                            .find(|o| o.text == t)
                            .map(|o| o.value.clone())
                            .ok_or_else(|| format!("names \"{t}\", not one of {}", words(options)))
                    })
                    .collect();
                match picked.map_err(bad)? {
                    v if v.is_empty() => Err(bad("must name at least one option".into())),
                    v => Ok(Value::Array(v)),
                }
            }
            Kind::Ints {
                range,
                sep,
                min_len,
            } => {
                let v: Result<Vec<Value>, String> =
                    items(text, *sep).map(|t| int(t, range)).collect();
                let v = v.map_err(bad)?;
                if v.len() < *min_len {
                    return Err(bad(format!(
                        "needs at least {min_len} whole numbers separated by '{sep}'"
                    )));
                }
                Ok(Value::Array(v))
            }
            Kind::Floats { range, min_len } => {
                let v: Result<Vec<Value>, String> = items(text, ',')
                    .map(|t| float(t, range).map(Value::from))
                    .collect();
                let v = v.map_err(bad)?;
                if v.len() < *min_len {
                    return Err(bad(format!(
                        "needs at least {min_len} number(s) separated by commas"
                    )));
                }
                Ok(Value::Array(v))
            }
            Kind::Settings { drop, min_len } => {
                let lr = Range::left_open(0.0, 100.0);
                let v: Result<Vec<Value>, String> = items(text, ',')
                    .map(|pair| {
                        let (d, l) = pair
                            .split_once(':')
                            .ok_or_else(|| format!("has \"{pair}\", not a drop:lr pair"))?;
                        let d = float(d.trim(), drop).map_err(|e| format!("drop rate {e}"))?;
                        let l = float(l.trim(), &lr).map_err(|e| format!("learning rate {e}"))?;
                        let mut m = Map::new();
                        m.insert("drop_rate".into(), Value::from(d));
                        m.insert("lr".into(), Value::from(l));
                        Ok(Value::Object(m))
                    })
                    .collect();
                let v = v.map_err(bad)?;
                if v.len() < *min_len {
                    return Err(bad(format!(
                        "needs at least {min_len} drop:lr pair(s), e.g. 0.1:0.05, 0.2:0.1"
                    )));
                }
                Ok(Value::Array(v))
            }
            Kind::Modes => {
                let v: Result<Vec<Value>, String> = items(text, ',').map(mode).collect();
                match v.map_err(bad)? {
                    v if v.is_empty() => Err(bad("must name at least one dropout mode".into())),
                    v => Ok(Value::Array(v)),
                }
            }
        }
    }

    /// The text a person would type for `value` (the inverse of `parse`).
    pub fn format(&self, value: &Value) -> String {
        let list = |sep: &str| match value {
            Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(sep),
            other => plain(other),
        };
        match &self.kind {
            Kind::Int { .. } | Kind::Float { .. } | Kind::Bool => plain(value),
            Kind::Choice { options } => options
                .iter()
                .find(|o| &o.value == value)
                .map_or_else(|| plain(value), |o| o.text.clone()),
            Kind::Choices { options } => match value {
                Value::Array(a) => a
                    .iter()
                    .map(|v| {
                        options
                            .iter()
                            .find(|o| &o.value == v)
                            .map_or_else(|| plain(v), |o| o.text.clone())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                other => plain(other),
            },
            Kind::Ints { sep: '-', .. } => list("-"),
            Kind::Ints { .. } | Kind::Floats { .. } => list(", "),
            Kind::Settings { .. } => match value {
                Value::Array(a) => a
                    .iter()
                    .map(|s| format!("{}:{}", plain(&s["drop_rate"]), plain(&s["lr"])))
                    .collect::<Vec<_>>()
                    .join(", "),
                other => plain(other),
            },
            Kind::Modes => match value {
                Value::Array(a) => a.iter().map(mode_text).collect::<Vec<_>>().join(", "),
                other => plain(other),
            },
        }
    }
}

impl Choice {
    pub fn new(text: &str, label: &'static str, value: Value) -> Self {
        Choice {
            text: text.to_string(),
            label,
            value,
        }
    }
    /// An option for an enum value: its word is the value's serde name.
    pub fn of(value: &impl Serialize, label: &'static str) -> Self {
        let value = super::preset::to_value(value);
        let text = value
            .as_str()
            .expect("an enum word serialises as a string")
            .to_string();
        Choice { text, label, value }
    }
    /// An option whose word is also its JSON string.
    pub fn word(text: &'static str, label: &'static str) -> Self {
        Choice::new(text, label, Value::from(text))
    }
}

fn items(text: &str, sep: char) -> impl Iterator<Item = &str> {
    text.split(sep).map(str::trim).filter(|t| !t.is_empty())
}

fn words(options: &[Choice]) -> String {
    options
        .iter()
        .map(|o| o.text.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn float(text: &str, range: &Range) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if range.contains(x) => Ok(x),
        _ => Err(format!("must be a number in {}", range.describe())),
    }
}

fn int(text: &str, range: &Range) -> Result<Value, String> {
    match text.parse::<u64>() {
        Ok(x) if range.contains(x as f64) => Ok(Value::from(x)),
        _ => Err(format!("must be a whole number in {}", range.describe())),
    }
}

fn mode(text: &str) -> Result<Value, String> {
    let (name, rate) = match text.split_once(':') {
        Some((n, r)) => (n.trim(), Some(r.trim())),
        None => (text, None),
    };
    let kind = |k: &str| {
        let mut m = Map::new();
        m.insert("kind".into(), Value::from(k));
        m
    };
    match (name, rate) {
        ("standard", None) => Ok(Value::Object(kind("standard"))),
        ("forward", None) => Ok(Value::Object(kind("forward_only"))),
        ("backward", None) => Ok(Value::Object(kind("backward_only"))),
        ("augmented", Some(r)) => {
            let r = float(r, &Range::right_open(0.0, 1.0))
                .map_err(|e| format!("augmented rate {e}"))?;
            let mut m = kind("augmented");
            m.insert("backward_rate".into(), Value::from(r));
            Ok(Value::Object(m))
        }
        _ => Err(format!(
            "has \"{text}\", not one of standard, forward, backward, augmented:RATE (RATE in [0, 1))"
        )),
    }
}

fn mode_text(v: &Value) -> String {
    match v["kind"].as_str() {
        Some("standard") => "standard".into(),
        Some("forward_only") => "forward".into(),
        Some("backward_only") => "backward".into(),
        Some("augmented") => format!("augmented:{}", plain(&v["backward_rate"])),
        _ => plain(v),
    }
}

/// A scalar as a person writes it: strings without quotes.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The value at a dotted path of a JSON object.
pub fn get_path<'a>(root: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(root, |v, k| v.get(k))
}

/// Replace the value at a dotted path that exists in `root`.
pub fn set_path(root: &mut Value, key: &str, value: Value) -> Result<(), String> {
    let mut v = root;
    for k in key.split('.') {
        v = v
            .get_mut(k)
            .ok_or_else(|| format!("the config has no field `{key}`"))?;
    }
    *v = value;
    Ok(())
}

/// Every leaf path of a JSON object ("a.b"); arrays and nulls count as leaves.
pub fn leaf_paths(v: &Value) -> Vec<String> {
    fn walk(v: &Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(x, &p, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}
