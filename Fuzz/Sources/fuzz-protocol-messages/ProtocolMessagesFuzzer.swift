import KafkaProtocol
import NIOCore

// Input: `selector | version | body`.
// - `selector` (mod the number of types + 1) picks a message type from `messageTypes`, or, for the last value,
//   a whole request frame (header, then the body of the API the header names).
// - `version` is used as is when the type has it, otherwise mapped into the type's range, so that mutations
//   stay on versions worth decoding.
// A body that decodes must encode again, and the encoding must decode to the same value: decoding that accepts
// what encoding cannot reproduce is a bug too. It must also encode at every other version the way the broker
// encodes responses (leaving out fields the version lacks), or throw; bytes written that way must decode. That
// check skips values holding unknown tagged fields: those mean something only at the version they were read at
// (a tag unknown at v14 may be a known field at v16), and no handler sets them.

/// Every message type, ordered by name: `Fuzz/seed-corpora.py` numbers the golden fixtures the same way.
let messageTypes: [any KafkaMessage.Type] = KafkaMessageTypes.all.sorted { $0.messageName < $1.messageName }

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size >= 2 else { return 0 }
    let selector = Int(data[0]) % (messageTypes.count + 1)
    let body = ByteBuffer(bytes: UnsafeBufferPointer(start: data + 2, count: size - 2))
    if selector == messageTypes.count {
        decodeRequestFrame(body)
    } else {
        let type = messageTypes[selector]
        roundTrip(type, body, version: pickVersion(Int16(data[1]), in: type.versions))
    }
    return 0
}

func pickVersion(_ raw: Int16, in versions: ClosedRange<Int16>) -> Int16 {
    versions.contains(raw) ? raw : versions.lowerBound + raw % Int16(versions.count)
}

func roundTrip<Message: KafkaMessage>(_: Message.Type, _ bytes: ByteBuffer, version: Int16) {
    // Hostile bytes may fail to decode, with a typed error: that is the expected outcome, not a finding.
    guard let decoded = try? Message(decoding: bytes, version: version) else { return }
    let encoded: ByteBuffer
    do {
        encoded = try decoded.encoded(version: version)
    } catch {
        fatalError("\(Message.messageName) v\(version) decoded but does not encode again: \(error)")
    }
    let again: Message
    do {
        again = try Message(decoding: encoded, version: version)
    } catch {
        fatalError("\(Message.messageName) v\(version) does not decode its own encoding: \(error)")
    }
    guard again == decoded else {
        fatalError("\(Message.messageName) v\(version) changed in an encode/decode round trip:\n\(decoded)\n\(again)")
    }
    guard !holdsUnknownTaggedFields(decoded) else { return }
    for other in Message.versions where other != version {
        var writer = WireWriter(spliceThreshold: .max)
        writer.rejectsFieldsMissingFromVersion = false
        // A typed error is a fine answer (a null that version cannot carry, say).
        guard (try? decoded.encode(to: &writer, version: other)) != nil else { continue }
        do {
            _ = try Message(decoding: writer.finishContiguous(), version: other)
        } catch {
            fatalError("\(Message.messageName) from v\(version), encoded as v\(other), does not decode: \(error)\n\(decoded)")
        }
    }
}

/// The broker's first step: the request header (its version depends on the API and version it names), then the
/// body as that API's request.
func decodeRequestFrame(_ frame: ByteBuffer) {
    var body = frame
    guard let header = try? KafkaFrame.readRequestHeader(from: &body),
          let type = ApiKey(rawValue: header.requestApiKey).requestType,
          type.versions.contains(header.requestApiVersion)
    else { return }
    roundTrip(type, body, version: header.requestApiVersion)
}

/// Whether `value` or anything inside it keeps unknown tagged fields.
func holdsUnknownTaggedFields(_ value: Any) -> Bool {
    Mirror(reflecting: value).children.contains { child in
        if child.label == "unknownTaggedFields", let fields = child.value as? [TaggedField] { return !fields.isEmpty }
        return holdsUnknownTaggedFields(child.value)
    }
}
