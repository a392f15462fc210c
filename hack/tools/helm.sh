#!/usr/bin/env bash
# helm.sh prints the path of the helm CLI, building it from the Go module
# proxy on first use and caching it per version.
set -euo pipefail
HELM_VERSION=${HELM_VERSION:-v3.22.0}
CACHE=${BATON_TOOLS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/baton/tools}
bin="$CACHE/helm-$HELM_VERSION/helm"
if [ ! -x "$bin" ]; then
  echo "helm.sh: building helm $HELM_VERSION from the module proxy (about 5 minutes)" >&2
  mkdir -p "$(dirname "$bin")"
  GOBIN="$(dirname "$bin")" CGO_ENABLED=0 go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
fi
echo "$bin"
