import NIOCore
import Testing

@testable import KafkaProtocol

/// Inputs the fuzzers (`Fuzz/`, run by `scripts/fuzz.sh`) found, byte for byte as libFuzzer saved them, each with
/// the typed error it must now give.
///
/// A `fuzz-protocol-messages` input is `type | version | body`: the first byte picks the message type (by name
/// order), the second the version. A `fuzz-record-batches` input starts with a mode byte; mode 0 is a records
/// field, as a Fetch or Produce carries it.
@Suite("Fuzzer findings")
struct FuzzFindingsTests {
    /// The body of a `fuzz-protocol-messages` input.
    static func messageBody(_ hex: String) -> ByteBuffer {
        let input = ByteBuffer(hex: hex)
        return input.getSlice(at: input.readerIndex + 2, length: input.readableBytes - 2)!
    }

    @Test("a tagged-field section whose tags do not ascend is refused (re-encoding would reorder it)")
    func taggedFieldsOutOfOrder() {
        // OffsetFetchResponse v6 whose tagged fields are 0, 0, 8283, 90: decoded, then encoded in sorted order,
        // it came back as a different value.
        let body = Self.messageBody("2706db4013c10100000400000000db4013c10100000400000000000013c101000000002f5a00")
        #expect(throws: KafkaWireError.taggedFieldOutOfOrder(tag: 0, previous: 0)) {
            try OffsetFetchResponse(decoding: body, version: 6)
        }
        // The generated readers of known tags check the order too: ApiVersionsResponse v3 with
        // FinalizedFeaturesEpoch (tag 1) twice.
        let repeated = ByteBuffer(hex: "00000100000000" + "02" + "0108" + "0000000000000001" + "0108" + "0000000000000002")
        #expect(throws: KafkaWireError.taggedFieldOutOfOrder(tag: 1, previous: 1)) {
            try ApiVersionsResponse(decoding: repeated, version: 3)
        }
    }

    @Test("a batch header's record count does not size an allocation")
    func hostileRecordCount() {
        // One 78-byte batch claiming 1,777,598,464 records (and codec 7): a consumer sizing its array from
        // recordCountAhead asked for 170 GB and trapped.
        let input = ByteBuffer(hex: "0000000000000007d3000000427300000202ddc000000007d3000000427300000202ddc0413a0030000000"
                                  + "000000018bcfe569f40000018bcfe569f4000000000000022b0001ffffffff0000000011005b")
        let records = input.getSlice(at: input.readerIndex + 1, length: input.readableBytes - 1)!
        var reader = RecordBatchReader(records)
        #expect(reader.recordCountAhead <= records.readableBytes / 7)
        #expect(throws: RecordBatchError.unknownCompression(7)) { try reader.next() }
    }

    @Test("allRecords sizes its array by the bytes the records have, not by the header's count")
    func allRecordsCapacity() throws {
        // An uncompressed batch of one record whose header claims Int32.max; reading it is a typed error.
        var builder = RecordBatchBuilder()
        builder.append(timestamp: 0, key: ByteBuffer(string: "k"), value: nil)
        var bytes = try builder.build()
        bytes.setInteger(Int32.max, at: bytes.readerIndex + RecordBatchLayout.recordCount)
        let batch = try RecordBatch(bytes)
        #expect(throws: RecordBatchError.self) { try batch.allRecords() }
    }
}
