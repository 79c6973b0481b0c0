#!/usr/bin/env bash
# The demo, from a fresh Debian machine: installs what is missing, builds, starts an embedded mock broker,
# produces keyed records through the client and reads them back.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh
swift build --product demo
.build/debug/demo
