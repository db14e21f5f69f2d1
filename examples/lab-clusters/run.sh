#!/usr/bin/env bash
# Brings up the local lab (five real OpenSSH hosts with node agents, and a virtual IP),
# then fills the offline source mirror, initializes, plans and applies the datacenter and
# clinic clusters with their add-ons, lists their nodes and add-ons with kubectl and the
# admin kubeconfigs fleetform outputs, shows that a second plan has nothing to do,
# destroys them and stops the lab. Needs root (network namespaces) and kubectl.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cargo build --quiet --manifest-path "$root/Cargo.toml" -p fleetform -p fleetform-tests --bins
fleetform="$root/target/debug/fleetform"
lab="$root/target/debug/fleetform-lab"

labdir="$(mktemp -d)"
scratch="$(mktemp -d)"
cleanup() {
  "$lab" down --dir "$labdir" >/dev/null 2>&1 || true
  rm -rf "$labdir" "$scratch"
}
trap cleanup EXIT
"$lab" up --hosts 5 --virtual-ips 1 --dir "$labdir" >"$labdir.log" 2>&1 &
for _ in $(seq 100); do
  [ -e "$labdir/lab.json" ] && break
  sleep 0.1
done
[ -e "$labdir/lab.json" ] || { cat "$labdir.log"; exit 1; }

# The fleet, the modules it uses and the lab's variables in a scratch directory, so that
# state stays there.
work="$scratch/examples/lab-clusters"
mkdir -p "$work" "$scratch/examples/clinic-fleet"
cp "$here"/main.hcl "$work"/
cp -r "$root/modules" "$scratch"/
cp -r "$root/examples/clinic-fleet/lab-sources" "$scratch/examples/clinic-fleet"/
cp "$labdir/lab.auto.hcl" "$work"/
# The offline source mirror, laid out by sha256 (from ../shared/mirror's release files).
shared="${FLEETFORM_SHARED:-$root/../shared}"
mkdir -p "$work/.mirror/sha256"
metallb="$shared/mirror/metallb/v0.16.1/metallb-native.yaml"
cp "$metallb" "$work/.mirror/sha256/$(sha256sum "$metallb" | cut -d' ' -f1)"
"$fleetform" -chdir="$work" init -input=false
"$fleetform" -chdir="$work" plan -out=tfplan
"$fleetform" -chdir="$work" apply tfplan
for cluster in datacenter clinic; do
  "$fleetform" -chdir="$work" output -raw "${cluster}_kubeconfig" > "$work/$cluster.conf"
  echo "--- kubectl get nodes ($cluster):"
  kubectl --kubeconfig "$work/$cluster.conf" get nodes -o wide
  echo "--- add-ons ($cluster):"
  kubectl --kubeconfig "$work/$cluster.conf" get daemonsets,deployments,services -A
  kubectl --kubeconfig "$work/$cluster.conf" get ipaddresspools.metallb.io,clusterissuers.cert-manager.io -A
done
echo "--- a second plan changes nothing:"
"$fleetform" -chdir="$work" plan -detailed-exitcode
"$fleetform" -chdir="$work" destroy -auto-approve
