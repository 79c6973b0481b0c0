import KafkaProtocol

/// The APIs and versions the broker answers, as ApiVersions advertises them.
enum SupportedApis {
    struct Range: Sendable {
        let key: ApiKey
        /// What ApiVersions advertises.
        let advertised: ClosedRange<Int16>
        /// What the broker accepts (Produce v0–2 are advertised but refused, as Kafka 4 does: librdkafka
        /// mishandles a Produce range that does not start at 0, KAFKA-18659).
        let accepted: ClosedRange<Int16>
    }

    static let all: [Range] = [
        Range(key: .produce, advertised: 0...ProduceRequest.versions.upperBound, accepted: ProduceRequest.versions),
        range(FetchRequest.self),
        range(ListOffsetsRequest.self),
        range(MetadataRequest.self),
        range(ApiVersionsRequest.self),
        range(CreateTopicsRequest.self),
        range(DeleteTopicsRequest.self),
        range(InitProducerIdRequest.self),
        range(OffsetForLeaderEpochRequest.self),
        range(DescribeConfigsRequest.self),
        range(CreatePartitionsRequest.self),
        range(DeleteRecordsRequest.self),
        // librdkafka turns LZ4 (and group support) on only when FindCoordinator's range includes v0.
        range(FindCoordinatorRequest.self),
        // The classic group protocol. librdkafka 2.0 needs JoinGroup from v0 and OffsetCommit v2 / OffsetFetch v1
        // among the ranges; kafka-python uses the oldest versions.
        range(JoinGroupRequest.self),
        range(SyncGroupRequest.self),
        range(HeartbeatRequest.self),
        range(LeaveGroupRequest.self),
        range(OffsetCommitRequest.self),
        range(OffsetFetchRequest.self),
        range(DescribeGroupsRequest.self),
        range(ListGroupsRequest.self),
        range(DeleteGroupsRequest.self),
        range(OffsetDeleteRequest.self),
        // Administration.
        range(IncrementalAlterConfigsRequest.self),
        range(DescribeClusterRequest.self),
        range(ElectLeadersRequest.self),
    ]

    private static func range<Request: KafkaRequest>(_: Request.Type) -> Range {
        Range(key: Request.apiKey, advertised: Request.versions, accepted: Request.versions)
    }

    static func accepts(_ key: ApiKey, version: Int16) -> Bool {
        all.contains { $0.key == key && $0.accepted.contains(version) }
    }
}
