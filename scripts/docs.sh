#!/usr/bin/env bash
# The documentation site: `bash scripts/docs.sh build` writes it to site/ (strict: a broken
# link or API reference fails), `bash scripts/docs.sh serve` serves it at
# http://127.0.0.1:8000 and rebuilds on every edit.
#
# Mermaid diagrams are drawn in the browser by mermaid.min.js. scripts/fetch-mermaid.sh
# fetches it once from the npm registry (needs `npm`) into docs/assets/javascripts/, so the
# built site draws them offline too; without it the page loads the script from a CDN when
# online. Offline, or without npm, the build goes on after a note.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -e ".[docs]"

bash scripts/fetch-mermaid.sh docs/assets/javascripts/mermaid.min.js

export NO_MKDOCS_2_WARNING=1
case "${1:-build}" in
    build) python -m mkdocs build --strict ;;
    serve) python -m mkdocs serve --strict -a 127.0.0.1:8000 ;;
    *) echo "usage: bash scripts/docs.sh build|serve" >&2; exit 2 ;;
esac
