#!/usr/bin/env bash
# The documentation site: `bash scripts/docs.sh build` writes it to site/ (strict: a broken
# link or API reference fails), `bash scripts/docs.sh serve` serves it at
# http://127.0.0.1:8000 and rebuilds on every edit.
#
# Mermaid diagrams are drawn in the browser by mermaid.min.js. It is fetched once from
# the npm registry (needs `npm`) into docs/assets/javascripts/, so the built site draws
# them offline too; without it the page loads the script from a CDN when online.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -e ".[docs]"

script=docs/assets/javascripts/mermaid.min.js
if [ ! -s "$script" ]; then
    if command -v npm >/dev/null 2>&1; then
        tmp=$(mktemp -d)
        (cd "$tmp" && npm pack --silent mermaid@11 >/dev/null && tar -xzf mermaid-*.tgz package/dist/mermaid.min.js)
        mkdir -p "$(dirname "$script")"
        cp "$tmp/package/dist/mermaid.min.js" "$script"
        rm -rf "$tmp"
    else
        echo "note: npm not found; Mermaid diagrams will load their script from a CDN" >&2
    fi
fi

export NO_MKDOCS_2_WARNING=1
case "${1:-build}" in
    build) python -m mkdocs build --strict ;;
    serve) python -m mkdocs serve --strict -a 127.0.0.1:8000 ;;
    *) echo "usage: bash scripts/docs.sh build|serve" >&2; exit 2 ;;
esac
