import Foundation
import NIOCore
import Testing

@testable import KafkaProtocol
import KafkaTestSupport

/// Messages encoded by kafka-python (an independent implementation working from Kafka's own schemas), for every
/// version of every message we support: see `Fixtures/generate_fixtures.py`.
@Suite("Golden messages from kafka-python")
struct GoldenMessageTests {
    /// `@unchecked Sendable`: parsed JSON values (`Any`) that nothing mutates after loading.
    struct Fixture: @unchecked Sendable, CustomTestStringConvertible {
        var name: String
        var kind: String
        var version: Int16
        var label: String
        var bytes: ByteBuffer
        var fields: [String: Any]
        var entry: [String: Any]

        var testDescription: String { "\(name) v\(version) \(label)" }
    }

    static let fixtures: [Fixture] = {
        guard let entries = try? TestSupport.loadJSON("messages.json") as? [[String: Any]] else { return [] }
        return entries.map { entry in
            Fixture(
                name: entry["name"] as! String, kind: entry["kind"] as! String,
                version: Int16(entry["version"] as! Int), label: entry["case"] as! String,
                bytes: ByteBuffer(hex: entry["hex"] as! String), fields: entry["fields"] as? [String: Any] ?? [:],
                entry: entry
            )
        }
    }()

    static let bodies = fixtures.filter { $0.kind != "frame" }
    static let frames = fixtures.filter { $0.kind == "frame" }

    static func messageType(named name: String) -> (any KafkaMessage.Type)? {
        KafkaMessageTypes.all.first { $0.messageName == name }
    }

    @Test("the fixtures cover every version of every message type")
    func coverage() {
        #expect(Self.fixtures.count > 1000)
        for type in KafkaMessageTypes.all {
            let versions = Set(Self.bodies.filter { $0.name == type.messageName }.map(\.version))
            #expect(versions == Set(type.versions), "\(type.messageName)")
        }
    }

    @Test("decodes kafka-python's bytes to the same field values and re-encodes them byte for byte",
          arguments: bodies)
    func decodeCompareReencode(fixture: Fixture) throws {
        let type = try #require(Self.messageType(named: fixture.name))
        try check(type, fixture)
    }

    private func check<Message: KafkaMessage>(_: Message.Type, _ fixture: Fixture) throws {
        let decoded = try Message(decoding: fixture.bytes, version: fixture.version)
        var mismatches: [String] = []
        FieldComparison.compare(decoded, fixture.fields, path: fixture.name, mismatches: &mismatches)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5).joined(separator: "\n"))")
        let reencoded = try decoded.encoded(version: fixture.version)
        #expect(reencoded.hexString == fixture.bytes.hexString)
    }

    @Test("every strict prefix of a message is a typed error, never a trap", arguments: bodies.filter { $0.label == "rich" })
    func truncatedPrefixes(fixture: Fixture) throws {
        let type = try #require(Self.messageType(named: fixture.name))
        try checkPrefixes(type, fixture)
    }

    private func checkPrefixes<Message: KafkaMessage>(_: Message.Type, _ fixture: Fixture) throws {
        let length = fixture.bytes.readableBytes
        // Every prefix of short messages, an even spread of prefixes for long ones.
        let step = max(1, length / 256)
        for cut in stride(from: 0, to: length, by: step) {
            let prefix = fixture.bytes.getSlice(at: fixture.bytes.readerIndex, length: cut)!
            #expect(throws: KafkaWireError.self, "\(fixture.testDescription) cut at \(cut)") {
                try Message(decoding: prefix, version: fixture.version)
            }
        }
    }

    @Test("random byte corruption never traps", arguments: bodies.filter { $0.label == "random" })
    func corruptedBytes(fixture: Fixture) throws {
        let type = try #require(Self.messageType(named: fixture.name))
        var generator = SeededGenerator(seed: UInt64(fixture.bytes.readableBytes) &* 31 &+ UInt64(fixture.version))
        for _ in 0..<40 {
            var bytes = Array(fixture.bytes.readableBytesView)
            guard !bytes.isEmpty else { return }
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? decodeAndReencode(type, ByteBuffer(bytes: bytes), fixture.version)
        }
    }

    private func decodeAndReencode<Message: KafkaMessage>(_: Message.Type, _ bytes: ByteBuffer, _ version: Int16) throws {
        let decoded = try Message(decoding: bytes, version: version)
        _ = try decoded.encoded(version: version)
    }

    @Test("whole frames: header versions, size prefix and body", arguments: frames)
    func frame(fixture: Fixture) throws {
        var frame = fixture.bytes
        let size = frame.readInteger(as: Int32.self)
        #expect(size.map(Int.init) == frame.readableBytes)
        let apiKey = ApiKey(rawValue: Int16(fixture.entry["apiKey"] as! Int))
        let headerVersion = Int16(fixture.entry["headerVersion"] as! Int)
        let correlationId = Int32(fixture.entry["correlationId"] as! Int)
        let bodyHex = fixture.entry["bodyHex"] as! String
        if fixture.name.hasSuffix("Request") {
            #expect(KafkaFrame.requestHeaderVersion(apiKey: apiKey, version: fixture.version) == headerVersion)
            let header = try KafkaFrame.readRequestHeader(from: &frame)
            #expect(header.correlationId == correlationId)
            #expect(header.clientId == fixture.entry["clientId"] as? String)
            #expect(frame.hexString == bodyHex)
            let type = try #require(apiKey.requestType)
            try reencodeRequestFrame(type, frame, fixture, header)
        } else {
            // The fallback ApiVersions v0 answer to a too-new request also uses header v0.
            let requested = (fixture.entry["requestedVersion"] as? Int).map(Int16.init) ?? fixture.version
            #expect(KafkaFrame.responseHeaderVersion(apiKey: apiKey, version: requested) == headerVersion)
            let header = try ResponseHeader(from: &frame, version: headerVersion)
            #expect(header.correlationId == correlationId)
            #expect(frame.hexString == bodyHex)
            let type = try #require(Self.messageType(named: fixture.name))
            _ = try type.init(decoding: frame, version: fixture.version)
        }
    }

    private func reencodeRequestFrame<Request: KafkaRequest>(
        _: Request.Type, _ body: ByteBuffer, _ fixture: Fixture, _ header: RequestHeader
    ) throws {
        let request = try Request(decoding: body, version: fixture.version)
        var writer = WireWriter()
        try KafkaFrame.writeRequest(request, version: fixture.version, correlationId: header.correlationId,
                                    clientId: header.clientId, into: &writer)
        #expect(writer.finishContiguous().hexString == fixture.bytes.hexString)
    }
}

