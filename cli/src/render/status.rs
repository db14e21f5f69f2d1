//! `fleetform status` for people: one row per cluster, grouped by site, in aligned columns
//! like `kubectl get`, then what needs attention site by site and the last apply.
//! Expiry reads as a countdown and a date. Colour only marks health, and only when asked.

use std::time::Duration;

use fleetform_planner::ops::status::{ClusterStatus, FleetStatus, Health, Refresh, SiteStatus};
use fleetform_planner::state::LastApply;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Color;
use super::term::Paint;

const HEADERS: [&str; 11] = [
    "SITE",
    "HEALTH",
    "CLUSTER",
    "VERSION",
    "NODES",
    "SOONEST CERTIFICATE",
    "EXPIRES",
    "ARC",
    "DEFERRED",
    "DRIFT",
    "RESOURCES",
];

/// The status as text, at `now` (countdowns count from it).
pub fn human(status: &FleetStatus, color: Color, now: OffsetDateTime) -> String {
    let paint = Paint(color);
    let mut rows: Vec<([String; 11], Health)> = Vec::new();
    for site in &status.sites {
        let site_cells = |first: bool| {
            if first {
                [
                    site.name.clone(),
                    health_word(site),
                    site.deferred.len().to_string(),
                    site.drift
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |d| d.len().to_string()),
                    site.resources.to_string(),
                ]
            } else {
                Default::default()
            }
        };
        if site.clusters.is_empty() {
            let [name, health, deferred, drift, resources] = site_cells(true);
            let dash = || "-".to_owned();
            rows.push((
                [
                    name,
                    health,
                    dash(),
                    dash(),
                    dash(),
                    dash(),
                    dash(),
                    dash(),
                    deferred,
                    drift,
                    resources,
                ],
                site.health,
            ));
        }
        for (i, cluster) in site.clusters.iter().enumerate() {
            let [name, health, deferred, drift, resources] = site_cells(i == 0);
            let (cert, expires) = match &cluster.soonest_certificate {
                Some(c) => (c.name.clone(), countdown(&c.not_after, now)),
                None => ("-".to_owned(), "-".to_owned()),
            };
            rows.push((
                [
                    name,
                    health,
                    cluster.name.clone(),
                    versions(cluster),
                    cluster
                        .nodes()
                        .map_or_else(|| "-".to_owned(), |n| format!("{}/{}", n.ready, n.total)),
                    cert,
                    expires,
                    arc(cluster, now),
                    deferred,
                    drift,
                    resources,
                ],
                site.health,
            ));
        }
    }
    let mut widths = HEADERS.map(str::len);
    for (cells, _) in &rows {
        for (w, cell) in widths.iter_mut().zip(cells) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = line(&HEADERS.map(str::to_owned), &widths, |_, text| {
        text.to_owned()
    });
    for (cells, health) in &rows {
        out.push_str(&line(cells, &widths, |column, text| {
            if column == 1 && !text.trim().is_empty() {
                paint_health(paint, *health, text)
            } else {
                text.to_owned()
            }
        }));
    }
    out.push_str(&details(status, paint));
    out.push_str(&rollouts(status));
    out.push('\n');
    out.push_str(&last_apply(status.last_apply.as_ref(), now));
    if !status.refreshed {
        out.push_str("Not refreshed (-offline): every value is as the state recorded it.\n");
    }
    out
}

