#!/usr/bin/env bash
# kube-assets.sh prints a directory holding kube-apiserver, etcd and kubectl
# for controller-runtime's envtest (KUBEBUILDER_ASSETS), provisioning it on
# first use and caching it per version:
#   1. setup-envtest, where it can download its release archives;
#   2. otherwise kube-apiserver and kubectl built from the Go module proxy
#      (k8s.io/kubernetes with each staging module replaced by its published
#      version) plus Debian's etcd-server (installed with apt-get as root).
#   0. before both, the stamped binaries of hack/tools/kube-node.sh when
#      they are cached already.
# Progress goes to stderr; only the directory goes to stdout.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.35.4}
STAGING_VERSION=${STAGING_VERSION:-0.${K8S_VERSION#1.}}
CACHE=${BATON_TOOLS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/baton/tools}
dir="$CACHE/kube-$K8S_VERSION"
log() { echo "kube-assets: $*" >&2; }

complete() { [ -x "$dir/kube-apiserver" ] && [ -x "$dir/etcd" ] && [ -x "$dir/kubectl" ]; }
if complete; then echo "$dir"; exit 0; fi
mkdir -p "$dir"

# 0. The version-stamped build of hack/tools/kube-node.sh (the real-cluster
#    e2e), when it is there already: the same sources, linked once.
node="$CACHE/kube-node-$K8S_VERSION"
if [ -x "$node/kube-apiserver" ] && [ -x "$node/kubectl" ] && [ -x "$node/etcd" ]; then
  for b in kube-apiserver etcd kubectl; do ln -sf "$node/$b" "$dir/$b"; done
  complete && { echo "$dir"; exit 0; }
fi

# 1. setup-envtest (needs GitHub; this fails fast where only the module
#    proxy is reachable).
if [ -z "${BATON_SKIP_SETUP_ENVTEST:-}" ]; then
  log "trying setup-envtest for $K8S_VERSION"
  if out=$(timeout 120 go run sigs.k8s.io/controller-runtime/tools/setup-envtest@release-0.22 \
        use "$K8S_VERSION" --bin-dir "$CACHE/setup-envtest" -p path 2>/dev/null) && [ -n "$out" ] && [ -x "$out/kube-apiserver" ]; then
    for b in kube-apiserver etcd kubectl; do ln -sf "$out/$b" "$dir/$b"; done
    complete && { echo "$dir"; exit 0; }
  fi
  log "setup-envtest could not download; building from the Go module proxy instead"
fi

# 2a. etcd from Debian.
if ! command -v etcd >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing etcd-server with apt-get"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
  else
    log "etcd is missing: install etcd-server (Debian) or run as root"; exit 1
  fi
fi
ln -sf "$(command -v etcd)" "$dir/etcd"

# 2b. kube-apiserver and kubectl from the module proxy.
if [ ! -x "$dir/kube-apiserver" ] || [ ! -x "$dir/kubectl" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  log "building kube-apiserver and kubectl v$K8S_VERSION (about 10 minutes on 2 cores)"
  gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module baton.dev/kube-assets"
    echo
    echo "go 1.25"
    echo
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo
    grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" \
      | awk -v v="v$STAGING_VERSION" '{print "replace " $1 " => " $1 " " v}'
  } > "$work/go.mod"
  printf 'package main\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n\t_ "k8s.io/kubernetes/cmd/kubectl"\n)\n\nfunc main() {}\n' > "$work/main.go"
  (
    cd "$work"
    GOFLAGS=-mod=mod go mod tidy >&2 2>&1 || true
    GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$dir/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2
    GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$dir/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl >&2
  )
  mv "$dir/kube-apiserver.tmp" "$dir/kube-apiserver"
  mv "$dir/kubectl.tmp" "$dir/kubectl"
fi
complete || { log "incomplete assets in $dir"; exit 1; }
echo "$dir"
