//! The deadlines every plan checks for a connected cluster, from what Azure last reported:
//! the Arc identity certificate's expiry (a cluster offline past it must be re-onboarded,
//! which deletes its extensions and Flux configurations), the agents' place in Arc's
//! support window (the newest minor release and the two before it), and when Azure last
//! heard from the site.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The deadline policy, from the provider block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlines {
    /// Warn when the identity certificate expires within this long.
    pub identity_certificate_warning: Duration,
    /// Warn when the cluster was last seen longer ago than this.
    pub offline_warning: Duration,
    /// The newest agent release known, for the support window.
    pub latest_agent_version: Option<String>,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            identity_certificate_warning: Duration::from_secs(30 * 86400),
            offline_warning: Duration::from_secs(86400),
            latest_agent_version: None,
        }
    }
}

/// What Azure last reported about a cluster, as recorded in state.
#[derive(Debug, Clone, Default)]
pub struct Reported<'a> {
    /// `managedIdentityCertificateExpirationTime`.
    pub identity_certificate_expires: Option<&'a str>,
    /// `lastConnectivityTime`.
    pub last_seen: Option<&'a str>,
    /// `connectivityStatus`.
    pub connectivity: Option<&'a str>,
    /// `agentVersion`.
    pub agent_version: Option<&'a str>,
    /// The version of the agent bundle fleetform installs, when known.
    pub bundle_version: Option<&'a str>,
}

/// The outcome of the checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Things the plan should warn about.
    pub warnings: Vec<String>,
    /// The identity certificate has expired: the cluster must be re-onboarded.
    pub expired: bool,
}

/// Reads an RFC 3339 time.
pub fn parse_time(text: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(SystemTime::from)
}

