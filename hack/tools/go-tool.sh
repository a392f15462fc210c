#!/usr/bin/env bash
# go-tool.sh NAME VERSION PACKAGE MINUTES prints the path of a Go tool,
# building it from the Go module proxy on first use and caching it per
# version under ${BATON_TOOLS_CACHE:-~/.cache/baton/tools}/NAME-VERSION/.
# MINUTES is only what the first build is announced to take.
set -euo pipefail
name=$1 version=$2 pkg=$3 minutes=$4
CACHE=${BATON_TOOLS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/baton/tools}
bin="$CACHE/$name-$version/$(basename "${pkg%@*}")"
if [ ! -x "$bin" ]; then
  echo "$name: building $version from the module proxy (about $minutes)" >&2
  mkdir -p "$(dirname "$bin")"
  GOBIN="$(dirname "$bin")" CGO_ENABLED=0 go install "$pkg@$version" >&2
fi
echo "$bin"
