//! The facts gathered from a host, shared by the `host` resource and the `host_facts`
//! data source so both expose them under the same names.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fleetform_sdk::{Attribute, Block, Type, Value};

use crate::shell::{Invocation, Shell};
use crate::ssh::{Connection, SessionError};

/// Adds the computed facts of a host to `block`.
pub(crate) fn with_facts(block: Block) -> Block {
    let fact = |ty: Type, description: &str| Attribute::computed(ty).describe(description);
    block
        .attr("id", fact(Type::String, "Identifier of the host in state (its address and port)."))
        .attr("hostname", fact(Type::String, "The host's name, as `hostname` reports it."))
        .attr(
            "os_id",
            fact(Type::String, "Operating system ID, e.g. \"debian\" (os-release `ID`) or \"windows\"."),
        )
        .attr(
            "os_version",
            fact(Type::String, "Operating system version, e.g. \"12\" (os-release `VERSION_ID`)."),
        )
        .attr("kernel", fact(Type::String, "Kernel release, as `uname -r` reports it."))
        .attr(
            "architecture",
            fact(Type::String, "CPU architecture in Go/Kubernetes terms: \"amd64\" or \"arm64\"."),
        )
        .attr("cpus", fact(Type::Number, "Number of logical CPUs."))
        .attr("memory_mb", fact(Type::Number, "Total memory in MiB."))
        .attr(
            "addresses",
            fact(Type::list(Type::String), "IP addresses of the host's interfaces, loopback excluded."),
        )
        .attr(
            "time_offset_ms",
            fact(
                Type::Number,
                "Host clock minus the local clock in milliseconds; large skews break certificates.",
            ),
        )
        .attr(
            "container_runtime",
            fact(
                Type::String,
                "Installed container runtime and version, e.g. \"containerd 1.7.24\"; null when none.",
            ),
        )
        .attr(
            "kubelet_version",
            fact(Type::String, "Installed kubelet version, e.g. \"1.31.2\"; null when none."),
        )
        .attr(
            "host_key_fingerprint",
            fact(Type::String, "SHA256 fingerprint of the host key the host presented."),
        )
}

/// What a host reported: its facts, and what preflight checks look at.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Report {
    pub hostname: String,
    pub os_id: String,
    pub os_version: String,
    pub kernel: String,
    pub architecture: String,
    pub cpus: u64,
    pub memory_mb: u64,
    pub addresses: Vec<String>,
    pub time_offset_ms: i64,
    pub container_runtime: Option<String>,
    pub kubelet_version: Option<String>,
    pub host_key_fingerprint: String,
    pub swap_devices: u64,
    pub modules: Vec<String>,
    pub listening_ports: Vec<u16>,
}

/// One constant script (no configuration value goes into it) printing `key=value` lines.
const LINUX_SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
echo "hostname=$(uname -n)"
if [ -r /etc/os-release ]; then . /etc/os-release; fi
echo "os_id=${ID:-linux}"
echo "os_version=${VERSION_ID:-}"
echo "kernel=$(uname -r)"
echo "machine=$(uname -m)"
echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)"
echo "mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
echo "addresses=$(hostname -I 2>/dev/null || ip -o addr show scope global 2>/dev/null | awk '{sub(/\/.*/, "", $4); print $4}' | tr '\n' ' ')"
echo "containerd=$(containerd --version 2>/dev/null | awk '{print $3}')"
echo "kubelet=$(kubelet --version 2>/dev/null | awk '{print $2}')"
echo "swap=$(awk 'NR > 1' /proc/swaps 2>/dev/null | wc -l)"
echo "modules=$(ls /sys/module 2>/dev/null | tr '\n' ' ')"
echo "listening_hex=$(awk 'NR > 1 && $4 == "0A" {split($2, a, ":"); print a[2]}' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u | tr '\n' ' ')"
echo "time_ns=$(date +%s%N)"
"#;

