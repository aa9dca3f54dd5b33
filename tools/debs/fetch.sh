#!/usr/bin/env bash
# Unpacks Debian's prometheus and prometheus-alertmanager packages into a cache folder of the
# repository (default .cache/debs), for the tests: nothing is installed, no service is started or
# stopped, no sudo. `apt-get update` runs only when the download fails for want of a package list.
set -euo pipefail
root=${1:-.cache/debs}
packages=(prometheus prometheus-alertmanager)
binaries=(prometheus promtool prometheus-alertmanager)
here=$(cd "$(dirname "$0")" && pwd)

present() {
    local binary
    for binary in "${binaries[@]}"; do [ -x "$root/usr/bin/$binary" ] || return 1; done
    [ -x "$root/relocated/alertmanager" ]
}
present && exit 0

mkdir -p "$root/archives"
cd "$root/archives"
rm -f ./*.deb
if ! apt-get download "${packages[@]}" >download.log 2>&1; then
    echo "apt-get download failed; refreshing the package lists once" >&2
    apt-get update -qq || { echo "apt-get update failed (it needs root): $(tail -3 download.log)" >&2; exit 1; }
    apt-get download "${packages[@]}" >download.log 2>&1 || { cat download.log >&2; exit 1; }
fi
for deb in ./*.deb; do
    dpkg-deb -x "$deb" ..
done
cd - >/dev/null
# Debian's alertmanager reads its templates from /usr/share/prometheus/alertmanager: a copy that
# reads them from its working directory instead (see relocate.py).
mkdir -p "$root/relocated"
python3 "$here/relocate.py" "$root/usr/bin/prometheus-alertmanager" "$root/relocated/alertmanager"
present || { echo "unpacked ${packages[*]} into $root, but some of ${binaries[*]} are missing" >&2; exit 1; }
echo "unpacked ${packages[*]} into $root/usr/bin"
