#!/usr/bin/env bash
# node-deps.sh installs, with apt-get as root, the Debian packages a real
# single-node cluster needs when any of them is missing: containerd, runc,
# the CNI plugins (bridge, host-local, loopback under /usr/lib/cni),
# iptables, conntrack and socat (kubectl port-forward), and etcd-server.
# Without root or apt-get it names what is missing and fails.
set -euo pipefail
log() { echo "node-deps: $*" >&2; }

missing=()
have() { command -v "$1" >/dev/null 2>&1; }
have containerd || missing+=(containerd)
have runc || missing+=(runc)
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/loopback ] \
  || missing+=(containernetworking-plugins)
have iptables || missing+=(iptables)
have conntrack || missing+=(conntrack)
have socat || missing+=(socat)
have etcd || missing+=(etcd-server)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && have apt-get; then
  log "installing ${missing[*]} with apt-get"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts containerd as a service on install; the e2e runs its own
  # containerd with its own state and socket, so the packaged one is left
  # as the administrator configured it.
else
  log "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]}) or run as root"
  exit 1
fi