/// One row, each cell padded to its column (the last one not), painted after padding so
/// that colour codes do not upset the alignment.
fn line(
    cells: &[String; 11],
    widths: &[usize; 11],
    paint: impl Fn(usize, &str) -> String,
) -> String {
    let mut out = String::new();
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        let last = i + 1 == cells.len();
        let padded = if last {
            cell.clone()
        } else {
            format!("{cell:<width$}   ")
        };
        let (text, pad) = padded.split_at(cell.len());
        out.push_str(&paint(i, text));
        out.push_str(pad);
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

fn health_word(site: &SiteStatus) -> String {
    match &site.refresh {
        Refresh::Unreachable { .. } => "unreachable".to_owned(),
        _ => site.health.as_str().to_owned(),
    }
}

fn paint_health(paint: Paint, health: Health, text: &str) -> String {
    match health {
        Health::Healthy => paint.green(text),
        Health::Attention => paint.yellow(text),
        Health::Failing => paint.bold_red(text),
    }
}

/// Each pool's version: one when every pool runs the same.
fn versions(cluster: &ClusterStatus) -> String {
    let known: Vec<(&str, &str)> = cluster
        .pools
        .iter()
        .filter_map(|p| Some((p.name.as_str(), p.kubernetes_version.as_deref()?)))
        .collect();
    match known.first() {
        None => "-".to_owned(),
        Some((_, first)) if known.iter().all(|(_, v)| v == first) => (*first).to_owned(),
        Some(_) => known
            .iter()
            .map(|(pool, v)| format!("{pool} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn arc(cluster: &ClusterStatus, now: OffsetDateTime) -> String {
    let Some(c) = &cluster.connection else {
        return "-".to_owned();
    };
    match &c.identity {
        Some(id) => format!("{} (identity {})", c.status, countdown(&id.not_after, now)),
        None => c.status.clone(),
    }
}

/// `in 364d (2027-12-07)`, `in 5h (2026-12-07 17:00 UTC)`, `expired 2d ago (2026-12-05)`.
pub fn countdown(not_after: &str, now: OffsetDateTime) -> String {
    let Ok(at) = OffsetDateTime::parse(not_after, &Rfc3339) else {
        return not_after.to_owned();
    };
    let left = at - now;
    let span = Duration::from_secs(left.whole_seconds().unsigned_abs());
    let amount = if span >= Duration::from_secs(2 * 86400) {
        format!("{}d", span.as_secs() / 86400)
    } else if span >= Duration::from_secs(2 * 3600) {
        format!("{}h", span.as_secs() / 3600)
    } else {
        format!("{}m", span.as_secs() / 60)
    };
    let at = at.to_offset(time::UtcOffset::UTC);
    let date = if span >= Duration::from_secs(2 * 86400) {
        format!("{}", at.date())
    } else {
        format!("{} {:02}:{:02} UTC", at.date(), at.hour(), at.minute())
    };
    if left.is_negative() {
        format!("expired {amount} ago ({date})")
    } else {
        format!("in {amount} ({date})")
    }
}

/// What needs attention, site by site: the reasons, then the objects behind them.
fn details(status: &FleetStatus, paint: Paint) -> String {
    let mut out = String::new();
    for site in status.sites.iter().filter(|s| s.health != Health::Healthy) {
        out.push('\n');
        out.push_str(&paint.bold(&site.name));
        out.push_str(&format!(" ({}):\n", health_word(site)));
        for reason in &site.reasons {
            out.push_str(&format!("  - {reason}\n"));
        }
        if let Refresh::Unreachable { .. } = site.refresh {
            out.push_str("    values shown are as the state last recorded them\n");
        }
        for d in &site.deferred {
            out.push_str(&format!("  deferred: {}: {}", d.address, d.action));
            if let Some(since) = &d.since {
                out.push_str(&format!(", since {since}"));
            }
            if let Some(reason) = &d.reason {
                out.push_str(&format!(" ({reason})"));
            }
            out.push('\n');
        }
        for addr in site.drift.iter().flatten() {
            out.push_str(&format!("  drifted: {addr}\n"));
        }
        for addr in &site.interrupted {
            out.push_str(&format!("  interrupted: {addr}\n"));
        }
        for addr in &site.tainted {
            out.push_str(&format!("  to be replaced: {addr}\n"));
        }
        for e in &site.errors {
            out.push_str(&format!("  refresh failed: {e}\n"));
        }
    }
    out
}

/// Each rollout: where it is, the sites it went through and those that failed.
fn rollouts(status: &FleetStatus) -> String {
    let mut out = String::new();
    for (name, p) in &status.rollouts {
        if out.is_empty() {
            out.push_str("\nRollouts:\n");
        }
        out.push_str(&format!(
            "  {name}: {}, stage {} batch {}; {} site(s) done, {} failed (as of {})\n",
            p.status.as_str(),
            p.stage,
            p.batch,
            p.done.len(),
            p.failed.len(),
            p.updated
        ));
        for (site, why) in &p.failed {
            out.push_str(&format!("    failed: {site}: {why}\n"));
        }
        if let Some(why) = &p.halted {
            out.push_str(&format!("    halted: {why}\n"));
        }
    }
    out
}

fn last_apply(last: Option<&LastApply>, now: OffsetDateTime) -> String {
    let Some(last) = last else {
        return "Last apply: none recorded.\n".to_owned();
    };
    let ago = OffsetDateTime::parse(&last.finished, &Rfc3339)
        .map(|t| {
            let secs = (now - t).whole_seconds().max(0).unsigned_abs();
            format!(" ({} ago)", super::term::go_duration(secs))
        })
        .unwrap_or_default();
    let what = if last.operation == "apply" {
        String::new()
    } else {
        format!(" ({})", last.operation)
    };
    format!(
        "Last apply{what}: {}, finished {}{ago}, started {}: {} change(s) made, {} failed (fleetform {}).\n",
        last.outcome.as_str(),
        last.finished,
        last.started,
        last.changes,
        last.failed,
        last.version
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn countdowns_read_in_days_hours_or_minutes_with_the_date() {
        let now = datetime!(2026-12-07 12:00 UTC);
        assert_eq!(
            countdown("2027-12-07T12:00:00Z", now),
            "in 365d (2027-12-07)"
        );
        assert_eq!(
            countdown("2026-12-07T17:30:00Z", now),
            "in 5h (2026-12-07 17:30 UTC)"
        );
        assert_eq!(
            countdown("2026-12-07T12:45:00Z", now),
            "in 45m (2026-12-07 12:45 UTC)"
        );
        assert_eq!(
            countdown("2026-12-04T11:00:00Z", now),
            "expired 3d ago (2026-12-04)"
        );
        assert_eq!(countdown("soon", now), "soon");
    }
}
