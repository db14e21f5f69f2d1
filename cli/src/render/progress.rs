//! Apply progress for people. On a terminal with color, an indicatif spinner per change in
//! flight above a summary line; otherwise (pipelines, `-no-color`) Terraform's plain lines:
//!
//! ```text
//! host.web: Creating...
//! host.web: Still creating... [00m10s elapsed]
//! host.web: Creation complete after 12s [id=web-1]
//! host.db: Modifications errored after 1s
//! host.app: Skipped (host.db failed)
//! ```
//!
//! Only addresses, ids and times are printed, never attribute values; errors are reported
//! afterwards as diagnostics by the command.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fleetform_planner::addrs::AbsResourceInstance;
use fleetform_planner::apply::progress::{Progress, RolloutEvent};
use fleetform_planner::plan::Action;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Color;
use super::term::{Paint, Sink, go_duration, rounded_seconds};

/// How often Terraform reports a change that is still running.
pub(crate) const STILL_RUNNING: Duration = Duration::from_secs(10);

/// The words for an action: `Creating`, `creating`, `Creation`.
pub(crate) fn words(action: Action) -> (&'static str, &'static str, &'static str) {
    match action {
        Action::Create => ("Creating", "creating", "Creation"),
        Action::Update => ("Modifying", "modifying", "Modifications"),
        Action::Delete => ("Destroying", "destroying", "Destruction"),
        Action::Read => ("Reading", "reading", "Read"),
        Action::DeleteThenCreate | Action::CreateThenDelete => {
            ("Replacing", "replacing", "Replacement")
        }
        Action::NoOp => ("Applying", "applying", "Apply"),
    }
}

/// `00m10s`, as Terraform's "Still creating..." lines print elapsed time.
pub(crate) fn minutes_seconds(seconds: u64) -> String {
    format!("{:02}m{:02}s", seconds / 60, seconds % 60)
}

/// What was applied, for the summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Changes that completed (a replacement is one change, but both added and removed).
    pub completed: usize,
}

impl Counts {
    pub fn record(&mut self, action: Action) {
        self.completed += 1;
        match action {
            Action::Create => self.added += 1,
            Action::Update => self.changed += 1,
            Action::Delete => self.removed += 1,
            Action::DeleteThenCreate | Action::CreateThenDelete => {
                self.added += 1;
                self.removed += 1;
            }
            Action::NoOp | Action::Read => {}
        }
    }
}

/// A change in flight.
#[derive(Debug)]
pub(crate) struct InFlight {
    pub action: Action,
    pub started: Instant,
    /// How many "still running" reports were made.
    pub reports: u32,
}

/// The changes in flight, by address.
pub(crate) type Flights = Mutex<BTreeMap<AbsResourceInstance, InFlight>>;

/// The changes in flight that are due a "still running" report, with their elapsed time;
/// marks them reported.
pub(crate) fn due(
    flights: &Flights,
    period: Duration,
) -> Vec<(AbsResourceInstance, Action, Duration)> {
    let Ok(mut flights) = flights.lock() else {
        return Vec::new();
    };
    let now = Instant::now();
    let mut out = Vec::new();
    for (addr, f) in flights.iter_mut() {
        let elapsed = now.duration_since(f.started);
        if elapsed >= period * (f.reports + 1) {
            f.reports += 1;
            out.push((addr.clone(), f.action, elapsed));
        }
    }
    out
}

