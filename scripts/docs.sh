#!/usr/bin/env bash
# Builds the DocC documentation of every public module with swift-docc-plugin, warnings as errors (a broken
# ``Symbol`` link or a <doc:Article> that does not exist fails), after checking that every Swift snippet of the
# articles is in a DocumentationSnippetTests.swift that the test build compiles, and that every public setting
# has its row in the Configuration Reference and every client metric is named in Observability.
#
#   scripts/docs.sh                      # all catalogs; archives in .build/plugins/Swift-DocC/outputs/
#   scripts/docs.sh KafkaClient          # one catalog
#
# To read them in a browser: swift package --disable-sandbox preview-documentation --target KafkaClient
set -euo pipefail
cd "$(dirname "$0")/.."
python3 scripts/check-doc-snippets.py
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(KafkaClient KafkaProtocol KafkaCompression MockBroker)
fi
for target in "${targets[@]}"; do
    echo "== $target"
    swift package generate-documentation --target "$target" --warnings-as-errors
done