/// Writes an RFC 3339 time, to the second.
pub fn format_time(at: SystemTime) -> String {
    let at = OffsetDateTime::from(at);
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// A duration in words, to the nearest day (or hour, or minute, when shorter).
fn days(d: Duration) -> String {
    let secs = d.as_secs();
    let days = if secs >= 86400 {
        (secs + 43200) / 86400
    } else {
        0
    };
    let hours = (secs % 86400) / 3600;
    match (days, hours) {
        (0, 0) => format!("{} minutes", d.as_secs() / 60),
        (0, h) => format!("{h} hours"),
        (1, _) => "1 day".into(),
        (d, _) => format!("{d} days"),
    }
}

/// A `major.minor.patch` version, the parts that are numbers.
fn version(text: &str) -> Option<(u64, u64)> {
    let mut parts = text.trim().trim_start_matches('v').split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

impl Deadlines {
    /// Checks `reported` at `now`.
    pub fn check(&self, reported: &Reported<'_>, now: SystemTime) -> Findings {
        let mut findings = Findings::default();
        if let Some(text) = reported.identity_certificate_expires
            && let Some(expires) = parse_time(text)
        {
            match expires.duration_since(now) {
                Err(_) => {
                    findings.expired = true;
                    findings.warnings.push(format!(
                        "its Arc identity certificate expired at {text}: Azure no longer accepts the agents, so the cluster must be re-onboarded; this plan deletes and re-connects it, and re-creates the extensions and Flux configurations that the deletion removes"
                    ));
                }
                Ok(left) if left <= self.identity_certificate_warning => {
                    let offline = reported
                        .connectivity
                        .is_some_and(|c| !c.eq_ignore_ascii_case("Connected"));
                    findings.warnings.push(format!(
                        "its Arc identity certificate expires at {text}, in {}{}; the agents renew it while the site is connected, and a site still offline then must be re-onboarded (deleted and re-connected, which removes its extensions and Flux configurations)",
                        days(left),
                        if offline { " and the site is not connected now" } else { "" }
                    ));
                }
                Ok(_) => {}
            }
        }
        if let Some(text) = reported.last_seen
            && let Some(seen) = parse_time(text)
            && let Ok(ago) = now.duration_since(seen)
            && ago > self.offline_warning
        {
            findings.warnings.push(format!(
                "Azure last heard from the site {} ago (at {text}){}",
                days(ago),
                reported
                    .connectivity
                    .map(|c| format!("; connectivity is {c}"))
                    .unwrap_or_default()
            ));
        }
        let newest = [
            self.latest_agent_version.as_deref(),
            reported.bundle_version,
        ]
        .into_iter()
        .flatten()
        .filter_map(|v| version(v).map(|parsed| (parsed, v)))
        .max();
        if let (Some(((major, minor), newest_text)), Some(agent)) = (newest, reported.agent_version)
            && let Some((agent_major, agent_minor)) = version(agent)
        {
            let oldest_supported = minor.saturating_sub(2);
            if agent_major < major || (agent_major == major && agent_minor < oldest_supported) {
                findings.warnings.push(format!(
                    "its Arc agents ({agent}) are outside Arc's support window, which covers the newest minor release and the two before it ({major}.{oldest_supported} to {major}.{minor}, the newest being {newest_text}); upgrade them (agent_auto_upgrade or desired_agent_version)"
                ));
            } else if agent_major == major && agent_minor == oldest_supported && minor >= 2 {
                findings.warnings.push(format!(
                    "its Arc agents ({agent}) are on the oldest supported minor release and leave the support window with the next one (the newest being {newest_text})"
                ));
            }
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        parse_time(text).unwrap()
    }

    #[test]
    fn certificate_expiry_warns_within_the_window_and_expired_means_reonboarding() {
        let d = Deadlines::default();
        let now = at("2026-12-06T12:00:00Z");
        let soon = d.check(
            &Reported {
                identity_certificate_expires: Some("2026-12-16T12:00:00Z"),
                connectivity: Some("Offline"),
                ..Reported::default()
            },
            now,
        );
        assert!(!soon.expired);
        assert_eq!(soon.warnings.len(), 1);
        assert!(
            soon.warnings[0].contains("in 10 days and the site is not connected now"),
            "{:?}",
            soon.warnings
        );
        let later = d.check(
            &Reported {
                identity_certificate_expires: Some("2027-02-16T12:00:00Z"),
                ..Reported::default()
            },
            now,
        );
        assert_eq!(later, Findings::default());
        let expired = d.check(
            &Reported {
                identity_certificate_expires: Some("2026-12-01T12:00:00Z"),
                ..Reported::default()
            },
            now,
        );
        assert!(expired.expired);
        assert!(expired.warnings[0].contains("re-onboarded"));
    }

    #[test]
    fn the_support_window_is_the_newest_minor_and_the_two_before() {
        let d = Deadlines {
            latest_agent_version: Some("1.21.10".into()),
            ..Deadlines::default()
        };
        let now = SystemTime::now();
        let check = |agent: &str| {
            d.check(
                &Reported {
                    agent_version: Some(agent),
                    ..Reported::default()
                },
                now,
            )
            .warnings
        };
        assert!(check("1.21.3").is_empty());
        assert!(check("1.20.0").is_empty());
        assert!(check("1.19.2")[0].contains("oldest supported minor"));
        assert!(check("1.18.9")[0].contains("outside Arc's support window"));
        assert!(check("0.9.0")[0].contains("outside"));
        let unknown = Deadlines::default().check(
            &Reported {
                agent_version: Some("1.2.0"),
                ..Reported::default()
            },
            now,
        );
        assert!(
            unknown.warnings.is_empty(),
            "no newest release known, no window"
        );
    }

    #[test]
    fn a_site_unseen_for_longer_than_the_threshold_is_named() {
        let d = Deadlines::default();
        let now = at("2026-12-06T12:00:00Z");
        let findings = d.check(
            &Reported {
                last_seen: Some("2026-12-03T12:00:00Z"),
                connectivity: Some("Offline"),
                ..Reported::default()
            },
            now,
        );
        assert_eq!(
            findings.warnings,
            [
                "Azure last heard from the site 3 days ago (at 2026-12-03T12:00:00Z); connectivity is Offline"
            ]
        );
        let recent = d.check(
            &Reported {
                last_seen: Some("2026-12-06T11:00:00Z"),
                ..Reported::default()
            },
            now,
        );
        assert!(recent.warnings.is_empty());
    }
}