/// A background thread calling `tick` a few times a second until dropped.
pub(crate) struct Ticker {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl Ticker {
    pub fn start(interval: Duration, tick: impl Fn() + Send + 'static) -> Ticker {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("fleetform-progress".into())
            .spawn(move || {
                let (lock, cvar) = &*flag;
                let Ok(mut stopped) = lock.lock() else { return };
                while !*stopped {
                    match cvar.wait_timeout(stopped, interval) {
                        Ok((guard, _)) => stopped = guard,
                        Err(_) => return,
                    }
                    if !*stopped {
                        tick();
                    }
                }
            })
            .ok();
        Ticker { stop, handle }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        let (lock, cvar) = &*self.stop;
        if let Ok(mut stopped) = lock.lock() {
            *stopped = true;
        }
        cvar.notify_all();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Apply progress for people; give it to the engine as its
/// [`Progress`], and drop it when the apply ends (that clears the spinners).
pub struct Human {
    inner: Arc<Inner>,
    ticker: Mutex<Option<Ticker>>,
}

struct Inner {
    sink: Sink,
    paint: Paint,
    period: Duration,
    flights: Flights,
    counts: Mutex<Counts>,
    fancy: Option<Fancy>,
}

/// The terminal display: a spinner per change in flight, a summary line below them.
struct Fancy {
    multi: MultiProgress,
    summary: ProgressBar,
    bars: Mutex<BTreeMap<AbsResourceInstance, ProgressBar>>,
    total: Mutex<Option<usize>>,
}

impl Human {
    /// Spinners when color is on and stdout is a terminal; plain lines otherwise.
    pub fn new(color: Color) -> Human {
        let fancy = (color == Color::On && std::io::stdout().is_terminal())
            .then(|| Fancy::new(ProgressDrawTarget::stdout()));
        Human::build(Sink::Stdout, color, STILL_RUNNING, fancy)
    }

    fn build(sink: Sink, color: Color, period: Duration, fancy: Option<Fancy>) -> Human {
        Human {
            inner: Arc::new(Inner {
                sink,
                paint: Paint(color),
                period,
                flights: Mutex::new(BTreeMap::new()),
                counts: Mutex::new(Counts::default()),
                fancy,
            }),
            ticker: Mutex::new(None),
        }
    }

    /// Plain lines into a buffer, reporting still-running changes every `period`.
    #[cfg(test)]
    pub(crate) fn buffered(color: Color, period: Duration) -> Human {
        Human::build(Sink::Buffer(Mutex::new(String::new())), color, period, None)
    }

    /// The spinner display, drawing nowhere.
    #[cfg(test)]
    pub(crate) fn hidden_spinners() -> Human {
        let fancy = Fancy::new(ProgressDrawTarget::hidden());
        Human::build(
            Sink::Buffer(Mutex::new(String::new())),
            Color::On,
            STILL_RUNNING,
            Some(fancy),
        )
    }

    /// What was written (buffered only).
    #[cfg(test)]
    pub(crate) fn output(&self) -> String {
        self.inner.sink.contents()
    }

    /// Sets how many changes the apply will make, so the summary line shows a bar.
    pub fn with_total(self, total: usize) -> Human {
        if let Some(f) = &self.inner.fancy {
            if let Ok(mut t) = f.total.lock() {
                *t = Some(total);
            }
            f.summary.set_style(
                ProgressStyle::with_template("{bar:30.green/dim} {pos}/{len} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            f.summary.set_length(total as u64);
            f.update(&self.inner);
        }
        self
    }

    /// (added, changed, destroyed) so far, counting only the changes that completed.
    pub fn counts(&self) -> (usize, usize, usize) {
        let c = self.inner.counts.lock().map(|c| *c).unwrap_or_default();
        (c.added, c.changed, c.removed)
    }

    fn ensure_ticker(&self) {
        if self.inner.fancy.is_some() {
            return;
        }
        let Ok(mut t) = self.ticker.lock() else {
            return;
        };
        if t.is_none() {
            let inner = Arc::clone(&self.inner);
            let interval = (self.inner.period / 20)
                .clamp(Duration::from_millis(5), Duration::from_millis(250));
            *t = Some(Ticker::start(interval, move || inner.still_running()));
        }
    }
}

impl Inner {
    fn line(&self, text: &str) {
        let text = self.paint.bold(text);
        match &self.fancy {
            Some(f) => {
                if f.multi.println(&text).is_err() {
                    self.sink.write(&format!("{text}\n"));
                }
            }
            None => self.sink.write(&format!("{text}\n")),
        }
    }

    fn still_running(&self) {
        for (addr, action, elapsed) in due(&self.flights, self.period) {
            let (_, still, _) = words(action);
            self.line(&format!(
                "{addr}: Still {still}... [{} elapsed]",
                minutes_seconds(rounded_seconds(elapsed))
            ));
        }
    }

    fn finish(&self, addr: &AbsResourceInstance) -> Option<InFlight> {
        let bar = self
            .fancy
            .as_ref()
            .and_then(|f| f.bars.lock().ok()?.remove(addr));
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        self.flights.lock().ok().and_then(|mut f| f.remove(addr))
    }

    fn elapsed(flight: Option<InFlight>, fallback: Duration) -> u64 {
        rounded_seconds(flight.map_or(fallback, |f| f.started.elapsed()))
    }
}

impl Fancy {
    fn new(target: ProgressDrawTarget) -> Fancy {
        let multi = MultiProgress::with_draw_target(target);
        let summary = multi.add(ProgressBar::new_spinner());
        summary.set_style(
            ProgressStyle::with_template("{spinner:.green} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        summary.enable_steady_tick(Duration::from_millis(120));
        summary.set_message("Applying...");
        Fancy {
            multi,
            summary,
            bars: Mutex::new(BTreeMap::new()),
            total: Mutex::new(None),
        }
    }

    fn update(&self, inner: &Inner) {
        let c = inner.counts.lock().map(|c| *c).unwrap_or_default();
        let running = inner.flights.lock().map(|f| f.len()).unwrap_or(0);
        let done = c.completed;
        let mut msg = format!("Applying: {running} in progress, {done} complete");
        if c.failed > 0 {
            msg.push_str(&format!(", {} failed", c.failed));
        }
        if c.skipped > 0 {
            msg.push_str(&format!(", {} skipped", c.skipped));
        }
        if self.total.lock().map(|t| t.is_some()).unwrap_or(false) {
            self.summary
                .set_position((done + c.failed + c.skipped) as u64);
        }
        self.summary.set_message(msg);
    }
}

impl Progress for Human {
    fn start(&self, addr: &AbsResourceInstance, action: Action) {
        let inner = &self.inner;
        if let Ok(mut f) = inner.flights.lock() {
            f.insert(
                addr.clone(),
                InFlight {
                    action,
                    started: Instant::now(),
                    reports: 0,
                },
            );
        }
        let (verb, _, _) = words(action);
        match &inner.fancy {
            Some(f) => {
                let bar = f
                    .multi
                    .insert_before(&f.summary, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner:.cyan} {msg} [{elapsed}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(format!("{addr}: {verb}..."));
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Ok(mut bars) = f.bars.lock() {
                    bars.insert(addr.clone(), bar);
                }
                f.update(inner);
            }
            None => {
                inner.line(&format!("{addr}: {verb}..."));
                self.ensure_ticker();
            }
        }
    }

    fn complete(
        &self,
        addr: &AbsResourceInstance,
        action: Action,
        elapsed: Duration,
        id: Option<&str>,
    ) {
        let inner = &self.inner;
        inner.finish(addr);
        if let Ok(mut c) = inner.counts.lock() {
            c.record(action);
        }
        let (_, _, noun) = words(action);
        let id = id
            .filter(|id| !id.is_empty())
            .map(|id| format!(" [id={id}]"))
            .unwrap_or_default();
        inner.line(&format!(
            "{addr}: {noun} complete after {}{id}",
            go_duration(rounded_seconds(elapsed))
        ));
        if let Some(f) = &inner.fancy {
            f.update(inner);
        }
    }

    fn errored(&self, addr: &AbsResourceInstance, action: Action, _message: &str) {
        // The message is reported as a diagnostic when the apply ends, as Terraform does;
        // it may quote values, so it is not repeated here.
        let inner = &self.inner;
        let flight = inner.finish(addr);
        if let Ok(mut c) = inner.counts.lock() {
            c.failed += 1;
        }
        let (_, _, noun) = words(action);
        let secs = Inner::elapsed(flight, Duration::ZERO);
        let text = format!("{addr}: {noun} errored after {}", go_duration(secs));
        match &inner.fancy {
            Some(f) => {
                let _ = f.multi.println(inner.paint.bold_red(&text));
                f.update(inner);
            }
            None => inner.line(&text),
        }
    }

    fn skipped(&self, addr: &AbsResourceInstance, _action: Action, why: &str) {
        let inner = &self.inner;
        inner.finish(addr);
        if let Ok(mut c) = inner.counts.lock() {
            c.skipped += 1;
        }
        inner.line(&format!("{addr}: Skipped ({why})"));
        if let Some(f) = &inner.fancy {
            f.update(inner);
        }
    }

    fn rollout(&self, event: &RolloutEvent<'_>) {
        self.inner.line(&rollout_line(event));
    }
}

/// One line per rollout event, the same for people and in `-json`'s messages.
pub(crate) fn rollout_line(event: &RolloutEvent<'_>) -> String {
    match event {
        RolloutEvent::Batch {
            rollout,
            stage,
            batch,
            batches,
            sites,
        } => format!(
            "Rollout {rollout:?}: stage {stage:?}, batch {batch} of {batches}: {}",
            sites.join(", ")
        ),
        RolloutEvent::SiteFailed { rollout, site, why } => {
            format!("Rollout {rollout:?}: {site} failed: {why}")
        }
        RolloutEvent::SiteDeferred { rollout, site, why } => format!(
            "Rollout {rollout:?}: {site} could not be reached; its changes wait for a later apply ({why})"
        ),
        RolloutEvent::Soak {
            rollout,
            stage,
            soak,
        } => format!(
            "Rollout {rollout:?}: stage {stage:?} passed; soaking {} before the next stage",
            fleetform_planner::plan::rollout::humanize(*soak)
        ),
        RolloutEvent::Halted { rollout, why } => format!("Rollout {rollout:?}: halted: {why}"),
        RolloutEvent::Completed { rollout } => format!("Rollout {rollout:?}: complete"),
    }
}

impl Drop for Human {
    fn drop(&mut self) {
        if let Ok(mut t) = self.ticker.lock() {
            t.take();
        }
        if let Some(f) = &self.inner.fancy {
            if let Ok(mut bars) = f.bars.lock() {
                for (_, bar) in std::mem::take(&mut *bars) {
                    bar.finish_and_clear();
                }
            }
            f.summary.finish_and_clear();
            let _ = f.multi.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetform_planner::addrs::{InstanceKey, ModuleInstance, Resource};

    pub(crate) fn addr(module: Option<&str>, ty: &str, name: &str) -> AbsResourceInstance {
        let m = match module {
            Some(m) => ModuleInstance::root().child(m, InstanceKey::None),
            None => ModuleInstance::root(),
        };
        AbsResourceInstance {
            module: m,
            resource: Resource::managed(ty, name).instance(InstanceKey::None),
        }
    }

    #[test]
    fn plain_lines_are_terraforms() {
        let h = Human::buffered(Color::Off, STILL_RUNNING);
        let web = addr(None, "host", "web");
        let db = addr(None, "host", "db");
        let app = addr(Some("x"), "host", "app");
        let old = addr(None, "host", "old");
        h.start(&web, Action::Create);
        h.complete(
            &web,
            Action::Create,
            Duration::from_millis(2200),
            Some("abc"),
        );
        h.start(&db, Action::Update);
        h.errored(&db, Action::Update, "connection refused: password hunter2");
        h.skipped(&app, Action::Create, "host.db failed");
        h.start(&old, Action::Delete);
        h.complete(&old, Action::Delete, Duration::from_millis(61_000), None);
        assert_eq!(
            h.output(),
            "host.web: Creating...\n\
             host.web: Creation complete after 2s [id=abc]\n\
             host.db: Modifying...\n\
             host.db: Modifications errored after 0s\n\
             module.x.host.app: Skipped (host.db failed)\n\
             host.old: Destroying...\n\
             host.old: Destruction complete after 1m1s\n"
        );
        assert_eq!(h.counts(), (1, 0, 1));
        assert!(
            !h.output().contains("hunter2"),
            "error messages are left to the diagnostics"
        );
    }

    #[test]
    fn long_changes_are_reported_still_running() {
        let h = Human::buffered(Color::Off, Duration::from_millis(40));
        let web = addr(None, "host", "web");
        h.start(&web, Action::Create);
        std::thread::sleep(Duration::from_millis(150));
        h.complete(&web, Action::Create, Duration::from_millis(150), None);
        let out = h.output();
        assert!(
            out.starts_with(
                "host.web: Creating...\nhost.web: Still creating... [00m00s elapsed]\n"
            ),
            "{out}"
        );
        assert!(
            out.ends_with("host.web: Creation complete after 0s\n"),
            "{out}"
        );
        let stills = out.matches("Still creating").count();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            h.output().matches("Still creating").count(),
            stills,
            "no reports after completion"
        );
    }

    #[test]
    fn spinners_track_changes_and_clear_on_drop() {
        let h = Human::hidden_spinners().with_total(3);
        let (a, b, c) = (
            addr(None, "host", "a"),
            addr(None, "host", "b"),
            addr(None, "host", "c"),
        );
        h.start(&a, Action::Create);
        h.start(&b, Action::DeleteThenCreate);
        assert_eq!(h.inner.flights.lock().unwrap().len(), 2);
        h.complete(&a, Action::Create, Duration::from_secs(1), Some("x"));
        h.complete(&b, Action::DeleteThenCreate, Duration::from_secs(1), None);
        h.skipped(&c, Action::Create, "host.b failed");
        assert_eq!(h.counts(), (2, 0, 1));
        assert!(h.inner.flights.lock().unwrap().is_empty());
        let fancy = h.inner.fancy.as_ref().unwrap();
        assert!(fancy.bars.lock().unwrap().is_empty());
        assert_eq!(fancy.summary.position(), 3);
        assert!(
            h.output().is_empty(),
            "lines go to the spinner display, not around it"
        );
        drop(h);
    }

    #[test]
    fn color_makes_lines_bold_only() {
        let h = Human::buffered(Color::On, STILL_RUNNING);
        let web = addr(None, "host", "web");
        h.start(&web, Action::Create);
        assert_eq!(h.output(), "\x1b[1mhost.web: Creating...\x1b[0m\n");
    }
}
