import Logging
import NIOConcurrencyHelpers

/// Everything request handlers share: configuration, topics, producer ids, fetch sessions, counters.
final class BrokerState: Sendable {
    let configuration: MockBrokerConfiguration
    let topics: TopicRegistry
    let producerIds: ProducerIdManager
    let fetchSessions: FetchSessionCache
    let counters: BrokerCounters
    let faults = FaultInjector()
    let logger: Logger
    private let boundPort = NIOLockedValueBox(0)

    init(configuration: MockBrokerConfiguration, dataDirectory: String, logger: Logger) {
        self.configuration = configuration
        topics = TopicRegistry(dataDirectory: dataDirectory, defaults: configuration.log)
        producerIds = ProducerIdManager(dataDirectory: dataDirectory)
        fetchSessions = FetchSessionCache(capacity: configuration.maxFetchSessions)
        counters = BrokerCounters()
        self.logger = logger
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
