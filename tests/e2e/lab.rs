//! The lab's hosts are real: three sshd hosts, reached with the system `ssh` client and
//! pinned host keys, each with its own hostname and its own /etc/kubernetes; a wrong pinned
//! key is refused; a cut host is unreachable and a healed one reachable again. Needs root.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use fleetform_tests::lab::{Lab, LabHost};

/// `ssh` to `host` as root with the lab's client key, checking the host key strictly
/// against `known_hosts` and ignoring any user or system configuration.
fn ssh(lab: &Lab, known_hosts: &Path, host: &LabHost, remote: &[&str]) -> Output {
    Command::new("ssh")
        .args(["-F", "/dev/null"])
        .args(["-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args(["-o", "GlobalKnownHostsFile=/dev/null"])
        .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
        .args(["-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR"])
        .arg("-i")
        .arg(lab.client_key())
        .args(["-p", &host.port.to_string()])
        .arg(format!("root@{}", host.address))
        .arg("--")
        .args(remote)
        .output()
        .expect("run the system ssh client (openssh-client)")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

#[test]
fn lab_hosts_are_real_separate_and_can_be_cut() {
    let t0 = Instant::now();
    let mut lab = Lab::start(3).unwrap_or_else(|e| panic!("the lab did not start: {e}"));
    let started = t0.elapsed();
    let hosts = lab.hosts().to_vec();
    assert_eq!(
        hosts.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
        ["lab-1", "lab-2", "lab-3"]
    );
    for h in &hosts {
        let o = h.address.octets();
        assert_eq!(
            o[..3],
            [169, 254, 100],
            "{} is outside the lab range",
            h.address
        );
        assert!(h.fingerprint.starts_with("SHA256:"), "{}", h.fingerprint);
        assert!(h.host_key.starts_with("ssh-ed25519 "), "{}", h.host_key);
    }

    // known_hosts pinning each host's key.
    let known_hosts = lab.dir().join("test_known_hosts");
    let pinned: String = hosts.iter().map(|h| h.known_hosts_line() + "\n").collect();
    std::fs::write(&known_hosts, pinned).unwrap();

    for h in &hosts {
        let out = ssh(&lab, &known_hosts, h, &["hostname"]);
        assert!(out.status.success(), "ssh {}: {}", h.name, text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), h.name);
    }

    // Each host has its own /etc/kubernetes.
    let (l1, l2, l3) = (&hosts[0], &hosts[1], &hosts[2]);
    let out = ssh(
        &lab,
        &known_hosts,
        l1,
        &["echo lab-1 > /etc/kubernetes/marker && cat /etc/kubernetes/marker"],
    );
    assert!(out.status.success(), "write on lab-1: {}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "lab-1");
    let out = ssh(
        &lab,
        &known_hosts,
        l2,
        &["test ! -e /etc/kubernetes/marker"],
    );
    assert!(
        out.status.success(),
        "lab-2 sees lab-1's /etc/kubernetes/marker: {}",
        text(&out)
    );
    assert!(
        !Path::new("/etc/kubernetes/marker").exists(),
        "lab-1's file leaked into the root mount namespace"
    );

    // A wrong pinned key is refused: pin lab-3's key for lab-1's address.
    let wrong = lab.dir().join("wrong_known_hosts");
    let mut forged = l1.clone();
    forged.host_key = l3.host_key.clone();
    std::fs::write(&wrong, forged.known_hosts_line() + "\n").unwrap();
    let out = ssh(&lab, &wrong, l1, &["hostname"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a wrong pinned key was accepted: {}",
        text(&out)
    );
    assert!(
        stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || stderr.contains("Host key verification failed"),
        "unexpected refusal: {}",
        text(&out)
    );
    assert!(out.stdout.is_empty(), "the command ran: {}", text(&out));

    // Cut lab-2: ssh to it fails within a few seconds; lab-1 still works.
    lab.cut("lab-2").unwrap();
    let t = Instant::now();
    let out = ssh(&lab, &known_hosts, l2, &["hostname"]);
    let cut_took = t.elapsed();
    assert!(
        !out.status.success(),
        "ssh to a cut host worked: {}",
        text(&out)
    );
    assert!(
        cut_took < Duration::from_secs(8),
        "ssh to a cut host took {cut_took:?}"
    );
    let out = ssh(&lab, &known_hosts, l1, &["hostname"]);
    assert!(
        out.status.success(),
        "lab-1 while lab-2 is cut: {}",
        text(&out)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "lab-1");

    // Heal lab-2: it answers again.
    lab.heal("lab-2").unwrap();
    let out = ssh(&lab, &known_hosts, l2, &["hostname"]);
    assert!(out.status.success(), "lab-2 after heal: {}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "lab-2");

    // Stop removes everything.
    let (bridge, netns) = (lab.bridge().to_owned(), l1.netns.clone());
    lab.stop().unwrap();
    assert!(!Path::new("/sys/class/net").join(&bridge).exists());
    assert!(!Path::new("/run/netns").join(&netns).exists());
    eprintln!(
        "lab: 3 hosts started in {started:?}; cut host refused in {cut_took:?}; total {:?}",
        t0.elapsed()
    );
}
