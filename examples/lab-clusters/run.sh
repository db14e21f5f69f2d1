#!/usr/bin/env bash
# Brings up the local lab (five real OpenSSH hosts with node agents), then plans and
# applies the datacenter and clinic clusters on them, lists their nodes with kubectl and
# the admin kubeconfigs fleetform outputs, shows that a second plan has nothing to do,
# destroys them and stops the lab. Needs root (network namespaces) and kubectl.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cargo build --quiet --manifest-path "$root/Cargo.toml" -p fleetform -p fleetform-tests --bins
fleetform="$root/target/debug/fleetform"
lab="$root/target/debug/fleetform-lab"

labdir="$(mktemp -d)"
work="$(mktemp -d)"
cleanup() {
  "$lab" down --dir "$labdir" >/dev/null 2>&1 || true
  rm -rf "$labdir" "$work"
}
trap cleanup EXIT
"$lab" up --hosts 5 --dir "$labdir" >"$labdir.log" 2>&1 &
for _ in $(seq 100); do
  [ -e "$labdir/lab.json" ] && break
  sleep 0.1
done
[ -e "$labdir/lab.json" ] || { cat "$labdir.log"; exit 1; }

# The fleet and the lab's variables in a scratch directory, so state stays there.
cp "$here"/main.hcl "$work"/
cp "$labdir/lab.auto.hcl" "$work"/
"$fleetform" -chdir="$work" plan -out=tfplan
"$fleetform" -chdir="$work" apply tfplan
for cluster in datacenter clinic; do
  "$fleetform" -chdir="$work" output -raw "${cluster}_kubeconfig" > "$work/$cluster.conf"
  echo "--- kubectl get nodes ($cluster):"
  kubectl --kubeconfig "$work/$cluster.conf" get nodes -o wide
done
echo "--- a second plan changes nothing:"
"$fleetform" -chdir="$work" plan -detailed-exitcode
"$fleetform" -chdir="$work" destroy -auto-approve
