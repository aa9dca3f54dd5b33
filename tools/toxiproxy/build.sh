#!/usr/bin/env bash
# Build the pinned Toxiproxy server (the TCP fault proxy of the real-backend fault test) into
# .cache/toxiproxy/<version>/bin/toxiproxy-server, only when it is missing.
#
# usage: tools/toxiproxy/build.sh [OUTPUT_ROOT]   (default: <repo>/.cache/toxiproxy)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(cat "$here/VERSION")
out_root=${1:-$here/../../.cache/toxiproxy}
bin="$out_root/$version/bin"
if [ -x "$bin/toxiproxy-server" ]; then
  echo "make toxiproxy: Toxiproxy $version already built in $bin"
  exit 0
fi
command -v go >/dev/null || { echo "make toxiproxy: step 'find Go' failed: no 'go' on PATH" >&2; exit 1; }
mkdir -p "$bin"
cd "$here"
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
target=github.com/Shopify/toxiproxy/v2/cmd/server
if ! go build -trimpath -ldflags "-s -w -X github.com/Shopify/toxiproxy/v2.Version=$version" \
    -o "$bin/toxiproxy-server.tmp" "$target" 2>"$bin/build.log"; then
  rm -f "$bin/toxiproxy-server.tmp"
  echo "make toxiproxy: step 'go build $target' failed: $(tail -n 1 "$bin/build.log") (all of it in $bin/build.log)" >&2
  exit 1
fi
rm -f "$bin/build.log"
mv "$bin/toxiproxy-server.tmp" "$bin/toxiproxy-server"
echo "make toxiproxy: built toxiproxy-server $version into $bin"
