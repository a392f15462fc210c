#!/usr/bin/env bash
# promtool.sh prints the path of promtool, which checks and unit-tests the
# chart's alerting rules (test/monitoring). It is built from the Go module
# proxy on first use (Prometheus v3.16, whose Go module is v0.316.0) and
# cached per version, beside helm (hack/tools/helm.sh). The tag
# remove_all_sd leaves out the service discoveries (cloud SDKs) that rule
# checks and tests never use, which would triple the build.
set -euo pipefail
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-tags=remove_all_sd"
exec "$(dirname "$0")/go-tool.sh" promtool "${PROMTOOL_VERSION:-v0.316.0}" github.com/prometheus/prometheus/cmd/promtool "5 minutes"
