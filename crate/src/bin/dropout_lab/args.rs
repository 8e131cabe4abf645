//! Flags of the form `--name value`, with a message for a flag that lacks its value.

pub struct Args<'a>(pub &'a [String]);

impl<'a> Args<'a> {
    /// The value after `flag` (its last occurrence).
    pub fn value(&self, flag: &str) -> Result<Option<&'a str>, String> {
        match self.0.iter().rposition(|a| a == flag) {
            None => Ok(None),
            Some(i) => match self.0.get(i + 1) {
                Some(v) if !v.starts_with("--") => Ok(Some(v.as_str())),
                _ => Err(format!("{flag} needs a value")),
            },
        }
    }

    /// Every value given after `flag`.
    pub fn values(&self, flag: &str) -> Result<Vec<&'a str>, String> {
        let mut out = Vec::new();
        for (i, a) in self.0.iter().enumerate() {
            if a == flag {
                match self.0.get(i + 1) {
                    Some(v) if !v.starts_with("--") => out.push(v.as_str()),
                    _ => return Err(format!("{flag} needs a value")),
                }
            }
        }
        Ok(out)
    }

    /// A flag's value parsed, or `default`.
    pub fn parsed<T: std::str::FromStr>(&self, flag: &str, default: T) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        match self.value(flag)? {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| format!("{flag} {v}: {e}")),
        }
    }
}
