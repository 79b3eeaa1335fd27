#!/usr/bin/env bash
# Headless Chromium for the picture tests (tests/integration/display), called by .ci/run.
# Installs it with apt-get when no Chromium or Chrome is on PATH and we are root. It never
# fails its caller: when apt-get fails, or has not finished after CONSIST_APT_TIMEOUT
# seconds (default 600: a slow mirror must not stall CI), the picture tests skip instead.
set -uo pipefail

for name in chromium chromium-browser google-chrome; do
    command -v "$name" >/dev/null 2>&1 && exit 0
done
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    echo "note: no Chromium, and no apt-get as root to install it; the picture tests will skip" >&2
    exit 0
fi
limit="${CONSIST_APT_TIMEOUT:-600}"
start=$SECONDS
if timeout "$limit" bash -c \
    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium' >/dev/null 2>&1; then
    echo "chromium installed in $((SECONDS - start)) s" >&2
else
    echo "warning: chromium could not be installed (apt-get failed or took over ${limit} s); the picture tests will skip" >&2
fi
exit 0
