//! How a lab is described to what runs outside the test process: known_hosts and ssh_config
//! for the system client, lab.json for scripts, lab.auto.hcl for fleets; and tearing down
//! what a lab left behind when its process was killed before it could stop it.

use std::fmt::Write as _;
use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;

use serde_json::{Value, json};

use super::{Lab, LabError, hosts};

/// The prefix of every lab's temp dir; [`reap`] removes no other directory.
pub const TEMP_PREFIX: &str = "fleetform-lab-";
/// The known_hosts file in the lab's temp dir.
pub const KNOWN_HOSTS: &str = "known_hosts";
/// The ssh_config file in the lab's temp dir.
pub const SSH_CONFIG: &str = "ssh_config";

fn write(path: &Path, text: &str) -> Result<(), LabError> {
    fs::write(path, text).map_err(|e| LabError::new(format!("{}: {e}", path.display())))
}

/// A path as an ssh_config argument: quoted (temp dirs may contain spaces) and with `%`
/// doubled, since IdentityFile and UserKnownHostsFile expand `%` tokens.
fn ssh_path(p: &Path) -> Result<String, LabError> {
    let s = p
        .to_str()
        .filter(|s| !s.contains(['"', '\n', '\r']))
        .ok_or_else(|| LabError::new(format!("unusable path for ssh_config: {}", p.display())))?;
    Ok(format!("\"{}\"", s.replace('%', "%%")))
}

pub fn write_ssh_files(lab: &Lab) -> Result<(), LabError> {
    let known: String = lab
        .hosts
        .iter()
        .map(|h| h.known_hosts_line() + "\n")
        .collect();
    write(&lab.known_hosts(), &known)?;
    let mut config = String::new();
    for h in &lab.hosts {
        let _ = writeln!(config, "Host {}", h.name);
        let _ = writeln!(config, "  HostName {}", h.address);
        let _ = writeln!(config, "  Port {}", h.port);
        if h.private
            && let Some(jump) = lab.jump_host()
        {
            let _ = writeln!(config, "  ProxyJump {}", jump.name);
        }
        config.push('\n');
    }
    let _ = write!(
        config,
        "Host *\n  \
           User root\n  \
           IdentityFile {}\n  \
           IdentitiesOnly yes\n  \
           UserKnownHostsFile {}\n  \
           GlobalKnownHostsFile /dev/null\n  \
           StrictHostKeyChecking yes\n  \
           BatchMode yes\n  \
           ConnectTimeout 5\n  \
           LogLevel ERROR\n",
        ssh_path(lab.client_key())?,
        ssh_path(&lab.known_hosts())?,
    );
    write(&lab.ssh_config(), &config)
}

/// An HCL quoted string: the escapes of JSON, plus doubled `$` and `%` before `{` so that
/// no value turns into a template.
fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Lab {
    /// Describes the lab for scripts (`fleetform-lab up` writes it as lab.json): every
    /// host with what a client needs to pin and reach it, the client key, the ssh files,
    /// the jump host, and the names [`reap`] needs should the lab's process die.
    pub fn to_json(&self) -> Value {
        let hosts: Vec<Value> = self
            .hosts
            .iter()
            .map(|h| {
                json!({
                    "name": h.name,
                    "address": h.address.to_string(),
                    "port": h.port,
                    "host_key": h.host_key,
                    "fingerprint": h.fingerprint,
                    "private": h.private,
                    "netns": h.netns,
                    "veth": h.veth,
                })
            })
            .collect();
        json!({
            "client_key": self.client_key().display().to_string(),
            "known_hosts": self.known_hosts().display().to_string(),
            "ssh_config": self.ssh_config().display().to_string(),
            "jump": self.jump_host().map(|h| h.name.clone()),
            "hosts": hosts,
            "dir": self.dir().display().to_string(),
            "bridge": self.bridge,
            "virtual_ips": self.virtual_ips().iter().map(ToString::to_string).collect::<Vec<_>>(),
        })
    }

    /// The declaration of the `lab` variable that [`Lab::to_hcl`] gives a value for, for
    /// test fleets that read lab.auto.hcl.
    pub const VARIABLE: &'static str = r#"
variable "lab" {
  type = object({
    client_key  = string
    hosts       = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump        = string
    virtual_ips = optional(list(string), [])
  })
}
"#;

    /// The value of a fleet's `lab` variable, as a variable file (`fleetform-lab up` writes
    /// it as lab.auto.hcl), formatted as `fleetform fmt` would:
    ///
    /// ```hcl
    /// lab = {
    ///   client_key = "/tmp/fleetform-lab-.../client_key"
    ///   hosts = {
    ///     "lab-1" = {
    ///       address  = "169.254.100.11"
    ///       port     = 22
    ///       host_key = "ssh-ed25519 AAAA... lab-1"
    ///       private  = false
    ///     }
    ///   }
    ///   jump = null
    /// }
    /// ```
    pub fn to_hcl(&self) -> String {
        self.to_hcl_with("")
    }

    /// [`Lab::to_hcl`] with more attributes of the `lab` object (lines such as the lab's
    /// Azure, `  azure = { ... }\n`).
    pub fn to_hcl_with(&self, extra: &str) -> String {
        let mut out = String::from("lab = {\n");
        let _ = writeln!(
            out,
            "  client_key = {}",
            hcl_string(&self.client_key().display().to_string())
        );
        out.push_str("  hosts = {\n");
        for h in &self.hosts {
            let _ = writeln!(out, "    {} = {{", hcl_string(&h.name));
            let _ = writeln!(
                out,
                "      address  = {}",
                hcl_string(&h.address.to_string())
            );
            let _ = writeln!(out, "      port     = {}", h.port);
            let _ = writeln!(out, "      host_key = {}", hcl_string(&h.host_key));
            let _ = writeln!(out, "      private  = {}", h.private);
            out.push_str("    }\n");
        }
        out.push_str("  }\n");
        let jump = self
            .jump_host()
            .map_or_else(|| "null".to_owned(), |h| hcl_string(&h.name));
        let _ = writeln!(out, "  jump = {jump}");
        // Only when leased: fleets that declare `lab` without it stay as they are.
        if !self.virtual_ips().is_empty() {
            let ips: Vec<String> = self
                .virtual_ips()
                .iter()
                .map(|ip| hcl_string(&ip.to_string()))
                .collect();
            let _ = writeln!(out, "  virtual_ips = [{}]", ips.join(", "));
        }
        out.push_str(extra);
        out.push_str("}\n");
        out
    }
}

