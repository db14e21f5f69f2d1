//! Managed resource types of the `host` provider, one per file.

pub mod host;
pub mod host_command;
pub mod host_file;

/// A string no two calls in this process return (and, with the process id and clock in
/// it, unlikely to repeat across runs): temporary file names, command run ids.
pub(crate) fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
