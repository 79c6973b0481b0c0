import KafkaProtocol
import NIOCore

/// Every API the broker serves, in one place: its key, the versions ApiVersions advertises and the router
/// accepts, and the handler that answers it. ApiVersions, the router and the request counters all read this
/// table; adding an API is one line in ``ApiTable/entries(_:)`` (and its handler, in a file of its own).
struct ApiTable: Sendable {
    /// Entries indexed by API key (nil where the broker does not serve the key).
    private let byKey: [ApiEntry?]
    /// Entries in the order ApiVersions lists them.
    let all: [ApiEntry]

    init(state: BrokerState) {
        let entries = Self.entries(state)
        all = entries
        var byKey = [ApiEntry?](repeating: nil, count: Int(entries.map(\.key.rawValue).max() ?? 0) + 1)
        for entry in entries {
            precondition(byKey[Int(entry.key.rawValue)] == nil, "\(entry.key) is registered twice")
            byKey[Int(entry.key.rawValue)] = entry
        }
        self.byKey = byKey
    }

    /// The entry for `key`; nil when the broker does not serve it.
    func entry(_ key: ApiKey) -> ApiEntry? {
        let index = Int(key.rawValue)
        return index >= 0 && index < byKey.count ? byKey[index] : nil
    }

    /// The table. Kept as one list so that a merge adding APIs adds lines here and handler files, nothing else.
    private static func entries(_ state: BrokerState) -> [ApiEntry] {
        let groups = GroupHandlers(state: state)
        return [
            // Produce v0–2 are advertised but refused, as Kafka 4 does: librdkafka mishandles a Produce range that
            // does not start at 0 (KAFKA-18659).
            .typed(ProduceRequest.self, advertised: 0...ProduceRequest.versions.upperBound, ProduceHandler(state: state).handle),
            .typed(FetchRequest.self, FetchHandler(state: state).handle),
            .typed(ListOffsetsRequest.self, ListOffsetsHandler(state: state).handle),
            .typed(MetadataRequest.self, MetadataHandler(state: state).handle),
            .raw(ApiVersionsRequest.self, ApiVersionsHandler(state: state).handle),
            .typed(CreateTopicsRequest.self, CreateTopicsHandler(state: state).handle),
            .typed(DeleteTopicsRequest.self, DeleteTopicsHandler(state: state).handle),
            .typed(InitProducerIdRequest.self, InitProducerIdHandler(state: state).handle),
            .typed(OffsetForLeaderEpochRequest.self, OffsetForLeaderEpochHandler(state: state).handle),
            .typed(DescribeConfigsRequest.self, DescribeConfigsHandler(state: state).handle),
            .typed(CreatePartitionsRequest.self, CreatePartitionsHandler(state: state).handle),
            .typed(DeleteRecordsRequest.self, DeleteRecordsHandler(state: state).handle),
            // librdkafka turns LZ4 (and group support) on only when FindCoordinator's range includes v0.
            .typed(FindCoordinatorRequest.self, FindCoordinatorHandler(state: state).handle),
            // The classic group protocol. librdkafka 2.0 needs JoinGroup from v0 and OffsetCommit v2 / OffsetFetch
            // v1 among the ranges; kafka-python uses the oldest versions.
            .typed(JoinGroupRequest.self, groups.joinGroup),
            .typed(SyncGroupRequest.self, groups.syncGroup),
            .typed(HeartbeatRequest.self, groups.heartbeat),
            .typed(LeaveGroupRequest.self, groups.leaveGroup),
            .typed(OffsetCommitRequest.self, groups.offsetCommit),
            .typed(OffsetFetchRequest.self, groups.offsetFetch),
            .typed(DescribeGroupsRequest.self, groups.describeGroups),
            .typed(ListGroupsRequest.self, groups.listGroups),
            .typed(DeleteGroupsRequest.self, groups.deleteGroups),
            .typed(OffsetDeleteRequest.self, OffsetDeleteHandler(state: state).handle),
            // Administration.
            .typed(IncrementalAlterConfigsRequest.self, IncrementalAlterConfigsHandler(state: state).handle),
            .typed(DescribeClusterRequest.self, DescribeClusterHandler(state: state).handle),
            .typed(ElectLeadersRequest.self, ElectLeadersHandler(state: state).handle),
        ]
    }
}
