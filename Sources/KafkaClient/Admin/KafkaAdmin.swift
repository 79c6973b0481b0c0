import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A Kafka admin client: creates, describes and deletes topics, reads and alters configs, inspects and manages
/// consumer groups and their offsets, looks up and deletes records, elects leaders.
///
/// ```swift
/// let admin = try KafkaAdmin(configuration: AdminConfiguration(bootstrapServers: "127.0.0.1:9092"))
/// try await admin.createTopics([NewTopic(name: "orders", partitions: 6, configs: ["retention.ms": "86400000"])])
/// for row in try await admin.groupLag("billing") {
///     print(row.topic, row.partition, row.committed ?? -1, row.endOffset, row.lag ?? -1)
/// }
/// try await admin.resetGroupOffsets("billing", topic: "orders", to: .earliest)
/// await admin.close()
/// ```
///
/// Each call goes where Kafka wants it: topic creation and deletion, new partitions and leader elections to the
/// controller; group calls to the group's coordinator (found with FindCoordinator and cached); offset lookups and
/// record deletion to each partition's leader; the rest to any broker. Retriable errors (NOT_CONTROLLER,
/// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, a moved leader, a lost connection) are retried after the
/// routing is refreshed, with `retry.backoff.ms` between attempts, until `default.api.timeout.ms`
/// (``AdminConfiguration/defaultApiTimeout``); other errors are thrown at once as ``KafkaAdminError``. Calls
/// that name several resources complete the others before throwing for one that failed.
///
/// As a swift-service-lifecycle `Service`, `run()` keeps it until graceful shutdown, then closes it.
public final class KafkaAdmin: Service, Sendable {
    /// The settings the client was made with.
    public let configuration: AdminConfiguration
    let cluster: ClusterClient
    let logger: Logger
    private let closed = NIOLockedValueBox(false)

