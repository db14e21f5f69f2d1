//! Terraform's flags have one dash (`-auto-approve`, `-out=plan`, `-var 'a=b'`); pipeline
//! scripts written for Terraform must keep working, so single-dash long flags are
//! rewritten to the two-dash form clap parses. Both forms are accepted.

use std::ffi::OsString;

/// Rewrites `-name` and `-name=value` to `--name` and `--name=value`.
pub fn terraform_style(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut after_separator = false;
    for (i, arg) in args.into_iter().enumerate() {
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if i == 0 || after_separator {
            out.push(arg);
            continue;
        }
        if text == "--" {
            after_separator = true;
            out.push(arg);
            continue;
        }
        let is_single_dash_long = text.starts_with('-')
            && !text.starts_with("--")
            && text.len() > 2
            && text[1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic());
        if is_single_dash_long {
            out.push(OsString::from(format!("-{text}")));
        } else {
            out.push(arg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(args: &[&str]) -> Vec<String> {
        terraform_style(args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        assert_eq!(
            rewrite(&[
                "fleetform",
                "-chdir=fleet",
                "validate",
                "-json",
                "-var",
                "a=-1",
                "--no-color",
                "-h"
            ]),
            [
                "fleetform",
                "--chdir=fleet",
                "validate",
                "--json",
                "--var",
                "a=-1",
                "--no-color",
                "-h"
            ]
        );
        assert_eq!(
            rewrite(&["fleetform", "output", "--", "-raw"]),
            ["fleetform", "output", "--", "-raw"]
        );
    }
}
