#!/usr/bin/env bash
# Install the pinned MCP Inspector CLI into this folder (idempotent; `npm ci` from the lock).
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null || { echo "inspector/install.sh: npm not found; install Node.js 20+ (apt-get install -y nodejs npm)" >&2; exit 1; }
stamp=node_modules/.package-lock.json
if [[ -f "$stamp" && "$stamp" -nt package-lock.json ]]; then exit 0; fi
npm ci --no-audit --no-fund --loglevel=error
