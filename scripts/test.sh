#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing, builds, runs `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh
# Every Swift snippet of the DocC articles must be in a DocumentationSnippetTests.swift (milliseconds; the DocC
# build itself is scripts/docs.sh, not part of this run).
python3 scripts/check-doc-snippets.py
swift build --build-tests
swift test "$@"
# CI also fuzzes for about a minute (scripts/fuzz.sh), after the test summary so that it stays in the log.
if [[ "${CI:-}" == true ]]; then
    scripts/fuzz.sh
fi