    /// Creates an admin client; it connects when the first call needs a broker.
    public init(
        configuration: AdminConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "kafka-admin")
    ) throws(KafkaAdminError) {
        try configuration.validate()
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "kafka.client_id"] = "\(configuration.client.clientId)"
        self.logger = logger
        cluster = ClusterClient(configuration: configuration.client, eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// Closes every connection; later calls throw ``KafkaAdminError/closed``.
    public func close() async {
        guard !closed.withLockedValue({ state in defer { state = true }; return state }) else { return }
        await cluster.close()
        logger.debug("admin client closed")
    }

    /// Runs until graceful shutdown (or cancellation), then closes.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    // MARK: - Retrying

    func checkOpen() throws(KafkaAdminError) {
        if closed.withLockedValue({ $0 }) { throw .closed }
    }

    /// Runs `attempt` until it returns, throws an error that is not retriable, or `default.api.timeout.ms` has
    /// passed since the first attempt; between attempts it waits `retry.backoff.ms`, doubling up to
    /// `retry.backoff.max.ms`. An attempt refreshes whatever routing its error made stale (forgetting a
    /// coordinator, marking the metadata stale) before it throws; `attempt` gets the call's deadline.
    func retrying<T>(_ operation: String, _ attempt: (NIODeadline) async throws -> T) async throws(KafkaAdminError) -> T {
        try checkOpen()
        let deadline = NIODeadline.now() + configuration.defaultApiTimeout.timeAmount
        let backoff = ExponentialBackoff(initial: configuration.client.retryBackoff.timeAmount,
                                         maximum: configuration.client.retryBackoffMax.timeAmount)
        var attempts = 0
        var last: KafkaAdminError?
        while true {
            let failure: KafkaAdminError
            do {
                return try await attempt(deadline)
            } catch {
                failure = Self.adminError(error)
            }
            try checkOpen()
            guard failure.isRetriable else { throw failure }
            // A request cut short by the deadline says less than the error that made the call retry: keep that one.
            let cutShort = if case .request(.requestTimedOut) = failure { NIODeadline.now() >= deadline } else { false }
            if !cutShort || last == nil { last = failure }
            let delay = backoff.delay(attempt: attempts)
            attempts += 1
            guard NIODeadline.now() + delay < deadline, !Task.isCancelled else {
                throw .timedOut(operation: operation, lastError: last)
            }
            logger.debug("\(operation): \(failure); retrying in \(delay.nanoseconds / 1_000_000) ms")
            try? await Task.sleep(nanoseconds: UInt64(delay.nanoseconds))
        }
    }

    /// Any error of a call as a ``KafkaAdminError``.
    static func adminError(_ error: any Error) -> KafkaAdminError {
        switch error {
        case let error as KafkaAdminError: error
        case KafkaClientError.broker(let code, let context): .broker(code, context: context)
        case let error as KafkaClientError: .request(error)
        default: .request(.malformedResponse(api: ApiKey(rawValue: -1), broker: "?", reason: "\(error)"))
        }
    }

    /// Sends `request`, waiting no longer than `request.timeout.ms` nor past the call's deadline.
    func send<Request: KafkaRequest>(_ request: Request, to connection: BrokerConnection,
                                     before deadline: NIODeadline) async throws -> Request.Response {
        let remaining = max(deadline - .now(), .milliseconds(1))
        return try await connection.send(request, timeout: min(configuration.client.requestTimeout.timeAmount, remaining))
    }

    /// The `TimeoutMs` of requests that make the broker wait (CreateTopics, DeleteRecords, ...): `request.timeout.ms`.
    var brokerTimeoutMs: Int32 { Int32(clamping: configuration.client.requestTimeout.timeAmount.nanoseconds / 1_000_000) }

    /// A broker error for `what`, with the broker's message when it sent one.
    static func brokerError(_ code: KafkaErrorCode, _ what: String, message: String? = nil) -> KafkaAdminError {
        if let message, !message.isEmpty { return .broker(code, context: "\(what) (\(message))") }
        return .broker(code, context: what)
    }

    /// A connection to the controller, for `attempt`; NOT_CONTROLLER (or a lost connection) marks the metadata
    /// stale, so the next attempt asks who the controller is now.
    func onController<T>(_ attempt: (BrokerConnection) async throws -> T) async throws -> T {
        do {
            return try await attempt(try await cluster.controllerConnection())
        } catch {
            let failure = Self.adminError(error)
            if failure.isRetriable { cluster.invalidateMetadata() }
            throw failure
        }
    }

    /// A connection to the coordinator of `group`, for `attempt`; NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE or a
    /// lost connection forgets the coordinator, so the next attempt looks it up again. `attempt` gets the
    /// coordinator's broker id too.
    func onCoordinator<T>(of group: String, _ attempt: (BrokerConnection, Int32) async throws -> T) async throws -> T {
        do {
            let node = try await cluster.coordinator(.group, key: group)
            return try await attempt(try await cluster.coordinatorConnection(.group, key: group), node)
        } catch {
            let failure = Self.adminError(error)
            switch failure {
            case .broker(.notCoordinator, _), .broker(.coordinatorNotAvailable, _), .request:
                if failure.isRetriable { cluster.forgetCoordinator(.group, key: group) }
            default: break
            }
            throw failure
        }
    }

    /// The partitions' current leaders, from a fresh Metadata answer: an unknown topic or partition fails the call;
    /// a partition without a leader is a retriable LEADER_NOT_AVAILABLE.
    func leaders(of partitions: some Collection<TopicPartition>) async throws -> [Int32: [TopicPartition]] {
        let topics = Set(partitions.map(\.topic)).sorted()
        let response = try await cluster.topicMetadata(topics)
        let described = Dictionary(response.topics.compactMap { topic in topic.name.map { ($0, topic) } },
                                   uniquingKeysWith: { first, _ in first })
        var byLeader: [Int32: [TopicPartition]] = [:]
        for partition in partitions {
            guard let topic = described[partition.topic] else {
                throw KafkaAdminError.broker(.unknownTopicOrPartition, context: "topic \(partition.topic)")
            }
            if topic.errorCode != 0 { throw KafkaAdminError.broker(KafkaErrorCode(rawValue: topic.errorCode), context: "topic \(partition.topic)") }
            guard let info = topic.partitions.first(where: { $0.partitionIndex == partition.partition }) else {
                throw KafkaAdminError.broker(.unknownTopicOrPartition, context: "partition \(partition)")
            }
            guard info.leaderId >= 0 else { throw KafkaAdminError.broker(.leaderNotAvailable, context: "partition \(partition)") }
            byLeader[info.leaderId, default: []].append(partition)
        }
        return byLeader
    }

    /// A connection to broker `node` (a partition's leader, or a broker asked for its groups); a failure marks the
    /// metadata stale, as the broker may be gone and leadership moved.
    func brokerConnection(_ node: Int32) async throws -> BrokerConnection {
        do {
            return try await cluster.connection(to: node).get()
        } catch {
            cluster.invalidateMetadata()
            throw error
        }
    }
}

extension Collection where Element == TopicPartition {
    /// The partitions by topic, topics and partitions in order (how requests list them).
    var byTopic: [(topic: String, partitions: [Int32])] {
        Dictionary(grouping: self, by: \.topic).sorted { $0.key < $1.key }.map { ($0.key, $0.value.map(\.partition).sorted()) }
    }
}
