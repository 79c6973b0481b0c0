import NIOCore
import Testing

@testable import KafkaProtocol

/// Inputs the fuzzers (`Fuzz/`, run by `scripts/fuzz.sh`) found, byte for byte as libFuzzer saved them, each with
/// the typed error it must now give.
///
/// A `fuzz-protocol-messages` input is `type | version | body`: the first byte picks the message type (by name
/// order), the second the version.
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
}