/// Compares a decoded Swift value with kafka-python's JSON rendering of the same message, field by field.
/// kafka-python names fields in snake_case, we in lowerCamelCase: both reduce to the same lowercase letters.
enum FieldComparison {
    static func compare(_ value: Any, _ expected: Any, path: String, mismatches: inout [String]) {
        let value = unwrap(value)
        switch expected {
        case is NSNull:
            if value != nil { mismatches.append("\(path): expected null, got \(value!)") }
        case let object as [String: Any]:
            if let hex = object["$bytes"] as? String {
                let actual: String? = switch value {
                case let buffer as ByteBuffer: buffer.hexString
                case let records as RecordSet: records.buffer?.hexString
                default: nil
                }
                if actual != hex { mismatches.append("\(path): bytes differ") }
            } else if let hex = object["$uuid"] as? String {
                let actual = (value as? KafkaUUID)?.bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
                if actual != hex { mismatches.append("\(path): uuid \(String(describing: actual)) != \(hex)") }
            } else {
                guard let value else { mismatches.append("\(path): expected a struct, got null"); return }
                var children: [String: Any] = [:]
                for child in Mirror(reflecting: value).children {
                    if let label = child.label { children[label.lowercased()] = child.value }
                }
                for (key, expectedChild) in object {
                    let normalized = key.replacingOccurrences(of: "_", with: "").lowercased()
                    guard let child = children[normalized] else {
                        mismatches.append("\(path).\(key): no such field in \(type(of: value))")
                        continue
                    }
                    compare(child, expectedChild, path: "\(path).\(key)", mismatches: &mismatches)
                }
            }
        case let array as [Any]:
            guard let value else { mismatches.append("\(path): expected an array, got null"); return }
            let elements = Mirror(reflecting: value).children.map(\.value)
            guard elements.count == array.count else {
                mismatches.append("\(path): \(elements.count) elements, expected \(array.count)")
                return
            }
            for (index, (element, expectedElement)) in zip(elements, array).enumerated() {
                compare(element, expectedElement, path: "\(path)[\(index)]", mismatches: &mismatches)
            }
        case let string as String:
            if value as? String != string { mismatches.append("\(path): \(String(describing: value)) != \(string)") }
        case let number as NSNumber:
            let matches: Bool = switch value {
            case let bool as Bool: bool == number.boolValue
            case let double as Double: double == number.doubleValue
            case let integer as any BinaryInteger: Int64(integer) == number.int64Value
            default: false
            }
            if !matches { mismatches.append("\(path): \(String(describing: value)) != \(number)") }
        default:
            mismatches.append("\(path): unexpected fixture value \(expected)")
        }
    }

    /// Optionals as `Any`: nil for `.none`, the wrapped value otherwise.
    private static func unwrap(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return value }
        return mirror.children.first.map { unwrap($0.value) } ?? nil
    }
}
