#!/usr/bin/env bash
# Installs the pinned s3rver (tests/s3rver/package-lock.json) into the project-local, git-ignored
# .cache/s3rver/, once: the S3 tests start it themselves (tests/s3rver/start.js). Without node or
# npm it says why and exits 0; the S3 tests then skip with the same reason.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dest=$root/.cache/s3rver
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "s3rver: skipped: node and npm are not installed (Debian: nodejs npm)"
    exit 0
fi
if [[ -f "$dest/node_modules/s3rver/package.json" ]] && cmp -s "$here/package-lock.json" "$dest/package-lock.json"; then
    exit 0
fi
mkdir -p "$dest"
cp "$here/package.json" "$here/package-lock.json" "$dest/"
echo "s3rver: installing the pinned s3rver into $dest" >&2
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
