#!/usr/bin/env bash
# The main job: the clinic scenario on the local lab. Installs what a fresh machine lacks
# (as CI does), builds fleetform, validates the fleet and draws its dependency graph
# (clinic-fleet.svg), then brings up the lab (real OpenSSH hosts in network namespaces,
# the lab's node agents and API server) and runs the fleet in a scratch copy:
#  1. init from the offline source mirror; plan -out and apply the plan: the datacenter
#     and three clinics, each behind its own gateway, come up stage by stage (rollout.hcl),
#     each cluster with its add-ons, connected to the lab's Azure Arc with its extensions
#     and GitOps configuration;
#  2. the lakeside clinic loses its link while a Kubernetes patch release rolls out canary
#     first: the rest of the fleet is upgraded, lakeside's upgrade is deferred;
#  3. lakeside is back: the next apply finishes it, and a last plan has nothing to do;
#  4. `fleetform status` shows every site and cluster, and `fleetform ui` serves the same as
#     a page on 127.0.0.1 (run.sh prints where; from a terminal it waits for Enter);
# then stops the lab. Needs root (network namespaces).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# What a fresh machine lacks (packages, kubectl, ...), as CI installs it.
"$root/.ci/install-prerequisites"
cargo build --quiet --manifest-path "$root/Cargo.toml" -p fleetform -p fleetform-tests --bins
fleetform="$root/target/debug/fleetform"
lab="$root/target/debug/fleetform-lab"

"$fleetform" -chdir="$here" validate
"$fleetform" -chdir="$here" graph > "$here/clinic-fleet.dot"
if command -v dot >/dev/null 2>&1; then
  dot -Tsvg "$here/clinic-fleet.dot" > "$here/clinic-fleet.svg"
  echo "Dependency graph: $here/clinic-fleet.svg"
fi

shared="${FLEETFORM_SHARED:-$root/../shared}"
[ -d "$shared/mirror" ] || { echo "the shared folder is missing: $shared/mirror (set FLEETFORM_SHARED)" >&2; exit 1; }

labdir="$(mktemp -d)"
scratch="$(mktemp -d)"
cleanup() {
  "$lab" down --dir "$labdir" >/dev/null 2>&1 || true
  rm -rf "$labdir" "$scratch"
}
trap cleanup EXIT
echo "--- starting the lab: 7 hosts, 3 private clinic machines, 5 free addresses, its Azure"
"$lab" up --hosts 7 --private 3 --virtual-ips 5 --azure --dir "$labdir" >"$scratch/lab.log" 2>&1 &
for _ in $(seq 600); do
  [ -e "$labdir/lab.json" ] && break
  sleep 0.1
done
[ -e "$labdir/lab.json" ] || { cat "$scratch/lab.log"; exit 1; }

# The fleet and the modules it uses, side by side as in the repository, so that state and
# the working directory stay in the scratch copy.
mkdir -p "$scratch/examples"
cp -r "$here" "$scratch/examples/"
cp -r "$root/modules" "$scratch/"
work="$scratch/examples/clinic-fleet"
rm -rf "$work/.fleetform" "$work"/fleet.state*
cp "$labdir/lab.auto.hcl" "$work/"
# The offline mirror: every URL source laid out by sha256, as `fleetform sources mirror`
# writes one (here from ../shared/mirror); source_mirror points at it, so init downloads
# nothing.
mkdir -p "$work/.mirror/sha256"
metallb="$shared/mirror/metallb/v0.16.1/metallb-native.yaml"
cp "$metallb" "$work/.mirror/sha256/$(sha256sum "$metallb" | cut -d' ' -f1)"
ff() { "$fleetform" -chdir="$work" "$@"; }

echo "--- 1. the fleet comes up, stage by stage"
ff init -input=false
ff plan -input=false -out=fleet.plan
ff apply -input=false fleet.plan
ff output -raw datacenter_kubeconfig > "$work/datacenter.conf"
chmod 0600 "$work/datacenter.conf"
kubectl --kubeconfig "$work/datacenter.conf" get nodes -o wide

echo "--- 2. lakeside loses its link during a patch release"
"$lab" cut --dir "$labdir" lab-6
ff plan -input=false -var kubernetes_version=1.31.5 -out=release.plan
ff apply -input=false release.plan

echo "--- 3. lakeside is back: the next apply finishes its upgrade"
"$lab" heal --dir "$labdir" lab-6
ff plan -input=false -var kubernetes_version=1.31.5 -out=release.plan
ff apply -input=false release.plan
ff plan -input=false -var kubernetes_version=1.31.5 -detailed-exitcode
echo "--- done: every cluster runs 1.31.5"

echo "--- 4. the fleet's status"
ff status
ff ui >"$scratch/ui.log" 2>&1 &
ui=$!
for _ in $(seq 100); do
  grep -q "http://" "$scratch/ui.log" 2>/dev/null && break
  sleep 0.1
done
url="$(grep -o 'http://[^ ]*' "$scratch/ui.log" | head -1)"
echo "Status page: $url"
if [ -t 0 ]; then
  read -r -p "Open it in a browser on this machine; press Enter to stop the page and the lab. " _
fi
kill "$ui" 2>/dev/null || true
wait "$ui" 2>/dev/null || true
