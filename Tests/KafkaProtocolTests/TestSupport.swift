import Foundation
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
    static let pythonPeerAvailable: Bool = {
        (try? runPython(["-c", "import kafka"], input: nil)) != nil
    }()

    static var requirePythonPeer: Bool { ProcessInfo.processInfo.environment["CI"] != nil || pythonPeerAvailable }

    /// Runs `python3 args...`, returning stdout; throws with stderr on a non-zero exit.
    @discardableResult
    static func runPython(_ arguments: [String], input: Data?) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PythonFailure(status: process.terminationStatus, stderr: String(decoding: errors, as: UTF8.self))
        }
        return output
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