const WINDOWS_SCRIPT: &str = r#"$os = Get-CimInstance Win32_OperatingSystem
$cs = Get-CimInstance Win32_ComputerSystem
"hostname=$env:COMPUTERNAME"
"os_id=windows"
"os_version=$($os.Version)"
"kernel=$($os.BuildNumber)"
"machine=$env:PROCESSOR_ARCHITECTURE"
"cpus=$($cs.NumberOfLogicalProcessors)"
"mem_kb=$([math]::Floor($cs.TotalPhysicalMemory / 1024))"
"addresses=$((Get-NetIPAddress -AddressFamily IPv4 | Where-Object { $_.IPAddress -ne '127.0.0.1' }).IPAddress -join ' ')"
$c = Get-Command containerd -ErrorAction SilentlyContinue
"containerd=$(if ($c) { (& containerd --version).Split(' ')[2] })"
$k = Get-Command kubelet -ErrorAction SilentlyContinue
"kubelet=$(if ($k) { (& kubelet --version).Split(' ')[1] })"
"swap=0"
"modules="
"listening=$((Get-NetTCPConnection -State Listen).LocalPort | Sort-Object -Unique) -join ' ')"
"time_ns=$([DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds())000000"
"#;

/// How far a clock reading may move from the recorded one before it counts as a change.
/// A reading rounded to whole seconds flips between two values when the true offset sits
/// near a half second, and an SSH round trip alone can move it by that much.
pub(crate) const CLOCK_TOLERANCE_MS: i64 = 2_000;

impl Report {
    /// Keeps the recorded clock offset when the new reading is within
    /// [`CLOCK_TOLERANCE_MS`] of it, so that refresh shows a clock that moved, not noise.
    pub(crate) fn keep_offset_within_tolerance(&mut self, recorded_ms: Option<i64>) {
        if let Some(recorded) = recorded_ms
            && (self.time_offset_ms - recorded).abs() <= CLOCK_TOLERANCE_MS
        {
            self.time_offset_ms = recorded;
        }
    }
}

/// Reads the facts of the host behind `connection`.
pub(crate) fn gather(connection: &mut Connection, shell: Shell) -> Result<Report, SessionError> {
    let invocation = Invocation {
        script: Some(
            match shell {
                Shell::Posix => LINUX_SCRIPT,
                Shell::PowerShell => WINDOWS_SCRIPT,
            }
            .to_owned(),
        ),
        ..Invocation::default()
    };
    let before = SystemTime::now();
    let output = shell.run(connection, &invocation, &[], FACTS_TIMEOUT)?;
    let after = SystemTime::now();
    if output.exit_code != 0 {
        return Err(SessionError::Refused(format!(
            "reading facts failed with exit code {}: {}",
            output.exit_code,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut report = parse(&text);
    let local_ns = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0)
    };
    let midpoint = (local_ns(before) + local_ns(after)) / 2;
    let remote: i128 = field(&text, "time_ns").parse().unwrap_or(midpoint);
    // Whole seconds: finer readings are network noise.
    let offset_ms = ((remote - midpoint) / 1_000_000) as i64;
    report.time_offset_ms = (offset_ms as f64 / 1000.0).round() as i64 * 1000;
    report.host_key_fingerprint = connection.host_key_fingerprint().to_owned();
    Ok(report)
}

const FACTS_TIMEOUT: Duration = Duration::from_secs(60);

fn field<'t>(text: &'t str, key: &str) -> &'t str {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or("")
        .trim()
}

