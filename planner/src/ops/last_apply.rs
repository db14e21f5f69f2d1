//! The record of how an apply went ([`LastApply`]), which the apply writes with the state
//! it leaves, for `fleetform status`: the apply's progress events pass through [`Tally`],
//! which counts the changes made and failed on their way to the CLI.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::addrs::AbsResourceInstance;
use crate::apply::progress::{Progress, RolloutEvent};
use crate::plan::{Action, Mode};
use crate::state::{ApplyOutcome, LastApply};

/// Forwards every progress event (each method of [`Progress`], which has defaults, so a new
/// one must be added here too), counting the changes that completed and failed.
pub(super) struct Tally<'a> {
    inner: &'a dyn Progress,
    made: AtomicU64,
    failed: AtomicU64,
    started: String,
}

impl<'a> Tally<'a> {
    /// Starts counting now, forwarding to `inner`.
    pub(super) fn new(inner: &'a dyn Progress) -> Tally<'a> {
        Tally {
            inner,
            made: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            started: now_rfc3339(),
        }
    }

    /// The record of the apply that ends now.
    pub(super) fn finish(
        &self,
        mode: Mode,
        had_errors: bool,
        stopping: &AtomicBool,
        cancelled: bool,
    ) -> LastApply {
        let outcome = if stopping.load(Ordering::SeqCst) || cancelled {
            ApplyOutcome::Interrupted
        } else if had_errors {
            ApplyOutcome::Failed
        } else {
            ApplyOutcome::Succeeded
        };
        LastApply {
            operation: match mode {
                Mode::Normal => "apply",
                Mode::Destroy => "destroy",
                Mode::RefreshOnly => "refresh",
            }
            .to_owned(),
            started: self.started.clone(),
            finished: now_rfc3339(),
            outcome,
            changes: self.made.load(Ordering::SeqCst),
            failed: self.failed.load(Ordering::SeqCst),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

impl Progress for Tally<'_> {
    fn start(&self, addr: &AbsResourceInstance, action: Action) {
        self.inner.start(addr, action);
    }

    fn complete(
        &self,
        addr: &AbsResourceInstance,
        action: Action,
        elapsed: Duration,
        id: Option<&str>,
    ) {
        self.made.fetch_add(1, Ordering::SeqCst);
        self.inner.complete(addr, action, elapsed, id);
    }

    fn errored(&self, addr: &AbsResourceInstance, action: Action, message: &str) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        self.inner.errored(addr, action, message);
    }

    fn skipped(&self, addr: &AbsResourceInstance, action: Action, why: &str) {
        self.inner.skipped(addr, action, why);
    }

    fn replacement_step(&self, addr: &AbsResourceInstance, finished: Action, elapsed: Duration) {
        self.inner.replacement_step(addr, finished, elapsed);
    }

    fn refresh_start(&self, addr: &AbsResourceInstance) {
        self.inner.refresh_start(addr);
    }

    fn refresh_complete(&self, addr: &AbsResourceInstance, id: Option<&str>) {
        self.inner.refresh_complete(addr, id);
    }

    fn rollout(&self, event: &RolloutEvent<'_>) {
        self.inner.rollout(event);
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::progress::Silent;

    fn addr() -> AbsResourceInstance {
        crate::addrs::parse_abs_resource_instance("fleetform_data.a").unwrap()
    }

    /// Records which events reached it.
    #[derive(Default)]
    struct Seen(std::sync::Mutex<Vec<&'static str>>);

    impl Progress for Seen {
        fn start(&self, _: &AbsResourceInstance, _: Action) {
            self.0.lock().unwrap().push("start");
        }
        fn complete(&self, _: &AbsResourceInstance, _: Action, _: Duration, _: Option<&str>) {
            self.0.lock().unwrap().push("complete");
        }
        fn errored(&self, _: &AbsResourceInstance, _: Action, _: &str) {
            self.0.lock().unwrap().push("errored");
        }
        fn skipped(&self, _: &AbsResourceInstance, _: Action, _: &str) {
            self.0.lock().unwrap().push("skipped");
        }
        fn replacement_step(&self, _: &AbsResourceInstance, _: Action, _: Duration) {
            self.0.lock().unwrap().push("replacement_step");
        }
        fn refresh_start(&self, _: &AbsResourceInstance) {
            self.0.lock().unwrap().push("refresh_start");
        }
        fn refresh_complete(&self, _: &AbsResourceInstance, _: Option<&str>) {
            self.0.lock().unwrap().push("refresh_complete");
        }
        fn rollout(&self, _: &RolloutEvent<'_>) {
            self.0.lock().unwrap().push("rollout");
        }
    }

    #[test]
    fn every_event_reaches_the_cli() {
        let seen = Seen::default();
        let tally = Tally::new(&seen);
        let a = addr();
        tally.start(&a, Action::Create);
        tally.complete(&a, Action::Create, Duration::ZERO, None);
        tally.errored(&a, Action::Create, "x");
        tally.skipped(&a, Action::Create, "x");
        tally.replacement_step(&a, Action::Delete, Duration::ZERO);
        tally.refresh_start(&a);
        tally.refresh_complete(&a, None);
        tally.rollout(&RolloutEvent::Completed { rollout: "r" });
        assert_eq!(
            *seen.0.lock().unwrap(),
            [
                "start",
                "complete",
                "errored",
                "skipped",
                "replacement_step",
                "refresh_start",
                "refresh_complete",
                "rollout"
            ]
        );
    }

    #[test]
    fn counts_what_completed_and_failed_and_names_the_outcome() {
        let tally = Tally::new(&Silent);
        let stopping = AtomicBool::new(false);
        tally.complete(&addr(), Action::Create, Duration::ZERO, None);
        tally.complete(&addr(), Action::Update, Duration::ZERO, None);
        tally.errored(&addr(), Action::Delete, "boom");
        tally.skipped(&addr(), Action::Create, "blocked");
        let last = tally.finish(Mode::Normal, true, &stopping, false);
        assert_eq!((last.changes, last.failed), (2, 1));
        assert_eq!(last.outcome, ApplyOutcome::Failed);
        assert_eq!(last.operation, "apply");
        assert!(last.started <= last.finished, "{last:?}");
        assert!(last.finished.ends_with('Z'), "{last:?}");
        assert_eq!(
            tally.finish(Mode::Destroy, false, &stopping, false).outcome,
            ApplyOutcome::Succeeded
        );
        stopping.store(true, Ordering::SeqCst);
        let interrupted = tally.finish(Mode::RefreshOnly, true, &stopping, false);
        assert_eq!(interrupted.outcome, ApplyOutcome::Interrupted);
        assert_eq!(interrupted.operation, "refresh");
    }
}
