//! The status page (`fleetform ui`) for tests: the server started in a fleet directory,
//! raw HTTP requests with a chosen method and `Host`, and Debian's headless chromium to
//! render it (the DOM after its script ran, screenshots kept in
//! `target/test-artifacts/ui/`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The page's server, stopped when dropped; its debug log (a line per request) in `log`.
pub struct Ui {
    child: Child,
    /// The port it serves on, on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
}

impl Ui {
    /// Starts `fleetform ui -refresh-interval=2s -site-timeout=3s EXTRA` in `dir` and
    /// waits until it says where it serves.
    pub fn start(dir: &Path, extra: &[&str]) -> Ui {
        let log = dir.join("ui.log");
        let mut child = crate::fleetform()
            .current_dir(dir)
            .env("FLEETFORM_LOG", "debug")
            .args([
                "ui",
                "-refresh-interval=2s",
                "-site-timeout=3s",
                "-no-color",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("fleetform ui starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("ui prints where it serves");
        let port = line
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Ui { child, port, log }
    }

    /// How many times the page's data was asked for so far.
    pub fn fetches(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("status page request") && l.contains("path=\"/status.json\""))
            .count()
    }

    /// The page's address.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// A raw HTTP/1.1 request with exactly these method and Host: the status line and the
    /// whole answer.
    pub fn raw(&self, method: &str, path: &str, host: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: http://evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("answer");
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, answer)
    }

    /// `/status.json` as the page gets it.
    pub fn status_json(&self) -> serde_json::Value {
        let (status, answer) = self.raw("GET", "/status.json", &format!("127.0.0.1:{}", self.port));
        assert_eq!(status, 200, "{answer}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"))
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Headless chromium with the page's window size and 5 s of virtual time.
pub fn chromium(args: &[&str]) -> Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1280,900",
            "--virtual-time-budget=5000",
        ])
        .args(args)
        .output()
        .expect("chromium runs (apt-get install chromium)")
}

/// `target/test-artifacts/ui/`, where screenshots are kept.
pub fn artifacts() -> PathBuf {
    let dir = crate::workspace().join("target/test-artifacts/ui");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The rendered page after its script ran.
pub fn dom(url: &str) -> String {
    let out = chromium(&["--dump-dom", url]);
    assert!(out.status.success(), "{}", crate::output_text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How a site's card says its name and health in the rendered page.
pub fn card(name: &str, health: &str) -> String {
    format!(
        "data-site=\"{}\" data-health=\"{health}\"",
        name.replace('"', "&quot;")
    )
}
