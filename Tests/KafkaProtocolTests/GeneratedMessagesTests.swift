import Foundation
import KafkaCodegen
import NIOCore
import Testing

@testable import KafkaProtocol

@Suite("Generated messages")
struct GeneratedMessagesTests {
    @Test("the committed generated code matches the schema")
    func generatedCodeIsCurrent() throws {
        let root = TestSupport.packageRoot
        let files = try Generator.generate(schemaDirectory: root.appendingPathComponent("Sources/KafkaProtocol/Schema"))
        let output = root.appendingPathComponent("Sources/KafkaProtocol/Messages")
        for (name, source) in files {
            let committed = try String(contentsOf: output.appendingPathComponent(name), encoding: .utf8)
            #expect(committed == source, "\(name) is stale: run `swift run kafka-codegen`")
        }
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: output.path).filter { $0.hasSuffix(".swift") }
        #expect(Set(onDisk) == Set(files.keys))
    }

    @Test("every API the foundation needs is present with Kafka 4.0's version floor")
    func versionRanges() {
        let expected: [(any KafkaRequest.Type, ClosedRange<Int16>)] = [
            (ApiVersionsRequest.self, 0...4), (MetadataRequest.self, 0...12), (ProduceRequest.self, 3...11),
            (FetchRequest.self, 4...17), (ListOffsetsRequest.self, 1...10), (FindCoordinatorRequest.self, 0...6),
            (JoinGroupRequest.self, 0...9), (SyncGroupRequest.self, 0...5), (HeartbeatRequest.self, 0...4),
            (LeaveGroupRequest.self, 0...5), (OffsetCommitRequest.self, 2...9), (OffsetFetchRequest.self, 1...9),
            (DescribeGroupsRequest.self, 0...5), (ListGroupsRequest.self, 0...5), (DeleteGroupsRequest.self, 1...2),
            (CreateTopicsRequest.self, 2...7), (DeleteTopicsRequest.self, 1...6), (CreatePartitionsRequest.self, 0...3),
            (DescribeConfigsRequest.self, 1...4), (InitProducerIdRequest.self, 0...5),
            (OffsetForLeaderEpochRequest.self, 2...4), (DeleteRecordsRequest.self, 0...2),
            (SaslHandshakeRequest.self, 0...1), (SaslAuthenticateRequest.self, 0...2),
            (IncrementalAlterConfigsRequest.self, 0...1), (DescribeClusterRequest.self, 0...1),
            (OffsetDeleteRequest.self, 0...0), (ElectLeadersRequest.self, 0...2),
        ]
        for (type, versions) in expected {
            #expect(type.versions == versions, "\(type)")
            let registered: ObjectIdentifier? = type.apiKey.requestType.map { ObjectIdentifier($0) }
            #expect(registered == ObjectIdentifier(type))
            #expect(responseVersions(of: type) == versions)
        }
        #expect(ApiKey.allKnown.count == expected.count)
    }

    private func responseVersions<Request: KafkaRequest>(of _: Request.Type) -> ClosedRange<Int16> {
        Request.Response.versions
    }

    @Test("every message with default values round-trips at every version")
    func defaultsRoundTrip() throws {
        for type in KafkaMessageTypes.all {
            try roundTripDefault(type)
        }
    }

    private func roundTripDefault<Message: KafkaMessage>(_: Message.Type) throws {
        for version in Message.versions {
            let value = Message()
            let bytes = try value.encoded(version: version)
            #expect(try Message(decoding: bytes, version: version) == value, "\(Message.self) v\(version)")
        }
    }

    @Test("a version outside the range is a typed error both ways")
    func unsupportedVersion() {
        #expect(throws: KafkaWireError.unsupportedVersion(message: "ProduceRequest", version: 2)) {
            try ProduceRequest().encoded(version: 2)
        }
        #expect(throws: KafkaWireError.unsupportedVersion(message: "FetchResponse", version: 18)) {
            try FetchResponse(decoding: ByteBuffer(), version: 18)
        }
    }

    @Test("a non-default value the version cannot carry is refused, an ignorable one is dropped")
    func fieldsAbsentFromAVersion() throws {
        // JoinGroup's GroupInstanceId exists from v5 and is not ignorable.
        let join = JoinGroupRequest(groupId: "g", groupInstanceId: "static-1")
        #expect(throws: KafkaWireError.unsupportedField("GroupInstanceId", version: 4)) { try join.encoded(version: 4) }
        #expect(try JoinGroupRequest(decoding: join.encoded(version: 5), version: 5) == join)
        // A broker answering an old client may leave such fields out instead.
        var lenient = WireWriter()
        lenient.rejectsFieldsMissingFromVersion = false
        try join.encode(to: &lenient, version: 4)
        #expect(try JoinGroupRequest(decoding: lenient.finishContiguous(), version: 4).groupInstanceId == nil)
        // Metadata's ThrottleTimeMs (v3+) is ignorable: v2 simply does not carry it.
        let metadata = MetadataResponse(throttleTimeMs: 5)
        #expect(try MetadataResponse(decoding: metadata.encoded(version: 2), version: 2).throttleTimeMs == 0)
    }

    @Test("a null where the version forbids one is refused")
    func nullNotAllowed() throws {
        // Metadata request topics may be null only from v1 on.
        #expect(throws: KafkaWireError.nullNotAllowed(field: "Topics")) { try MetadataRequest(topics: nil).encoded(version: 0) }
        #expect(throws: KafkaWireError.nullNotAllowed(field: "Topics")) {
            try MetadataRequest(decoding: ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF]), version: 0)
        }
        #expect(try MetadataRequest(decoding: ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF]), version: 1).topics == nil)
    }

    @Test("unknown tagged fields survive a decode and re-encode, in tag order with known ones")
    func unknownTaggedFieldsSurvive() throws {
        var response = FetchResponse(sessionId: 9)
        response.nodeEndpoints = [.init(nodeId: 1, host: "h", port: 9092, rack: nil)] // known tag 0
        response.unknownTaggedFields = [TaggedField(tag: 7, data: ByteBuffer(bytes: [1, 2, 3]))]
        let bytes = try response.encoded(version: 16)
        let decoded = try FetchResponse(decoding: bytes, version: 16)
        #expect(decoded == response)
        #expect(try decoded.encoded(version: 16) == bytes)

        // The same unknown tag written by someone else is kept by a reader that does not know it.
        var request = HeartbeatRequest(groupId: "g", generationId: 1, memberId: "m")
        request.unknownTaggedFields = [TaggedField(tag: 42, data: ByteBuffer(bytes: [0xAB]))]
        let again = try HeartbeatRequest(decoding: request.encoded(version: 4), version: 4)
        #expect(again.unknownTaggedFields == request.unknownTaggedFields)
    }

    @Test("consumer-protocol subscription and assignment round-trip with their version prefix")
    func consumerProtocol() throws {
        let subscription = ConsumerProtocolSubscription(
            topics: ["a", "b"], userData: nil, ownedPartitions: [.init(topic: "a", partitions: [0, 2])],
            generationId: 4, rackId: "r1"
        )
        let bytes = try subscription.encodedWithVersionPrefix(version: 3)
        #expect(bytes.getInteger(at: bytes.readerIndex, as: Int16.self) == 3)
        #expect(try ConsumerProtocolSubscription(decodingWithVersionPrefix: bytes) == subscription)

        // A newer version than we know is read as our newest, as Java's consumer does.
        var future = ByteBuffer()
        future.writeInteger(Int16(9))
        future.writeImmutableBuffer(try subscription.encoded(version: 3))
        #expect(try ConsumerProtocolSubscription(decodingWithVersionPrefix: future) == subscription)
    }
}
