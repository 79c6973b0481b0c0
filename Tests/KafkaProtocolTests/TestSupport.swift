import Foundation
import KafkaTestSupport
import NIOCore
import Testing

/// Paths and helpers shared by the protocol tests.
enum TestSupport {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let fixtures = testsDirectory.appendingPathComponent("Fixtures")
    static let packageRoot = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()

    static func loadJSON(_ name: String) throws -> Any {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
        return try JSONSerialization.jsonObject(with: data)
    }

    /// Whether a Python peer (kafka-python) can run here. CI installs it; a test that needs it fails there when
    /// it is missing instead of skipping.
    static var requirePythonPeer: Bool {
        get async {
            if ProcessInfo.processInfo.environment["CI"] != nil { return true }
            return await pythonPeerProbe.value
        }
    }

    /// Run once, as a task: a test thread is never held while Python starts.
    private static let pythonPeerProbe = Task {
        (try? await runProcess("/usr/bin/env", ["python3", "-c", "import kafka"]))?.succeeded == true
    }

    /// Runs `python3 args...` without holding a thread while it runs (bounded by 60 s, a safety limit), returning
    /// stdout; throws with stderr on a non-zero exit.
    @discardableResult
    static func runPython(_ arguments: [String], input: Data?) async throws -> Data {
        let output = try await runProcess("/usr/bin/env", ["python3"] + arguments, stdin: input ?? Data())
        guard output.succeeded else {
            throw PythonFailure(status: output.status, stderr: output.stderr)
        }
        return output.stdout
    }

    struct PythonFailure: Error, CustomStringConvertible {
        var status: Int32
        var stderr: String
        var description: String { "python3 exited with \(status): \(stderr)" }
    }
}

extension ByteBuffer {
    init(hex: String) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.utf8.count / 2)
        var high: UInt8?
        for character in hex.utf8 {
            let nibble: UInt8 = switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
            default: preconditionFailure("not hex: \(hex)")
            }
            if let first = high {
                bytes.append(first << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        self.init(bytes: bytes)
    }

    var hexString: String {
        readableBytesView.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// JSON numbers as Foundation hands them back, read as fixed-width integers.
protocol NSNumberLike {
    var int64: Int64 { get }
    var uint64: UInt64 { get }
}

extension NSNumber: NSNumberLike {
    var int64: Int64 { int64Value }
    var uint64: UInt64 { uint64Value }
}
