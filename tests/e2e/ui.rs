//! `fleetform ui` on a lab fleet, in a real headless browser (Debian's chromium): the page
//! loads, its script fetches `/status.json` and draws every site with its health; a
//! screenshot is kept under `target/test-artifacts/ui/`. A site cut off shows as
//! unreachable once the page's data is gathered again. The server answers only GET (and
//! HEAD) for 127.0.0.1 or localhost, with no CORS header. Needs root (the lab) and
//! chromium.

use std::time::{Duration, Instant};

use fleetform_tests::lab::Lab;
use fleetform_tests::status_page::{Ui, artifacts, card, chromium, dom};
use fleetform_tests::{cluster_sites, output_text};

#[test]
fn the_status_page_shows_every_site_in_a_headless_browser() {
    let lab = Lab::start(2).expect("lab starts");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cluster_sites::write(d, &lab, &[("north", "lab-1"), ("south", "lab-2")], 3);
    cluster_sites::apply(d, &lab);
    let ui = Ui::start(d, &[]);
    let doc = ui.status_json();
    let sites: Vec<String> = doc["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sites.len(), 5, "{doc:#}");
    assert_eq!(doc["refresh_interval_seconds"], 2);

    let shot = artifacts().join("status.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(&[&format!("--screenshot={}", shot.display()), &ui.url()]);
    assert!(out.status.success(), "{}", output_text(&out));
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG of the page",
        shot.display()
    );
    println!("screenshot of the status page: {}", shot.display());

    let before = ui.fetches();
    let page = dom(&ui.url());
    // Within chromium's 5 s of virtual time the script fetched the data on load and again
    // every 2 s, without reloading the page.
    let fetched = ui.fetches() - before;
    assert!(
        fetched >= 2,
        "the page fetched /status.json {fetched} time(s)"
    );
    for name in &sites {
        assert!(page.contains(&card(name, "ok")), "{name} ok in:\n{page}");
    }
    assert!(page.contains("Workspace default · 5 sites: 5 ok"), "{page}");
    assert!(page.contains(cluster_sites::VERSION), "{page}");
    assert!(page.contains("1/1 Ready"), "{page}");
    assert!(page.contains("Last apply: succeeded"), "{page}");
    assert!(
        !page.contains("Cannot fetch the status"),
        "the script fetched the document:\n{page}"
    );

    // One site cut off: the next gathering shows it unreachable, the others as they were.
    lab.cut("lab-2").expect("cut");
    let started = Instant::now();
    let south = r#"module.site["south"]"#;
    loop {
        let doc = ui.status_json();
        let state = doc["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == south)
            .map(|s| s["refresh"]["state"].clone());
        if state == Some(serde_json::json!("unreachable")) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "south never shown unreachable: {doc:#}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let page = dom(&ui.url());
    assert!(page.contains(&card(south, "unreachable")), "{page}");
    assert!(
        page.contains(&card(r#"module.site["north"]"#, "ok")),
        "{page}"
    );
    let shot = artifacts().join("status-site-cut.png");
    let out = chromium(&[&format!("--screenshot={}", shot.display()), &ui.url()]);
    assert!(out.status.success(), "{}", output_text(&out));
    println!("screenshot with a site cut off: {}", shot.display());
    lab.heal("lab-2").expect("heal");

    // Read-only, loopback names only, no CORS.
    let host = format!("127.0.0.1:{}", ui.port);
    let (status, answer) = ui.raw("GET", "/status.json", &host);
    assert_eq!(status, 200, "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("access-control-"),
        "no CORS header:\n{answer}"
    );
    let (status, _) = ui.raw("GET", "/", &format!("localhost:{}", ui.port));
    assert_eq!(status, 200, "localhost is this server too");
    let (status, answer) = ui.raw("GET", "/status.json", &format!("evil.example:{}", ui.port));
    assert_eq!(
        status, 403,
        "a foreign Host is refused (DNS rebinding):\n{answer}"
    );
    assert!(!answer.contains("\"sites\""), "{answer}");
    for method in ["POST", "PUT", "DELETE"] {
        let (status, answer) = ui.raw(method, "/status.json", &host);
        assert_eq!(status, 405, "{method} is refused:\n{answer}");
        assert!(answer.contains("allow: GET, HEAD"), "{answer}");
    }
    let (status, _) = ui.raw("GET", "/nothing-here", &host);
    assert_eq!(status, 404);
}
