#!/usr/bin/env bash
# kube-assets.sh prints a directory holding kube-apiserver, etcd and kubectl
# for controller-runtime's envtest (KUBEBUILDER_ASSETS), provisioning it on
# first use and caching it per version:
#   1. setup-envtest, where it can download its release archives;
#   2. otherwise the version-stamped build of hack/tools/kube-node.sh (from
#      the Go module proxy, with Debian's etcd-server), which the real-cluster
#      e2e uses too: one build of the Kubernetes binaries per machine.
# Progress goes to stderr; only the directory goes to stdout.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.35.4}
CACHE=${BATON_TOOLS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/baton/tools}
dir="$CACHE/kube-$K8S_VERSION"
log() { echo "kube-assets: $*" >&2; }

complete() { [ -x "$dir/kube-apiserver" ] && [ -x "$dir/etcd" ] && [ -x "$dir/kubectl" ]; }
if complete; then echo "$dir"; exit 0; fi
mkdir -p "$dir"
link() { for b in kube-apiserver etcd kubectl; do ln -sf "$1/$b" "$dir/$b"; done; }

# 1. setup-envtest (needs GitHub; this fails fast where only the module
#    proxy is reachable).
if [ -z "${BATON_SKIP_SETUP_ENVTEST:-}" ]; then
  log "trying setup-envtest for $K8S_VERSION"
  if out=$(timeout 120 go run sigs.k8s.io/controller-runtime/tools/setup-envtest@release-0.22 \
        use "$K8S_VERSION" --bin-dir "$CACHE/setup-envtest" -p path 2>/dev/null) && [ -n "$out" ] && [ -x "$out/kube-apiserver" ]; then
    link "$out"
    complete && { echo "$dir"; exit 0; }
  fi
  log "setup-envtest could not download; building from the Go module proxy instead"
fi

# 2. The stamped build shared with the real-cluster e2e.
link "$(K8S_VERSION=$K8S_VERSION "$(dirname "$0")/kube-node.sh")"
complete || { log "incomplete assets in $dir"; exit 1; }
echo "$dir"
