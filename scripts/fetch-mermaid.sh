#!/usr/bin/env bash
# Fetch Mermaid's browser script into FILE (scripts/docs.sh passes
# docs/assets/javascripts/mermaid.min.js), so the built site draws its diagrams offline.
# Usage: bash scripts/fetch-mermaid.sh FILE
#
# It comes from the npm registry through `npm pack` (npm's cache first). This never fails
# its caller and never stalls it: without npm, offline with nothing cached, or after
# CONSIST_NPM_TIMEOUT seconds (default 120) it prints a note and the site loads the
# script from a CDN when viewed online instead.
set -uo pipefail

script="$1"
[ -s "$script" ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
    echo "note: npm not found; Mermaid diagrams will load their script from a CDN" >&2
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if (cd "$tmp" && timeout "${CONSIST_NPM_TIMEOUT:-120}" npm pack --silent --prefer-offline --fetch-retries=1 \
        --fetch-timeout=20000 mermaid@11 >/dev/null && tar -xzf mermaid-*.tgz package/dist/mermaid.min.js) 2>/dev/null; then
    mkdir -p "$(dirname "$script")"
    cp "$tmp/package/dist/mermaid.min.js" "$script"
else
    echo "note: Mermaid's script could not be fetched (offline?); diagrams will load it from a CDN" >&2
fi
exit 0
