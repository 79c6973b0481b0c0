import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Everything request handlers share: configuration, topics, producer ids, fetch sessions, the group
/// coordinator, counters.
final class BrokerState: Sendable {
    let configuration: MockBrokerConfiguration
    let topics: TopicRegistry
    let producerIds: ProducerIdManager
    let fetchSessions: FetchSessionCache
    /// Groups and committed offsets, confined to one event loop of the broker.
    let groups: GroupCoordinator
    let counters: BrokerCounters
    let faults = FaultInjector()
    let logger: Logger
    private let boundPort = NIOLockedValueBox(0)

    /// Opens the offsets log (replaying it) for the group coordinator, which runs on `coordinatorLoop`.
    init(configuration: MockBrokerConfiguration, dataDirectory: String, coordinatorLoop: any EventLoop, logger: Logger) throws {
        self.configuration = configuration
        topics = TopicRegistry(dataDirectory: dataDirectory, defaults: configuration.log,
                               maxPartitions: configuration.maxPartitions)
        producerIds = ProducerIdManager(dataDirectory: dataDirectory)
        fetchSessions = FetchSessionCache(capacity: configuration.maxFetchSessions)
        counters = BrokerCounters(brokerId: configuration.nodeId, factory: configuration.metricsFactory)
        self.logger = logger
        groups = try GroupCoordinator(configuration: configuration, dataDirectory: dataDirectory, topics: topics,
                                      eventLoop: coordinatorLoop, counters: counters, logger: logger)
    }

    /// The host and port clients are told to use.
    var advertisedHost: String { configuration.advertisedHost ?? configuration.host }
    var advertisedPort: Int32 {
        get { Int32(boundPort.withLockedValue { $0 }) }
    }

    func setBoundPort(_ port: Int) {
        boundPort.withLockedValue { $0 = port }
    }

    var nodeId: Int32 { configuration.nodeId }
}
