#!/usr/bin/env bash
# The main job: builds fleetform, validates the clinic fleet and draws its dependency
# graph (clinic-fleet.svg), then plans and applies the hosts, files and commands of
# examples/lab-hosts against the local lab (real OpenSSH hosts, one behind a jump host).
# The clinic fleet itself plans and applies against the lab once the cluster provider
# bootstraps clusters.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cargo build --quiet --manifest-path "$root/Cargo.toml" -p fleetform
fleetform="$root/target/debug/fleetform"

"$fleetform" -chdir="$here" validate
"$fleetform" -chdir="$here" graph > "$here/clinic-fleet.dot"
if command -v dot >/dev/null 2>&1; then
  dot -Tsvg "$here/clinic-fleet.dot" > "$here/clinic-fleet.svg"
  echo "Dependency graph: $here/clinic-fleet.svg"
else
  echo "Dependency graph (DOT): $here/clinic-fleet.dot (install graphviz to render it)"
fi

"$root/examples/lab-hosts/run.sh"
