import Foundation
import KafkaProtocol
import NIOCore

/// A generator whose whole sequence follows from its seed (``SplitMix64``), so a failure found with one seed happens
/// again with it.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var source: SplitMix64

    public init(seed: UInt64) {
        source = SplitMix64(seed: seed)
    }

    /// The seed a hostile-input test uses: `TORTURE_SEED` from the environment when set (to replay or vary a run),
    /// else `fallback`.
    public static func seed(default fallback: UInt64) -> UInt64 {
        ProcessInfo.processInfo.environment["TORTURE_SEED"].flatMap { UInt64($0) } ?? fallback
    }

    public mutating func next() -> UInt64 { source.next() }

    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}

/// A valid request of one API, encodable at each version the broker accepts: the seed of the mutations.
public struct SampleRequest: Sendable {
    public let api: ApiKey
    public let versions: ClosedRange<Int16>
    private let write: @Sendable (Int16, Int32, inout WireWriter) throws -> Void

    init<Request: KafkaRequest>(_ request: Request) {
        api = Request.apiKey
        versions = Request.versions
        write = { version, correlationId, writer in
            try KafkaFrame.writeRequest(request, version: version, correlationId: correlationId, clientId: "hostile",
                                        into: &writer)
        }
    }

    /// The whole frame (size prefix, header, body) at `version`.
    public func frame(version: Int16, correlationId: Int32) throws -> [UInt8] {
        var writer = WireWriter(spliceThreshold: .max)
        // The samples fill fields for every version; each version writes the ones it has.
        writer.rejectsFieldsMissingFromVersion = false
        try write(version, correlationId, &writer)
        var buffer = writer.finishContiguous()
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }
}

/// Bytes no well-behaved client sends, generated from a ``SeededGenerator``: garbage, frames whose length lies,
/// and mutations of valid requests.
public enum HostileInput {
    /// One hostile input: what to send, and what a broker must do about it when that is certain.
    public struct Case: Sendable, CustomStringConvertible {
        public enum Expectation: Sendable {
            /// The broker must close the connection (a size prefix it refuses, or a frame it cannot parse).
            case closed
            /// The broker must close the connection once `socket.partial.frame.timeout.ms` passes.
            case closedAfterPartialFrameTimeout
            /// It may answer or close; only that it keeps serving everyone else is certain.
            case either
        }

        public var name: String
        public var bytes: [UInt8]
        public var expectation: Expectation

        public var description: String { "\(name) (\(bytes.count) bytes)" }
    }

