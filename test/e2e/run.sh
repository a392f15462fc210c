#!/usr/bin/env bash
# run.sh is `make e2e` (and the last step of `make test`): it provisions a
# real single-node Kubernetes and runs the scenarios of test/e2e on it.
#   - Debian packages (containerd, runc, CNI plugins, iptables, conntrack,
#     socat, etcd) with apt-get when missing: hack/tools/node-deps.sh;
#   - kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
#     kube-proxy and kubectl v1.35.4, version-stamped, built from the Go
#     module proxy and cached: hack/tools/kube-node.sh;
#   - helm: hack/tools/helm.sh; the images: make image (bin/images).
# It needs root on Linux; elsewhere it says why it skips, and under
# CI=true it fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/../.."

skip() {
  echo "e2e: skipped: $*"
  if [ "${CI:-}" = true ]; then
    echo "e2e: CI=true does not allow a skip" >&2
    exit 1
  fi
  exit 0
}
[ "$(uname -s)" = Linux ] || skip "a real cluster needs Linux (kubelet, containerd, cgroups)"
[ "$(id -u)" = 0 ] || skip "a real cluster needs root (kubelet, containerd, a bridge, iptables)"
hack/tools/node-deps.sh
# The images of this commit: baton, batchjob, pause (containerd's sandbox
# image), redis and busybox, as docker archives under bin/images.
"${MAKE:-make}" --no-print-directory image >/dev/null
KUBE_NODE_ASSETS=$(hack/tools/kube-node.sh)
HELM=$(hack/tools/helm.sh)
export KUBE_NODE_ASSETS HELM BATON_E2E=1 BATON_E2E_IMAGES="$PWD/bin/images"
# No -race: the cluster, not the test process, is what is under test. The
# e2e's own budget (-e2e.budget) ends it, and tears the cluster down, well
# before go test's -timeout would kill it without a teardown.
exec go test -count=1 -timeout "${E2E_TIMEOUT:-20m}" -v -run 'TestE2E$' ./test/e2e \
  -e2e.budget="${E2E_BUDGET:-15m}" ${E2E_LOG_DIR:+-e2e.log-dir="$E2E_LOG_DIR"}
