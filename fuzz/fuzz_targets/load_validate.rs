//! Any text given as a fleet file loads and validates to diagnostics, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    thread_local! {
        static PROVIDERS: fleetform_planner::providers::Providers =
            fleetform_cli::providers::builtin().expect("built-in providers register");
    }
    PROVIDERS.with(|providers| {
        let _ = fleetform_planner::ops::validate_source("fuzz.hcl", text, providers);
    });
});