fn parse(text: &str) -> Report {
    let words = |key: &str| -> Vec<String> {
        field(text, key)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let optional = |key: &str| {
        Some(field(text, key))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let mut addresses = words("addresses");
    addresses.sort();
    addresses.dedup();
    // /proc/net/tcp lists ports in hex; PowerShell prints them in decimal.
    let mut listening_ports: Vec<u16> = words("listening_hex")
        .iter()
        .filter_map(|p| u16::from_str_radix(p, 16).ok())
        .chain(words("listening").iter().filter_map(|p| p.parse().ok()))
        .collect();
    listening_ports.sort_unstable();
    listening_ports.dedup();
    Report {
        hostname: field(text, "hostname").to_owned(),
        os_id: field(text, "os_id").to_owned(),
        os_version: field(text, "os_version").to_owned(),
        kernel: field(text, "kernel").to_owned(),
        architecture: architecture(field(text, "machine")),
        cpus: field(text, "cpus").parse().unwrap_or(0),
        memory_mb: field(text, "mem_kb").parse::<u64>().unwrap_or(0) / 1024,
        addresses,
        time_offset_ms: 0,
        container_runtime: optional("containerd").map(|v| format!("containerd {v}")),
        kubelet_version: optional("kubelet").map(|v| v.trim_start_matches('v').to_owned()),
        host_key_fingerprint: String::new(),
        swap_devices: field(text, "swap").parse().unwrap_or(0),
        modules: words("modules"),
        listening_ports,
    }
}

/// Kubernetes' (Go's) architecture names.
fn architecture(machine: &str) -> String {
    match machine {
        "x86_64" | "AMD64" | "amd64" => "amd64".into(),
        "aarch64" | "ARM64" | "arm64" => "arm64".into(),
        "armv7l" => "arm".into(),
        other => other.to_lowercase(),
    }
}

impl Report {
    /// The facts as attributes of a `host` or `host_facts` object.
    pub(crate) fn insert_into(&self, object: &mut BTreeMap<String, Value>) {
        let text = |s: &str| Value::from(s);
        let number = |n: i64| Value::Number(n.into());
        object.insert("hostname".into(), text(&self.hostname));
        object.insert("os_id".into(), text(&self.os_id));
        object.insert("os_version".into(), text(&self.os_version));
        object.insert("kernel".into(), text(&self.kernel));
        object.insert("architecture".into(), text(&self.architecture));
        object.insert("cpus".into(), number(self.cpus as i64));
        object.insert("memory_mb".into(), number(self.memory_mb as i64));
        object.insert(
            "addresses".into(),
            Value::List(self.addresses.iter().map(|a| text(a)).collect()),
        );
        object.insert("time_offset_ms".into(), number(self.time_offset_ms));
        object.insert(
            "container_runtime".into(),
            self.container_runtime.as_deref().map_or(Value::Null, text),
        );
        object.insert(
            "kubelet_version".into(),
            self.kubelet_version.as_deref().map_or(Value::Null, text),
        );
        object.insert(
            "host_key_fingerprint".into(),
            text(&self.host_key_fingerprint),
        );
    }
}

/// The names of the facts, for marking them unknown in plans.
pub(crate) const NAMES: [&str; 12] = [
    "hostname",
    "os_id",
    "os_version",
    "kernel",
    "architecture",
    "cpus",
    "memory_mb",
    "addresses",
    "time_offset_ms",
    "container_runtime",
    "kubelet_version",
    "host_key_fingerprint",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_reading_within_tolerance_keeps_the_recorded_offset() {
        let reading = |ms| Report {
            time_offset_ms: ms,
            ..Report::default()
        };
        let mut near = reading(1000);
        near.keep_offset_within_tolerance(Some(0));
        assert_eq!(near.time_offset_ms, 0, "a one-second flip is noise");
        let mut far = reading(5000);
        far.keep_offset_within_tolerance(Some(0));
        assert_eq!(far.time_offset_ms, 5000, "a clock that moved is reported");
        let mut first = reading(1000);
        first.keep_offset_within_tolerance(None);
        assert_eq!(first.time_offset_ms, 1000, "nothing recorded yet");
    }

    #[test]
    fn parses_a_linux_report() {
        let r = parse(
            "hostname=node1\nos_id=debian\nos_version=12\nkernel=6.1.0\nmachine=x86_64\ncpus=2\n\
             mem_kb=2048000\naddresses=169.254.100.3 10.0.0.1 \ncontainerd=1.6.20~ds1\n\
             kubelet=v1.31.2\nswap=0\nmodules=overlay br_netfilter\nlistening_hex=0016 1A0B\ntime_ns=1\n",
        );
        assert_eq!(r.hostname, "node1");
        assert_eq!(r.architecture, "amd64");
        assert_eq!((r.cpus, r.memory_mb), (2, 2000));
        assert_eq!(r.addresses, ["10.0.0.1", "169.254.100.3"]);
        assert_eq!(
            r.container_runtime.as_deref(),
            Some("containerd 1.6.20~ds1")
        );
        assert_eq!(r.kubelet_version.as_deref(), Some("1.31.2"));
        assert_eq!(r.listening_ports, [22, 6667]);
        assert_eq!(r.modules, ["overlay", "br_netfilter"]);
    }

    #[test]
    fn missing_runtime_and_kubelet_are_null() {
        let r = parse("hostname=x\ncontainerd=\nkubelet=\n");
        let mut object = BTreeMap::new();
        r.insert_into(&mut object);
        assert_eq!(object["container_runtime"], Value::Null);
        assert_eq!(object["kubelet_version"], Value::Null);
        assert_eq!(object.len(), NAMES.len());
        assert!(NAMES.iter().all(|n| object.contains_key(*n)));
    }
}
