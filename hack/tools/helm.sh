#!/usr/bin/env bash
# helm.sh prints the path of the helm CLI, building it from the Go module
# proxy on first use and caching it per version.
set -euo pipefail
exec "$(dirname "$0")/go-tool.sh" helm "${HELM_VERSION:-v3.22.0}" helm.sh/helm/v3/cmd/helm "5 minutes"
