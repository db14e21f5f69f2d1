//! Turning a command from configuration into what goes over SSH. OpenSSH hands an exec
//! request's string to the login shell, so every configuration value is quoted here (POSIX
//! single quotes) or encoded (PowerShell's -EncodedCommand); nothing is interpolated.
//! Secret environment values never appear on a command line, where `ps` would show them:
//! they travel on the command's standard input.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Which shell a host speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Posix,
    PowerShell,
}

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// An argument vector (run without a shell's interpretation of its values)...
    pub argv: Vec<String>,
    /// ...or script text for `interpreter` (which then forms `argv`).
    pub script: Option<String>,
    pub working_dir: Option<String>,
    pub environment: BTreeMap<String, String>,
    pub secret_environment: BTreeMap<String, String>,
}

/// The exec request string and the bytes to feed on standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub command: String,
    pub stdin: Vec<u8>,
}

/// Quotes one word for a POSIX shell: single quotes, with embedded ones spelled '\''.
pub fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Quotes one word for PowerShell: single quotes, with embedded ones doubled.
pub fn ps_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "''"))
}

/// A POSIX command line from an argument vector, every word quoted.
pub fn join(argv: &[&str]) -> String {
    argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// Whether `name` can be an environment variable name in both shells.
pub fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Shell {
    /// Runs `invocation` on `connection` (`interpreter` runs a script; empty means the
    /// default).
    pub fn run(
        self,
        connection: &mut crate::ssh::Connection,
        invocation: &Invocation,
        interpreter: &[String],
        timeout: std::time::Duration,
    ) -> Result<crate::ssh::Output, crate::ssh::SessionError> {
        let default: Vec<String>;
        let interpreter = if interpreter.is_empty() {
            default = self
                .default_interpreter()
                .into_iter()
                .map(str::to_owned)
                .collect();
            &default
        } else {
            interpreter
        };
        let rendered = self.render(invocation, interpreter);
        connection.exec(&rendered.command, Some(&rendered.stdin), timeout)
    }

    /// The default interpreter for scripts.
    pub fn default_interpreter(self) -> Vec<&'static str> {
        match self {
            Shell::Posix => vec!["/bin/sh", "-eu"],
            Shell::PowerShell => vec![
                "powershell.exe",
                "-NoProfile",
                "-NonInteractive",
                "-Command",
                "-",
            ],
        }
    }

    /// Renders `invocation`; `interpreter` runs a script.
    pub fn render(self, invocation: &Invocation, interpreter: &[String]) -> Rendered {
        match self {
            Shell::Posix => posix(invocation, interpreter),
            Shell::PowerShell => powershell(invocation),
        }
    }
}

fn posix(inv: &Invocation, interpreter: &[String]) -> Rendered {
    let mut parts = Vec::new();
    if let Some(dir) = &inv.working_dir {
        parts.push(format!("cd {} &&", quote(dir)));
    }
    for (name, value) in &inv.environment {
        parts.push(format!("{name}={} &&", quote(value)));
        parts.push(format!("export {name} &&"));
    }
    let program = if inv.script.is_some() {
        interpreter
    } else {
        &inv.argv
    };
    let program: Vec<&str> = program.iter().map(String::as_str).collect();
    let mut stdin = Vec::new();
    if inv.secret_environment.is_empty() {
        parts.push(format!("exec {}", join(&program)));
    } else {
        // `head -c` reads exactly the assignments, leaving the rest of stdin (a script)
        // to the program.
        let preamble: String = inv
            .secret_environment
            .iter()
            .map(|(name, value)| format!("{name}={}; export {name}\n", quote(value)))
            .collect();
        parts.push(format!(
            "exec /bin/sh -c {} sh {}",
            quote(&format!(
                "eval \"$(head -c {})\" && exec \"$@\"",
                preamble.len()
            )),
            join(&program)
        ));
        stdin.extend_from_slice(preamble.as_bytes());
    }
    if let Some(script) = &inv.script {
        stdin.extend_from_slice(script.as_bytes());
    }
    Rendered {
        command: parts.join(" "),
        stdin,
    }
}

