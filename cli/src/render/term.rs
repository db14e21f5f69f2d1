//! Small pieces shared by the renderers: Terraform's colors, word wrapping at its default
//! width, Go-style durations and quoting, and where output goes (stdout, or a buffer in
//! tests).

use std::sync::Mutex;

use super::Color;

/// The width Terraform wraps prose to when stdout is not a terminal (and the width of its
/// horizontal rules): what people see in CI logs and in its documentation.
pub(crate) const COLUMNS: usize = 78;

/// Applies Terraform's colors (`[bold]`, `[green]`...) when color is on, nothing otherwise:
/// the layout is identical either way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paint(pub Color);

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        match self.0 {
            Color::On => format!("\x1b[{code}m{text}\x1b[0m"),
            Color::Off => text.to_owned(),
        }
    }

    pub fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }

    pub fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }

    pub fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }

    pub fn yellow(self, text: &str) -> String {
        self.wrap("33", text)
    }

    pub fn cyan(self, text: &str) -> String {
        self.wrap("36", text)
    }

    pub fn dark_gray(self, text: &str) -> String {
        self.wrap("90", text)
    }

    pub fn bold_red(self, text: &str) -> String {
        self.wrap("1;31", text)
    }

    pub fn bold_green(self, text: &str) -> String {
        self.wrap("1;32", text)
    }

    pub fn bold_cyan(self, text: &str) -> String {
        self.wrap("1;36", text)
    }
}

/// Terraform's `format.WordWrap` at [`COLUMNS`]: each line is wrapped greedily at spaces to
/// `COLUMNS - 1` characters; lines starting with a space are left alone.
pub(crate) fn wrap(text: &str) -> String {
    let limit = COLUMNS - 1;
    let mut out = Vec::new();
    for line in text.split('\n') {
        if line.starts_with(' ') {
            out.push(line.to_owned());
            continue;
        }
        let mut current = String::new();
        for word in line.split(' ') {
            if current.is_empty() {
                current.push_str(word);
            } else if current.chars().count() + 1 + word.chars().count() > limit {
                out.push(std::mem::take(&mut current));
                current.push_str(word);
            } else {
                current.push(' ');
                current.push_str(word);
            }
        }
        out.push(current);
    }
    out.join("\n")
}

/// Terraform's horizontal rule: a newline, then `COLUMNS - 1` box-drawing characters.
pub(crate) fn horizontal_rule(paint: Paint) -> String {
    format!("\n{}", paint.dark_gray(&"─".repeat(COLUMNS - 1)))
}

/// A whole number of seconds as Go prints a `time.Duration`: `0s`, `45s`, `2m5s`, `1h0m3s`.
pub(crate) fn go_duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// An elapsed time rounded to whole seconds, as Terraform reports it.
pub(crate) fn rounded_seconds(elapsed: std::time::Duration) -> u64 {
    (elapsed.as_millis() as u64 + 500) / 1000
}

/// A string quoted as Go's `%q` does, which is how Terraform prints strings in plans.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// True for an HCL identifier (letters, digits, `_`, `-`; not starting with a digit or `-`).
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// An attribute name as Terraform prints it: bare when it is an identifier, quoted otherwise.
pub(crate) fn attribute_name(s: &str) -> String {
    if is_identifier(s) {
        s.to_owned()
    } else {
        quote(s)
    }
}

/// Where a renderer writes: stdout (through [`super::stdout`]), or a buffer for tests.
#[derive(Debug)]
pub(crate) enum Sink {
    Stdout,
    #[cfg_attr(not(test), allow(dead_code))]
    Buffer(Mutex<String>),
}

impl Sink {
    /// Writes `text`. Output errors other than a closed pipe are ignored: progress and
    /// UI messages must never abort an apply half way.
    pub fn write(&self, text: &str) {
        match self {
            Sink::Stdout => {
                let _ = super::stdout(text);
            }
            Sink::Buffer(buf) => {
                if let Ok(mut b) = buf.lock() {
                    b.push_str(text);
                }
            }
        }
    }

    /// Everything written so far (buffers only).
    #[cfg(test)]
    pub fn contents(&self) -> String {
        match self {
            Sink::Stdout => String::new(),
            Sink::Buffer(buf) => buf.lock().map(|b| b.clone()).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_like_terraform_at_78_columns() {
        let text = "fleetform used the selected providers to generate the following execution plan. Resource actions are indicated with the following symbols:";
        assert_eq!(
            wrap(text),
            "fleetform used the selected providers to generate the following execution\nplan. Resource actions are indicated with the following symbols:"
        );
        assert_eq!(
            wrap(
                "  kept as it is, however long it is, because it starts with a space and so is literal text"
            ),
            "  kept as it is, however long it is, because it starts with a space and so is literal text"
        );
    }

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(45), "45s");
        assert_eq!(go_duration(60), "1m0s");
        assert_eq!(go_duration(3723), "1h2m3s");
        assert_eq!(rounded_seconds(std::time::Duration::from_millis(1499)), 1);
        assert_eq!(rounded_seconds(std::time::Duration::from_millis(1500)), 2);
    }

    #[test]
    fn quotes_as_go_does() {
        assert_eq!(quote("a\"b\\c\nd\te\u{1}"), "\"a\\\"b\\\\c\\nd\\te\\x01\"");
        assert_eq!(quote("héllo"), "\"héllo\"");
        assert_eq!(attribute_name("saml:aud"), "\"saml:aud\"");
        assert_eq!(attribute_name("node_pool-1"), "node_pool-1");
    }
}
