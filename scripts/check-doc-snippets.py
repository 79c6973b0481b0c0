#!/usr/bin/env python3
"""Checks that every Swift code block of the DocC articles is compiled.

Each ```swift block in Sources/*/Documentation.docc/*.md and MockBroker/Sources/*/Documentation.docc/*.md must
appear, line for line (ignoring indentation, blank lines, `import` lines and `@main`), in one of the
Tests/*/DocumentationSnippetTests.swift files, which the test build compiles. So a snippet that stops compiling
breaks the build, and a snippet edited in an article without its copy fails here.

Skipped: a block whose first line is a `// swift-tools-version` comment (a manifest), and one whose first line is
`// swift-kafka-client` (the other library's code, in the migration guide).
It also checks that every public `var` of ClientConfiguration, ProducerConfiguration and ConsumerConfiguration
has a row (a ``Type/name`` link) in the Configuration Reference article, and that every swift-metrics label the
client makes (`label: "kafka_..."`) is named in the Observability article.
Exit status 1 and a list of what is missing, else 0.
"""
import glob
import os
import re
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
os.chdir(root)


def normalized(lines):
    out = []
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("import ") or stripped == "@main":
            continue
        out.append(re.sub(r"\s+", " ", stripped))
    return out


tests = []
for path in glob.glob("Tests/*/DocumentationSnippetTests.swift"):
    with open(path) as f:
        tests.append(normalized(f.read().split("\n")))


def contained(block):
    n = len(block)
    for lines in tests:
        for start in range(len(lines) - n + 1):
            if lines[start:start + n] == block:
                return True
    return False


articles = sorted(glob.glob("Sources/*/Documentation.docc/**/*.md", recursive=True)
                  + glob.glob("MockBroker/Sources/*/Documentation.docc/**/*.md", recursive=True))
missing = 0
checked = 0
for article in articles:
    with open(article) as f:
        text = f.read().split("\n")
    index = 0
    while index < len(text):
        if text[index].strip() == "```swift":
            start = index + 1
            end = start
            while text[end].strip() != "```":
                end += 1
            body = text[start:end]
            index = end
            if body and body[0].strip().startswith(("// swift-tools-version", "// swift-kafka-client")):
                continue
            block = normalized(body)
            checked += 1
            if block and not contained(block):
                missing += 1
                print(f"{article}:{start}: this snippet is not in any Tests/*/DocumentationSnippetTests.swift:")
                print("    " + "\n    ".join(body))
        index += 1
print(f"doc snippets: {checked} checked, {missing} not compiled")

# Every public setting of the configuration types has a row in the Configuration Reference.
reference_path = "Sources/KafkaClient/Documentation.docc/ConfigurationReference.md"
with open(reference_path) as f:
    reference = f.read()
undocumented = 0
for path in ["Sources/KafkaClient/Configuration/ClientConfiguration.swift",
             "Sources/KafkaClient/Producer/ProducerConfiguration.swift",
             "Sources/KafkaClient/Consumer/ConsumerConfiguration.swift"]:
    with open(path) as f:
        lines = f.read().split("\n")
    current = None
    for number, line in enumerate(lines, 1):
        declared = re.match(r"^public struct (\w+)", line)
        if declared:
            current = declared.group(1)
        elif re.match(r"^\S", line):
            current = None
        setting = re.match(r"^    public var (\w+)", line)
        if setting and current and current.endswith("Configuration") and setting.group(1) != "client":
            if f"``{current}/{setting.group(1)}``" not in reference:
                undocumented += 1
                print(f"{path}:{number}: {current}.{setting.group(1)} has no row in {reference_path}")
print(f"configuration reference: {undocumented} settings missing")

# Every metric the client makes is named in the Observability article.
observability_path = "Sources/KafkaClient/Documentation.docc/Observability.md"
with open(observability_path) as f:
    observability = f.read()
unnamed = 0
for path in sorted(glob.glob("Sources/KafkaClient/**/*.swift", recursive=True)):
    with open(path) as f:
        for label in sorted(set(re.findall(r'label: "(kafka_[a-z_]+)"', f.read()))):
            if f"`{label}`" not in observability:
                unnamed += 1
                print(f"{path}: metric {label} is not in {observability_path}")
print(f"observability: {unnamed} metrics missing")
sys.exit(1 if missing or undocumented or unnamed else 0)
