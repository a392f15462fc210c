#!/usr/bin/env bash
# kube-node.sh prints a directory holding a whole single-node Kubernetes,
# version-stamped: kube-apiserver, kube-controller-manager, kube-scheduler,
# kubelet, kube-proxy and kubectl (plus a link to Debian's etcd), built from
# the Go module proxy on first use and cached per version under
# ${BATON_TOOLS_CACHE:-~/.cache/baton/tools}/kube-node-VERSION/.
#
# It is also the fallback of kube-assets.sh (envtest). A wrapper module requires
# k8s.io/kubernetes and replaces each ./staging module by its published
# version, one `go build` per command so they share the build cache. It
# stamps the version (-ldflags -X on k8s.io/component-base/version and
# k8s.io/client-go/pkg/version); an unstamped binary reports
# v0.0.0-master+$Format:%H$, which reaches the node version and Helm's
# .Capabilities.KubeVersion.
#
# On 2 idle cores: kube-apiserver and kubectl about 10 minutes, then kubelet
# about 160 s, controller-manager about 100 s, scheduler and proxy about 12 s
# each; on busy cores up to three times as long. Progress goes to stderr; only the directory
# goes to stdout.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.35.4}
STAGING_VERSION=${STAGING_VERSION:-0.${K8S_VERSION#1.}}
CACHE=${BATON_TOOLS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/baton/tools}
dir="$CACHE/kube-node-$K8S_VERSION"
CMDS="kube-apiserver kubectl kube-scheduler kube-proxy kube-controller-manager kubelet"
log() { echo "kube-node: $*" >&2; }

complete() {
  local c
  for c in $CMDS etcd; do [ -x "$dir/$c" ] || return 1; done
}
if complete; then echo "$dir"; exit 0; fi
mkdir -p "$dir"

# etcd from Debian (etcd-server), installed with apt-get as root.
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

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
info=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION")
gomod=$(printf '%s\n' "$info" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
infofile=$(printf '%s\n' "$info" | sed -n 's/.*"Info": "\(.*\)".*/\1/p')
# The build date is the tag's time from the module proxy, so the same
# version always gets the same stamp. The proxy does not carry the git
# commit; an all-zero commit says so.
build_date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$infofile")
build_date=${build_date:-1970-01-01T00:00:00Z}
major=${K8S_VERSION%%.*}
minor=${K8S_VERSION#*.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags="$ldflags -X $pkg.gitCommit=0000000000000000000000000000000000000000 -X $pkg.gitTreeState=clean"
  ldflags="$ldflags -X $pkg.buildDate=$build_date"
done

{
  echo "module baton.dev/kube-node"
  echo
  echo "go 1.25"
  echo
  echo "require k8s.io/kubernetes v$K8S_VERSION"
  echo
  grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" \
    | awk -v v="v$STAGING_VERSION" '{print "replace " $1 " => " $1 " " v}'
} > "$work/go.mod"
{
  printf 'package main\n\nimport (\n'
  for c in $CMDS; do printf '\t_ "k8s.io/kubernetes/cmd/%s/app"\n' "$c"; done
  printf ')\n\nfunc main() {}\n'
} | sed 's#cmd/kubectl/app#cmd/kubectl#' > "$work/main.go"

cd "$work"
GOFLAGS=-mod=mod go mod tidy >&2 2>&1 || true
for c in $CMDS; do
  [ -x "$dir/$c" ] && continue
  log "building $c v$K8S_VERSION (stamped)"
  start=$(date +%s)
  GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$dir/$c.tmp" "k8s.io/kubernetes/cmd/$c" >&2
  mv "$dir/$c.tmp" "$dir/$c"
  log "$c built in $(( $(date +%s) - start )) s"
done
complete || { log "incomplete binaries in $dir"; exit 1; }
echo "$dir"