    /// A valid request of every API the mock broker serves, about `topic` and `group` (which the mutations may
    /// damage: keep the topics and groups of clients that must not be disturbed elsewhere, with other lengths).
    public static func sampleRequests(topic: String, group: String) throws -> [SampleRequest] {
        let batch = try makeBatch([TextRecord(key: "k", value: "hostile value")])
        let consumerMetadata = ByteBuffer(bytes: [0, 0, 0, 0, 0, 1, 0, UInt8(topic.utf8.count)] + Array(topic.utf8) + [0, 0, 0, 0])
        return [
            SampleRequest(configured(ApiVersionsRequest()) { $0.clientSoftwareName = "hostile"; $0.clientSoftwareVersion = "1.0" }),
            SampleRequest(configured(MetadataRequest()) { $0.topics = [configured(.init()) { $0.name = topic }] }),
            SampleRequest(configured(ProduceRequest()) {
                $0.acks = 1
                $0.timeoutMs = 1000
                $0.topicData = [configured(.init()) {
                    $0.name = topic
                    $0.partitionData = [configured(.init()) { $0.index = 0; $0.records = RecordSet(batch) }]
                }]
            }),
            SampleRequest(configured(FetchRequest()) {
                $0.maxWaitMs = 0
                $0.minBytes = 1
                $0.maxBytes = 1 << 20
                $0.topics = [configured(.init()) {
                    $0.topic = topic
                    $0.partitions = [configured(.init()) { $0.partitionMaxBytes = 1 << 20 }]
                }]
            }),
            SampleRequest(configured(ListOffsetsRequest()) {
                $0.replicaId = -1
                $0.topics = [configured(.init()) {
                    $0.name = topic
                    $0.partitions = [configured(.init()) { $0.timestamp = -1 }]
                }]
            }),
            SampleRequest(configured(CreateTopicsRequest()) {
                $0.timeoutMs = 1000
                $0.topics = [configured(.init()) {
                    $0.name = topic + "-created"
                    $0.numPartitions = 2
                    $0.replicationFactor = 1
                    $0.configs = [configured(.init()) { $0.name = "retention.ms"; $0.value = "60000" }]
                }]
            }),
            SampleRequest(configured(DeleteTopicsRequest()) {
                $0.timeoutMs = 1000
                $0.topicNames = [topic + "-created"]
                $0.topics = [configured(.init()) { $0.name = topic + "-created" }]
            }),
            SampleRequest(configured(CreatePartitionsRequest()) {
                $0.timeoutMs = 1000
                $0.topics = [configured(.init()) { $0.name = topic; $0.count = 2; $0.assignments = nil }]
            }),
            SampleRequest(configured(DescribeConfigsRequest()) {
                $0.resources = [configured(.init()) { $0.resourceType = 2; $0.resourceName = topic; $0.configurationKeys = nil }]
            }),
            SampleRequest(configured(DeleteRecordsRequest()) {
                $0.timeoutMs = 1000
                $0.topics = [configured(.init()) {
                    $0.name = topic
                    $0.partitions = [configured(.init()) { $0.offset = 0 }]
                }]
            }),
            SampleRequest(configured(InitProducerIdRequest()) { $0.transactionalId = nil; $0.transactionTimeoutMs = 60000 }),
            SampleRequest(configured(OffsetForLeaderEpochRequest()) {
                $0.topics = [configured(.init()) { $0.topic = topic; $0.partitions = [configured(.init()) { $0.leaderEpoch = 0 }] }]
            }),
            SampleRequest(configured(FindCoordinatorRequest()) { $0.key = group; $0.coordinatorKeys = [group] }),
            SampleRequest(configured(JoinGroupRequest()) {
                $0.groupId = group
                $0.sessionTimeoutMs = 10000
                $0.rebalanceTimeoutMs = 10000
                $0.protocolType = "consumer"
                $0.protocols = [configured(.init()) { $0.name = "range"; $0.metadata = consumerMetadata }]
            }),
            SampleRequest(configured(SyncGroupRequest()) {
                $0.groupId = group
                $0.generationId = 1
                $0.memberId = "hostile-member"
                $0.protocolType = "consumer"
                $0.protocolName = "range"
                $0.assignments = [configured(.init()) { $0.memberId = "hostile-member"; $0.assignment = ByteBuffer(bytes: [0, 0]) }]
            }),
            SampleRequest(configured(HeartbeatRequest()) { $0.groupId = group; $0.generationId = 1; $0.memberId = "hostile-member" }),
            SampleRequest(configured(LeaveGroupRequest()) {
                $0.groupId = group
                $0.memberId = "hostile-member"
                $0.members = [configured(.init()) { $0.memberId = "hostile-member" }]
            }),
            SampleRequest(configured(OffsetCommitRequest()) {
                $0.groupId = group
                $0.topics = [configured(.init()) {
                    $0.name = topic
                    $0.partitions = [configured(.init()) { $0.committedOffset = 1; $0.committedMetadata = "hostile" }]
                }]
            }),
            SampleRequest(configured(OffsetFetchRequest()) {
                $0.groupId = group
                $0.topics = [configured(.init()) { $0.name = topic; $0.partitionIndexes = [0] }]
                $0.groups = [configured(.init()) {
                    $0.groupId = group
                    $0.topics = [configured(.init()) { $0.name = topic; $0.partitionIndexes = [0] }]
                }]
            }),
            SampleRequest(configured(DescribeGroupsRequest()) { $0.groups = [group] }),
            SampleRequest(ListGroupsRequest()),
            SampleRequest(configured(DeleteGroupsRequest()) { $0.groupsNames = [group + "-gone"] }),
        ]
    }

    private static func configured<T>(_ value: T, _ change: (inout T) -> Void) -> T {
        var value = value
        change(&value)
        return value
    }

    // MARK: - Mutations

