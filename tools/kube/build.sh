#!/usr/bin/env bash
# Build the pinned real control plane (kube-apiserver, kube-controller-manager, kube-scheduler, etcd)
# into .cache/kube/<version>/bin/, only when a binary is missing. Prints how long it took.
#
# usage: tools/kube/build.sh [OUTPUT_ROOT]   (default: <repo>/.cache/kube)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(cat "$here/VERSION")
out_root=${1:-$here/../../.cache/kube}
bin="$out_root/$version/bin"
binaries=(kube-apiserver kube-controller-manager kube-scheduler etcd)

missing=()
for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ]; then
  echo "make kube: Kubernetes $version already built in $bin"
  exit 0
fi
command -v go >/dev/null || { echo "make kube: step 'find Go' failed: no 'go' on PATH (Go 1.26 or newer builds Kubernetes $version)" >&2; exit 1; }

minor=${version#v1.}; minor=${minor%%.*}
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"

mkdir -p "$bin"
start=$(date +%s)
echo "make kube: building ${missing[*]} (Kubernetes $version) into $bin; a cold build takes a while"
cd "$here"
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
for b in "${missing[@]}"; do
  case $b in
    etcd) target=go.etcd.io/etcd/server/v3 ;;
    *) target=k8s.io/kubernetes/cmd/$b ;;
  esac
  if ! go build -trimpath -ldflags "$ldflags" -o "$bin/$b.tmp" "$target"; then
    rm -f "$bin/$b.tmp"
    echo "make kube: step 'go build $target' failed (see the compiler output above)" >&2
    exit 1
  fi
  mv "$bin/$b.tmp" "$bin/$b"
done
echo "make kube: built ${missing[*]} in $(( $(date +%s) - start )) s"
