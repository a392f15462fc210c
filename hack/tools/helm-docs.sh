#!/usr/bin/env bash
# helm-docs.sh prints the path of helm-docs, which writes the chart's
# README.md from charts/baton/README.md.gotmpl and the "# --" comments of
# values.yaml. It is built from the Go module proxy on first use and cached
# per version, beside helm (hack/tools/helm.sh).
set -euo pipefail
exec "$(dirname "$0")/go-tool.sh" helm-docs "${HELM_DOCS_VERSION:-v1.14.2}" github.com/norwoodj/helm-docs/cmd/helm-docs "1 minute"
