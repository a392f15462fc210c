#!/usr/bin/env bash
# helm-docs.sh prints the path of helm-docs, which writes the chart's
# README.md from charts/baton/README.md.gotmpl and the "# --" comments of
# values.yaml. It is built from the Go module proxy on first use and cached
# per version, beside helm (hack/tools/helm.sh).
set -euo pipefail
HELM_DOCS_VERSION=${HELM_DOCS_VERSION:-v1.14.2}
CACHE=${BATON_TOOLS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/baton/tools}
bin="$CACHE/helm-docs-$HELM_DOCS_VERSION/helm-docs"
if [ ! -x "$bin" ]; then
  echo "helm-docs.sh: building helm-docs $HELM_DOCS_VERSION from the module proxy (about 1 minute)" >&2
  mkdir -p "$(dirname "$bin")"
  GOBIN="$(dirname "$bin")" CGO_ENABLED=0 go install "github.com/norwoodj/helm-docs/cmd/helm-docs@$HELM_DOCS_VERSION" >&2
fi
echo "$bin"
