#!/usr/bin/env bash
# The main job: builds fleetform, validates the clinic fleet and draws its dependency
# graph (clinic-fleet.svg), then runs against the local lab (real OpenSSH hosts, real
# etcd, the lab's node agents and API server):
# - examples/lab-hosts: hosts, files and commands, one host behind a jump host;
# - examples/lab-clusters: a three-control-plane datacenter cluster with node pools and a
#   single-host clinic cluster, bootstrapped, listed with kubectl, destroyed.
# The whole clinic fleet (Azure Arc, add-ons) applies against the lab once those
# providers are built.
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
"$root/examples/lab-clusters/run.sh"
