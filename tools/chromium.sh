#!/usr/bin/env bash
# Debian's chromium, for the HTML report's browser test (headless, no network). Installed with
# apt-get only when missing: no service is started, nothing else is changed.
set -euo pipefail
command -v chromium >/dev/null && exit 0
if ! apt-get install -y -qq --no-install-recommends chromium >/tmp/chromium-install.log 2>&1; then
    apt-get update -qq || { echo "apt-get update failed (it needs root)" >&2; exit 1; }
    apt-get install -y -qq --no-install-recommends chromium >/tmp/chromium-install.log 2>&1 \
        || { tail -5 /tmp/chromium-install.log >&2; exit 1; }
fi
echo "installed $(chromium --version)"
