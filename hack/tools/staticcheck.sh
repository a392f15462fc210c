#!/usr/bin/env bash
# staticcheck.sh prints the path of staticcheck (honnef.co/go/tools), built
# from the Go module proxy on first use and cached per version.
set -euo pipefail
exec "$(dirname "$0")/go-tool.sh" staticcheck "${STATICCHECK_VERSION:-v0.8.2}" honnef.co/go/tools/cmd/staticcheck "1 minute"