fn powershell(inv: &Invocation) -> Rendered {
    let mut script = String::from("$ErrorActionPreference = 'Stop'\n");
    let mut stdin = String::new();
    if !inv.secret_environment.is_empty() {
        script.push_str(&format!(
            "foreach ($i in 1..{}) {{ $n, $v = [Console]::In.ReadLine().Split('=', 2); \
             [Environment]::SetEnvironmentVariable($n, [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($v))) }}\n",
            inv.secret_environment.len()
        ));
        for (name, value) in &inv.secret_environment {
            stdin.push_str(&format!("{name}={}\n", STANDARD.encode(value)));
        }
    }
    if let Some(dir) = &inv.working_dir {
        script.push_str(&format!("Set-Location -LiteralPath {}\n", ps_quote(dir)));
    }
    for (name, value) in &inv.environment {
        script.push_str(&format!("$env:{name} = {}\n", ps_quote(value)));
    }
    match &inv.script {
        Some(body) => {
            script.push_str(body);
            script.push('\n');
        }
        None => {
            let words: Vec<String> = inv.argv.iter().map(|w| ps_quote(w)).collect();
            script.push_str(&format!("& {}\nexit $LASTEXITCODE\n", words.join(" ")));
        }
    }
    Rendered {
        command: format!(
            "powershell.exe -NoProfile -NonInteractive -EncodedCommand {}",
            encode_utf16(&script)
        ),
        stdin: stdin.into_bytes(),
    }
}

/// PowerShell's -EncodedCommand: base64 of UTF-16LE, which only ever contains
/// [A-Za-z0-9+/=], so no shell on the way can misread it.
fn encode_utf16(script: &str) -> String {
    let bytes: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "'; rm -rf /tmp/x; '$(touch /tmp/pwned)`id`\"\\";

    /// Runs a rendered POSIX command with the local /bin/sh, as sshd would.
    fn run(rendered: &Rendered) -> String {
        use std::io::Write;
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&rendered.command)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&rendered.stdin)
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{rendered:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn hostile_values_reach_the_program_as_data() {
        let inv = Invocation {
            argv: vec![
                "printf".into(),
                "%s|%s".into(),
                HOSTILE.into(),
                "$HOME".into(),
            ],
            ..Invocation::default()
        };
        let out = run(&Shell::Posix.render(&inv, &[]));
        assert_eq!(out, format!("{HOSTILE}|$HOME"));
    }

    #[test]
    fn environment_working_dir_and_secrets_are_set_without_interpretation() {
        let dir = std::env::temp_dir();
        let inv = Invocation {
            script: Some("printf '%s|%s|%s' \"$PLAIN\" \"$TOKEN\" \"$(pwd)\"".into()),
            working_dir: Some(dir.display().to_string()),
            environment: [("PLAIN".to_owned(), HOSTILE.to_owned())].into(),
            secret_environment: [("TOKEN".to_owned(), format!("s3cret{HOSTILE}"))].into(),
            ..Invocation::default()
        };
        let interpreter = vec!["/bin/sh".to_owned(), "-eu".to_owned()];
        let rendered = Shell::Posix.render(&inv, &interpreter);
        assert!(
            !rendered.command.contains("s3cret"),
            "secret on the command line"
        );
        let out = run(&rendered);
        let real_dir = std::fs::canonicalize(&dir).unwrap();
        assert_eq!(
            out,
            format!("{HOSTILE}|s3cret{HOSTILE}|{}", real_dir.display())
        );
    }

    #[test]
    fn powershell_commands_are_encoded_and_quote_single_quotes() {
        let inv = Invocation {
            argv: vec!["Write-Output".into(), "it's".into()],
            secret_environment: [("TOKEN".to_owned(), "s3cret".to_owned())].into(),
            ..Invocation::default()
        };
        let rendered = Shell::PowerShell.render(&inv, &[]);
        let encoded = rendered.command.rsplit(' ').next().unwrap();
        assert!(
            encoded
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
        );
        let bytes = STANDARD.decode(encoded).unwrap();
        let units: Vec<u16> = bytes
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let script = String::from_utf16(&units).unwrap();
        assert!(script.contains("& 'Write-Output' 'it''s'"), "{script}");
        assert!(!script.contains("s3cret") && !rendered.command.contains("s3cret"));
        assert_eq!(
            String::from_utf8(rendered.stdin).unwrap(),
            format!("TOKEN={}\n", STANDARD.encode("s3cret"))
        );
    }

    #[test]
    fn environment_names_are_identifiers() {
        assert!(valid_env_name("HTTP_PROXY") && valid_env_name("_x1"));
        assert!(!valid_env_name("1X") && !valid_env_name("A-B") && !valid_env_name("A;rm"));
        assert!(!valid_env_name(""));
    }
}
