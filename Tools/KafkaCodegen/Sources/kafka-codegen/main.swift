import Foundation
import KafkaCodegen

// Regenerates the protocol messages from the schema, or with `--check` fails when the committed files are stale.
// Run from the package root: `swift run kafka-codegen [--check]`.
let check = CommandLine.arguments.contains("--check")
let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
let schema = root.appendingPathComponent("Sources/KafkaProtocol/Schema")
let output = root.appendingPathComponent("Sources/KafkaProtocol/Messages")

do {
    let files = try Generator.generate(schemaDirectory: schema)
    var stale: [String] = []
    try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    for (name, source) in files.sorted(by: { $0.key < $1.key }) {
        let url = output.appendingPathComponent(name)
        let existing = try? String(contentsOf: url, encoding: .utf8)
        guard existing != source else { continue }
        stale.append(name)
        if !check { try source.write(to: url, atomically: true, encoding: .utf8) }
    }
    let known = Set(files.keys)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: output.path).filter {
        $0.hasSuffix(".swift") && !known.contains($0)
    }
    if check {
        if !stale.isEmpty || !leftovers.isEmpty {
            print("stale generated files: \((stale + leftovers).sorted().joined(separator: ", "))")
            exit(1)
        }
        print("generated messages are up to date (\(files.count) files)")
    } else {
        for name in leftovers { try FileManager.default.removeItem(at: output.appendingPathComponent(name)) }
        print("wrote \(stale.count) of \(files.count) files to \(output.path)")
    }
} catch {
    print("kafka-codegen: \(error)")
    exit(1)
}