    /// `frame` (a whole valid request frame) damaged in one of several ways, chosen by `random`.
    public static func mutation(of frame: [UInt8], named name: String, using random: inout SeededGenerator) -> Case {
        var payload = Array(frame.dropFirst(4))
        let kind = Int.random(in: 0..<9, using: &random)
        func position() -> Int { Int.random(in: 0..<max(1, payload.count), using: &random) }
        switch kind {
        case 0:
            for _ in 0..<Int.random(in: 1...8, using: &random) where !payload.isEmpty {
                payload[position()] ^= 1 << UInt8.random(in: 0...7, using: &random)
            }
            return Case(name: "\(name) with flipped bits", bytes: framed(payload), expectation: .either)
        case 1:
            for _ in 0..<Int.random(in: 1...4, using: &random) where !payload.isEmpty {
                payload[position()] = [0x00, 0xFF, 0x7F, 0x80].randomElement(using: &random)!
            }
            return Case(name: "\(name) with boundary bytes", bytes: framed(payload), expectation: .either)
        case 2:
            // A length or count field set to an extreme.
            let value = [UInt32(0x7FFF_FFFF), 0xFFFF_FFFF, 0x8000_0000, 0, 0x0000_FFFF].randomElement(using: &random)!
            let at = min(position(), max(0, payload.count - 4))
            for (offset, byte) in withUnsafeBytes(of: value.bigEndian, Array.init).enumerated() where at + offset < payload.count {
                payload[at + offset] = byte
            }
            return Case(name: "\(name) with an extreme int32 at \(at)", bytes: framed(payload), expectation: .either)
        case 3:
            let length = Int.random(in: 0..<max(1, payload.count), using: &random)
            return Case(name: "\(name) cut to \(length) bytes", bytes: framed(Array(payload.prefix(length))), expectation: .either)
        case 4:
            return Case(name: "\(name) with trailing garbage", bytes: framed(payload + random.bytes(Int.random(in: 1...64, using: &random))),
                        expectation: .either)
        case 5:
            // The size says more than is sent; nothing more comes.
            let missing = Int.random(in: 1...1000, using: &random)
            return Case(name: "\(name) whose size claims \(missing) more bytes", bytes: sizePrefix(payload.count + missing) + payload,
                        expectation: .closedAfterPartialFrameTimeout)
        case 6:
            // The size says less: the rest reads as the next frame.
            let short = Int.random(in: 1...max(1, payload.count), using: &random)
            return Case(name: "\(name) whose size claims \(short) bytes fewer", bytes: sizePrefix(max(0, payload.count - short)) + payload,
                        expectation: .either)
        case 7:
            if payload.count >= 4 {
                let version = Int16.random(in: .min ... .max, using: &random)
                payload[2] = UInt8(truncatingIfNeeded: version >> 8)
                payload[3] = UInt8(truncatingIfNeeded: version)
            }
            return Case(name: "\(name) claiming another version", bytes: framed(payload), expectation: .either)
        default:
            // An over-long varint where flexible versions read lengths.
            let at = position()
            payload.replaceSubrange(at..<min(payload.count, at + 10), with: [UInt8](repeating: 0xFF, count: 10))
            return Case(name: "\(name) with an over-long varint at \(at)", bytes: framed(payload), expectation: .either)
        }
    }

    // MARK: - Garbage and lying lengths

    /// Garbage of several kinds, chosen by `random`. `maxFrameSize` is the broker's `socket.request.max.bytes`.
    public static func garbage(maxFrameSize: Int, using random: inout SeededGenerator) -> Case {
        switch Int.random(in: 0..<7, using: &random) {
        case 0:
            let count = Int.random(in: 1...512, using: &random)
            return Case(name: "random bytes", bytes: random.bytes(count), expectation: .either)
        case 1:
            let count = Int.random(in: 0...2048, using: &random)
            return Case(name: "a frame of random bytes", bytes: framed(random.bytes(count)), expectation: .either)
        case 2:
            // A request header the broker knows (API key and version in range), then a random body.
            let key = [ApiKey.produce, .fetch, .metadata, .joinGroup, .offsetCommit, .createTopics].randomElement(using: &random)!
            let header: [UInt8] = withUnsafeBytes(of: key.rawValue.bigEndian, Array.init) + [0, 3, 0, 0, 0, 9, 0, 1, 0x68]
            return Case(name: "a \(key) v3 header with a garbage body",
                        bytes: framed(header + random.bytes(Int.random(in: 0...256, using: &random))), expectation: .either)
        case 3:
            let size = Int.random(in: (maxFrameSize + 1)...Int(Int32.max), using: &random)
            return Case(name: "a size prefix of \(size) bytes, over the limit", bytes: sizePrefix(size) + random.bytes(16),
                        expectation: .closed)
        case 4:
            let size = Int32.random(in: .min ... -1, using: &random)
            return Case(name: "a negative size prefix \(size)", bytes: withUnsafeBytes(of: size.bigEndian, Array.init),
                        expectation: .closed)
        case 5:
            // As large as allowed, then a trickle that stops: the broker holds room for it until the timeout.
            return Case(name: "a frame of the largest size allowed, barely started", bytes: sizePrefix(maxFrameSize) + random.bytes(10),
                        expectation: .closedAfterPartialFrameTimeout)
        default:
            return Case(name: "an empty frame", bytes: sizePrefix(0), expectation: .closed)
        }
    }

    public static func sizePrefix(_ size: Int) -> [UInt8] {
        withUnsafeBytes(of: Int32(truncatingIfNeeded: size).bigEndian, Array.init)
    }

    public static func framed(_ payload: [UInt8]) -> [UInt8] {
        sizePrefix(payload.count) + payload
    }
}
