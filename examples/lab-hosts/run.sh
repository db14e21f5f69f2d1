#!/usr/bin/env bash
# Brings up the local lab (three real OpenSSH hosts, one of them only behind a jump host),
# then plans and applies this fleet against it, shows that a second plan has nothing to
# do, destroys it and stops the lab. Needs root (network namespaces).
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
"$lab" up --hosts 2 --private 1 --dir "$labdir" >"$labdir.log" 2>&1 &
for _ in $(seq 100); do
  [ -e "$labdir/lab.json" ] && break
  sleep 0.1
done
[ -e "$labdir/lab.json" ] || { cat "$labdir.log"; exit 1; }

# The fleet's files and the lab's variables in a scratch directory, so state stays there.
cp "$here"/main.hcl "$here"/containerd.toml.tftpl "$work"/
cp "$labdir/lab.auto.hcl" "$work"/
"$fleetform" -chdir="$work" plan -out=tfplan
"$fleetform" -chdir="$work" apply tfplan
echo "--- a second plan changes nothing:"
"$fleetform" -chdir="$work" plan -detailed-exitcode
"$fleetform" -chdir="$work" destroy -auto-approve
