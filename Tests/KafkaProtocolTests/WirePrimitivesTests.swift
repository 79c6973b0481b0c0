import NIOCore
import Testing

@testable import KafkaProtocol

@Suite("Wire primitives")
struct WirePrimitivesTests {
    static let varintVectors: [(Int32, [UInt8])] = [
        (0, [0x00]), (-1, [0x01]), (1, [0x02]), (-2, [0x03]), (63, [0x7E]), (-64, [0x7F]),
        (64, [0x80, 0x01]), (300, [0xD8, 0x04]), (Int32.max, [0xFE, 0xFF, 0xFF, 0xFF, 0x0F]),
        (Int32.min, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
    ]

    @Test("zigzag varints match the protocol guide's examples", arguments: varintVectors)
    func varint(value: Int32, bytes: [UInt8]) throws {
        var buffer = ByteBuffer()
        buffer.writeKafkaVarint(value)
        #expect(Array(buffer.readableBytesView) == bytes)
        #expect(try buffer.readKafkaVarint() == value)
        #expect(buffer.readableBytes == 0)
    }

    @Test("varlongs round-trip at the edges", arguments: [Int64.min, -1, 0, 1, Int64(Int32.max) + 1, Int64.max])
    func varlong(value: Int64) throws {
        var buffer = ByteBuffer()
        buffer.writeKafkaVarlong(value)
        #expect(buffer.readableBytes == VarintSize.signed(value))
        #expect(try buffer.readKafkaVarlong() == value)
    }

    @Test("an unsigned varint longer than five bytes is malformed, not a trap")
    func overlongVarint() {
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        #expect(throws: KafkaWireError.malformedVarint) { try buffer.readKafkaUnsignedVarint() }
        var long = ByteBuffer(bytes: [UInt8](repeating: 0xFF, count: 10) + [0x01])
        #expect(throws: KafkaWireError.malformedVarint) { try long.readKafkaUnsignedVarlong() }
        var cut = ByteBuffer(bytes: [0x80, 0x80])
        #expect(throws: KafkaWireError.self) { try cut.readKafkaUnsignedVarint() }
    }

    @Test("strings: classic and compact forms, with null")
    func strings() throws {
        var buffer = ByteBuffer()
        buffer.writeKafkaString("héllo", compact: false)
        buffer.writeKafkaString(nil, compact: false)
        buffer.writeKafkaString("héllo", compact: true)
        buffer.writeKafkaString(nil, compact: true)
        buffer.writeKafkaString("", compact: true)
        #expect(buffer.hexString == "000668c3a96c6c6f" + "ffff" + "0768c3a96c6c6f" + "00" + "01")
        #expect(try buffer.readKafkaString(compact: false) == "héllo")
        #expect(try buffer.readKafkaString(compact: false) == nil)
        #expect(try buffer.readKafkaString(compact: true) == "héllo")
        #expect(try buffer.readKafkaString(compact: true) == nil)
        #expect(try buffer.readKafkaString(compact: true) == "")
    }

    @Test("a negative length other than -1 and a length past the end are typed errors")
    func badLengths() {
        var negative = ByteBuffer(bytes: [0xFF, 0xFE])
        #expect(throws: KafkaWireError.invalidLength(-2)) { try negative.readKafkaString(compact: false) }
        var past = ByteBuffer(bytes: [0x00, 0x00, 0x00, 0x10, 0x01])
        #expect(throws: KafkaWireError.truncated(needed: 16, available: 1)) { try past.readKafkaBytes(compact: false) }
    }

    @Test("an array count the remaining bytes cannot hold is refused before allocating")
    func hugeArrayCount() {
        var buffer = ByteBuffer(bytes: [0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1])
        #expect(throws: KafkaWireError.invalidLength(Int(Int32.max))) {
            try buffer.readKafkaArray(compact: false, minimumElementSize: 4) { (b: inout ByteBuffer) throws(KafkaWireError) in
                try b.readKafkaInteger(as: Int32.self)
            }
        }
    }

    @Test("UUIDs print and parse as Kafka's URL-safe base64")
    func uuid() throws {
        let id = KafkaUUID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210)
        #expect(id.description == "ASNFZ4mrze_-3LqYdlQyEA")
        #expect(KafkaUUID("ASNFZ4mrze_-3LqYdlQyEA") == id)
        #expect(KafkaUUID.zero.description == "AAAAAAAAAAAAAAAAAAAAAA")
        #expect(KafkaUUID("too short") == nil)
        var buffer = ByteBuffer()
        buffer.writeKafkaUUID(id)
        #expect(try buffer.readKafkaUUID() == id)
    }
}

