import Foundation
import KafkaCompression
import KafkaTestSupport
import NIOCore
import Testing

enum TestData {
    /// Incompressible bytes.
    static func random(count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var bytes = [UInt8](repeating: 0, count: count)
        var index = 0
        while index < count {
            var word = generator.next()
            for _ in 0..<8 where index < count {
                bytes[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
        return bytes
    }

    /// Record-like text that compresses well, with enough variety to not be a trivial run.
    static func compressible(count: Int, seed: UInt64) -> [UInt8] {
        let words = ["topic", "partition", "offset", "key", "value", "header", "producer", "consumer", "batch", "epoch"]
            .map { Array($0.utf8) }
        var generator = SeededGenerator(seed: seed)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 16)
        while bytes.count < count {
            bytes += words[Int(generator.next() % UInt64(words.count))]
            bytes.append(generator.next() % 8 == 0 ? 0x0A : 0x20)
        }
        return Array(bytes.prefix(count))
    }
}

extension ByteBuffer {
    var bytes: [UInt8] { Array(readableBytesView) }
}

/// Runs `body` and returns the `CompressionError` it threw, or nil if it succeeded. Any other error is
/// recorded as a test failure.
func compressionError(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> CompressionError? {
    do {
        try body()
        return nil
    } catch let error as CompressionError {
        return error
    } catch {
        Issue.record(error, "expected a CompressionError", sourceLocation: sourceLocation)
        return nil
    }
}

extension CompressionError {
    var isOutputLimitExceeded: Bool {
        if case .outputLimitExceeded = reason { return true }
        return false
    }

    var isCorruptInput: Bool {
        if case .corruptInput = reason { return true }
        return false
    }
}

enum Fixtures {
    /// The committed fixture folder, found next to this source file (it is excluded from the build).
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func load(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }
}

/// Runs `Fixtures/decompress.py`, which decodes with kafka-python's `kafka.codec`.
enum PythonDecoder {
    static let script = Fixtures.directory.appendingPathComponent("decompress.py").path

    /// Whether `python3` with kafka-python and the codec libraries its decoders need can be run.
    static var isAvailable: Bool { get async { await probe.value } }

    /// Run once, as a task: a test thread is never held while Python starts.
    private static let probe = Task {
        let probe = "import kafka.codec as c, sys; sys.exit(0 if c.has_snappy() and c.has_lz4() and c.has_zstd() else 1)"
        return (try? await runProcess("/usr/bin/env", ["python3", "-c", probe]))?.succeeded == true
    }

    /// CI must not silently skip the interop tests.
    static let isCI: Bool = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty } ?? false

    /// Runs `python3 arguments...` without holding a thread while it runs (bounded by 60 s, a safety limit).
    static func run(_ arguments: [String]) async throws -> ProcessOutput {
        try await runProcess("/usr/bin/env", ["python3"] + arguments)
    }

    /// Decodes `compressed` with kafka-python; returns the bytes, or throws with Python's message.
    static func decode(_ compressed: [UInt8], codec: CompressionCodec) async throws -> [UInt8] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kafka-compression-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("in.\(codec)")
        let output = folder.appendingPathComponent("out.raw")
        try Data(compressed).write(to: input)
        let outcome = try await run([script, codec.description, input.path, output.path])
        guard outcome.succeeded else {
            throw PythonFailure(status: outcome.status, message: outcome.stderr)
        }
        return [UInt8](try Data(contentsOf: output))
    }

    struct PythonFailure: Error, CustomStringConvertible {
        var status: Int32
        var message: String
        var description: String { "decompress.py exited \(status): \(message)" }
    }
}