/// Takes host `name` of the running lab that `record` ([`Lab::to_json`]) describes off the
/// network (`up = false`) or puts it back, as [`Lab::cut`] and [`Lab::heal`] do: for
/// scripts, through `fleetform-lab cut|heal`.
pub fn set_link_of(record: &Value, name: &str, up: bool) -> Result<(), LabError> {
    let host = record["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["name"] == name)
        .ok_or_else(|| LabError::new(format!("the lab has no host {name:?}")))?;
    let veth = host["veth"]
        .as_str()
        .filter(|v| {
            v.strip_prefix("ffv")
                .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        })
        .ok_or_else(|| LabError::new(format!("lab record: no usable veth for {name:?}")))?;
    hosts::set_link(veth, up)
}

/// Tears down what the lab that `record` ([`Lab::to_json`]) describes left behind when its
/// process died without stopping it: processes in its namespaces, the namespaces, veths,
/// private hosts' routes, the bridge and the temp dir. Only names of the lab's own forms
/// are touched, since the record is a file anyone could have edited; a private host's
/// route is kept when a live lab has leased its address since. Harmless on a lab that
/// is already gone.
pub fn reap(record: &Value) -> Result<(), LabError> {
    let field = |v: &Value, key: &str, prefix: &str| -> Result<String, LabError> {
        v.get(key)
            .and_then(Value::as_str)
            .filter(|s| {
                s.starts_with(prefix)
                    && s[prefix.len()..]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            .map(str::to_owned)
            .ok_or_else(|| LabError::new(format!("lab record: no usable {key:?} in {v}")))
    };
    let mut problem = None;
    for h in record["hosts"].as_array().into_iter().flatten() {
        let (netns, veth) = (field(h, "netns", "fflab-")?, field(h, "veth", "ffv")?);
        if let Err(e) = hosts::teardown_host(None, &netns, &veth) {
            problem.get_or_insert(e);
        }
        if h["private"] == true {
            let addr: Ipv4Addr = h["address"]
                .as_str()
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| LabError::new(format!("lab record: no usable address in {h}")))?;
            if hosts::lease_holder(addr).is_none()
                && let Err(e) = hosts::remove_private_route(addr)
            {
                problem.get_or_insert(e);
            }
        }
    }
    if let Err(e) = hosts::delete_bridge(&field(record, "bridge", "ffbr")?) {
        problem.get_or_insert(e);
    }
    if let Some(dir) = record["dir"].as_str().map(Path::new)
        && dir.is_absolute()
        && dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(TEMP_PREFIX))
        && dir.exists()
        && let Err(e) = fs::remove_dir_all(dir)
    {
        problem.get_or_insert(LabError::new(format!("{}: {e}", dir.display())));
    }
    problem.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::hcl_string;

    #[test]
    fn hcl_strings_never_become_templates() {
        assert_eq!(hcl_string("a b"), r#""a b""#);
        assert_eq!(hcl_string(r#"q"\"#), r#""q\"\\""#);
        assert_eq!(hcl_string("${x} %{if} $ %"), r#""$${x} %%{if} $ %""#);
        assert_eq!(hcl_string("l1\nl2\u{1}"), r#""l1\nl2\u0001""#);
    }
}
