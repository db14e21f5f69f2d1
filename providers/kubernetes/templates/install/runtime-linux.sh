#!/bin/sh
# Installs containerd and the kubelet for Kubernetes, the way kubeadm's installation guide
# does on Debian and Ubuntu: kernel modules, sysctls, no swap, the pkgs.k8s.io repository of
# the Kubernetes minor, and the kubelet pinned (and held) at the exact version.
# Written by fleetform; hosts built from images with both already installed skip this step.
set -eu

K8S_VERSION={{ kubernetes_version | sh }}
K8S_MINOR=${K8S_VERSION%.*}

if ! command -v apt-get >/dev/null 2>&1; then
    echo "installing the container runtime needs apt-get (Debian or Ubuntu); install containerd and kubelet ${K8S_VERSION} on this host another way and turn install_runtime off" >&2
    exit 1
fi

# Pod networking needs overlayfs and bridged traffic to pass through iptables.
cat > /etc/modules-load.d/k8s.conf <<'MODULES'
overlay
br_netfilter
MODULES
modprobe overlay
modprobe br_netfilter

cat > /etc/sysctl.d/k8s.conf <<'SYSCTL'
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
SYSCTL
sysctl --system >/dev/null

# The kubelet refuses to start while swap is on (failSwapOn); keep it off after reboots too.
swapoff -a
sed -i -E 's@^([^#[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]].*)$@#\1@' /etc/fstab

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y apt-transport-https ca-certificates curl gpg

install -d -m 0755 /etc/apt/keyrings
curl -fsSL "https://pkgs.k8s.io/core:/stable:/v${K8S_MINOR}/deb/Release.key" \
    | gpg --batch --yes --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v${K8S_MINOR}/deb/ /" \
    > /etc/apt/sources.list.d/kubernetes.list
apt-get update

# pkgs.k8s.io names its packages VERSION-REVISION (e.g. 1.31.2-1.1): take the newest revision.
KUBELET_PACKAGE_VERSION=$(apt-cache madison kubelet \
    | awk -v want="${K8S_VERSION}-" '{ if (index($3, want) == 1) { print $3; exit } }')
if [ -z "$KUBELET_PACKAGE_VERSION" ]; then
    echo "kubelet ${K8S_VERSION} is not in the pkgs.k8s.io repository of v${K8S_MINOR}" >&2
    exit 1
fi

# A containerd already there (e.g. Docker's containerd.io package) stays: Debian's package
# would replace it.
if ! command -v containerd >/dev/null 2>&1; then
    apt-get install -y containerd
fi
apt-get install -y --allow-change-held-packages "kubelet=${KUBELET_PACKAGE_VERSION}"
# Upgrades are fleetform's to make: keep apt from moving the kubelet to another version.
apt-mark hold kubelet
