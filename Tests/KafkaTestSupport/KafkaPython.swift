import Foundation
import Testing

/// A Python script that drives kafka-python, run once per command: `python3 SCRIPT COMMAND --bootstrap HOST:PORT
/// ARGUMENTS...` with JSON on its standard input; it prints one JSON document and exits 0, or explains on standard
/// error and exits non-zero.
public struct KafkaPythonScript: Sendable {
    public let python3: String
    public let script: String

    /// The script `name` in the `Scripts` folder next to `file` (the caller's source file by default). Fails the
    /// test (and throws) when python3 or kafka-python is missing; see ``Peers``.
    public init(named name: String, nextTo file: String = #filePath,
                sourceLocation: SourceLocation = #_sourceLocation) async throws {
        python3 = try await Peers.requireKafkaPython(sourceLocation: sourceLocation)
        script = "\(scriptsDirectory(nextTo: file))/\(name)"
    }

    /// Runs one command with `input` encoded as JSON on stdin (keys sorted) and decodes its JSON output. Bounded by
    /// `limit` (a safety limit).
    public func run<Output: Decodable>(_ command: String, _ arguments: [String], bootstrap: String,
                                       input: some Encodable = [String](), limit: Duration = .seconds(90),
                                       sourceLocation: SourceLocation = #_sourceLocation) async throws -> Output {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let output = try await runProcess(python3, [script, command, "--bootstrap", bootstrap] + arguments,
                                          stdin: try encoder.encode(input), limit: limit)
        try #require(output.succeeded, "\(output.summary)", sourceLocation: sourceLocation)
        do {
            return try JSONDecoder().decode(Output.self, from: output.stdout)
        } catch {
            Issue.record("undecodable output of `\(command)`: \(error)\n\(output.stdoutText)", sourceLocation: sourceLocation)
            throw error
        }
    }
}