@Suite("Frames and headers")
struct FramingTests {
    @Test("ApiVersions responses use response header v0 even in flexible versions")
    func apiVersionsHeader() throws {
        #expect(ApiVersionsRequest.responseHeaderVersion(for: 3) == 0)
        #expect(ApiVersionsRequest.requestHeaderVersion(for: 3) == 2)
        #expect(MetadataRequest.responseHeaderVersion(for: 9) == 1)
        #expect(MetadataRequest.responseHeaderVersion(for: 8) == 0)
        #expect(MetadataRequest.requestHeaderVersion(for: 8) == 1)

        var writer = WireWriter()
        let response = ApiVersionsResponse(errorCode: 0, apiKeys: [.init(apiKey: 18, minVersion: 0, maxVersion: 4)])
        try KafkaFrame.writeResponse(response, version: 3, correlationId: 42, into: &writer)
        var frame = writer.finishContiguous()
        #expect(frame.readInteger(as: Int32.self) == Int32(frame.readableBytes))
        #expect(frame.readInteger(as: Int32.self) == 42) // correlation id, then straight into the body
        #expect(frame.readInteger(as: Int16.self) == 0) // error code at a fixed place
    }

    @Test("the request header's client id stays a classic string in flexible versions")
    func clientIdIsNotCompact() throws {
        var writer = WireWriter()
        try KafkaFrame.writeRequest(ApiVersionsRequest(clientSoftwareName: "swift", clientSoftwareVersion: "1"),
                                    version: 3, correlationId: 7, clientId: "me", into: &writer)
        var frame = writer.finishContiguous()
        _ = frame.readInteger(as: Int32.self)
        #expect(frame.hexString.hasPrefix("00120003" + "00000007" + "0002" + "6d65" + "00"))
        let header = try KafkaFrame.readRequestHeader(from: &frame)
        #expect(header == RequestHeader(requestApiKey: 18, requestApiVersion: 3, correlationId: 7, clientId: "me"))
        #expect(try ApiVersionsRequest(decoding: frame, version: 3).clientSoftwareName == "swift")
    }

    @Test("an ApiVersions request newer than we know still has its header read (KIP-511)")
    func futureApiVersionsHeader() throws {
        #expect(KafkaFrame.requestHeaderVersion(apiKey: .apiVersions, version: 99) == 2)
        #expect(KafkaFrame.requestHeaderVersion(apiKey: ApiKey(rawValue: 999), version: 0) == 1)
    }

    @Test("large record payloads become their own chunk instead of being copied")
    func recordsAreSpliced() throws {
        let payload = ByteBuffer(repeating: 7, count: 10_000)
        let request = ProduceRequest(acks: -1, timeoutMs: 1000, topicData: [
            .init(name: "t", partitionData: [.init(index: 0, records: RecordSet(payload))]),
        ])
        var writer = WireWriter()
        try KafkaFrame.writeRequest(request, version: 9, correlationId: 1, clientId: nil, into: &writer)
        let chunks = writer.finish()
        #expect(chunks.count == 3)
        guard case .buffer(let spliced) = chunks[1] else { Issue.record("expected a buffer chunk"); return }
        #expect(spliced == payload)
        var joined = ByteBuffer()
        for case .buffer(let part) in chunks { joined.writeImmutableBuffer(part) }
        #expect(joined.readInteger(as: Int32.self) == Int32(joined.readableBytes))
        _ = try KafkaFrame.readRequestHeader(from: &joined)
        #expect(try ProduceRequest(decoding: joined, version: 9) == request)
    }

    @Test("a batch that refers to its values is written as its pieces: large values and the framing between them as they are, small values copied")
    func piecesAreChunks() throws {
        let value = ByteBuffer(repeating: 1, count: 10_000)
        let framing = ByteBuffer(repeating: 2, count: 11)
        let small = ByteBuffer(repeating: 3, count: 3_000)
        // framing, large value, framing, large value, framing, small value, framing, small value, framing
        let pieces = [framing, value, framing, value, framing, small, framing, small, framing]
        let request = ProduceRequest(acks: 1, timeoutMs: 1000, topicData: [
            .init(name: "t", partitionData: [.init(index: 0, records: RecordSet(pieces: pieces)),
                                             .init(index: 1, records: RecordSet(ByteBuffer(repeating: 4, count: 5)))]),
        ])
        var writer = WireWriter()
        try KafkaFrame.writeRequest(request, version: 9, correlationId: 1, clientId: nil, into: &writer)
        let chunks = writer.finish().map { chunk -> ByteBuffer in
            guard case .buffer(let buffer) = chunk else { Issue.record("a file region"); return ByteBuffer() }
            return buffer
        }
        // The header with the first framing copied in; each large value and the framing after it as they are; the
        // small values and the framing around them copied, with the rest of the request.
        #expect(chunks.map(\.readableBytes).dropFirst().dropLast() == [10_000, 11, 10_000])
        #expect(chunks[1] == value && chunks[3] == value && chunks[2] == framing)
        #expect(chunks[1].withUnsafeReadableBytes { $0.baseAddress } == value.withUnsafeReadableBytes { $0.baseAddress })
        #expect(chunks[2].withUnsafeReadableBytes { $0.baseAddress } == framing.withUnsafeReadableBytes { $0.baseAddress })
        var joined = ByteBuffer()
        for part in chunks { joined.writeImmutableBuffer(part) }
        #expect(joined.readInteger(as: Int32.self) == Int32(joined.readableBytes))
        _ = try KafkaFrame.readRequestHeader(from: &joined)
        #expect(try ProduceRequest(decoding: joined, version: 9) == request)
    }
}
