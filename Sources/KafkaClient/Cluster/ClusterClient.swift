import KafkaProtocol
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore

/// A client's view of the cluster: one connection per broker and purpose (made on demand, with exponential
/// reconnect backoff and jitter) and the latest metadata. The producer and the consumer each own one.
///
/// Every connection runs on one event loop, `eventLoop`, which is also where the client's driver (the
/// producer's sender, the consumer's fetcher) runs: a request is written and its response handled without a hop
/// between threads.
final class ClusterClient: Sendable {
    let configuration: ClientConfiguration
    let eventLoop: any EventLoop
    let logger: Logger
    /// Everything mutable, behind one lock (the routing extension shares it).
    let state = NIOLockedValueBox(State())

    struct State {
        var metadata = ClusterMetadata()
        var lastRefresh: NIODeadline?
        var connections: [ConnectionKey: Slot] = [:]
        /// The refresh under way, with what it asks for.
        var refresh: (future: EventLoopFuture<ClusterMetadata>, topics: Set<String>, allowAutoTopicCreation: Bool)?
        /// Topics the client uses; periodic refreshes ask for these.
        var topics: Set<String> = []
        var nextBootstrap = 0
        var closed = false
        /// When a failed connection to each node was last logged as a warning.
        var lastConnectionWarning: [Int32: NIODeadline] = [:]
        /// Coordinators found with FindCoordinator, by type and key.
        var coordinators: [CoordinatorKey: Int32] = [:]
    }

    /// What a connection is for. Group coordination gets its own connection to the coordinator: a broker answers
    /// a connection's requests in order, so a JoinGroup or commit must not wait behind a fetch long-poll (the Java
    /// client does the same).
    enum Purpose: Sendable, Hashable {
        case data
        case coordination
    }

    struct ConnectionKey: Hashable {
        var node: Int32
        var purpose: Purpose
    }

    enum Slot {
        case connecting(EventLoopFuture<BrokerConnection>)
        case connected(BrokerConnection)
        /// `reason`: why the last attempt failed (reported while waiting to try again).
        case failed(attempts: Int, retryAt: NIODeadline, reason: String)
    }

    /// `kafka_client_connections`: connections open to brokers; `kafka_client_connection_failures_total`: attempts
    /// that failed (both with the dimension `client_id`).
    private let openConnections: Gauge
    private let connectionFailures: Counter

    init(configuration: ClientConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        openConnections = Gauge(label: "kafka_client_connections", dimensions: [("client_id", configuration.clientId)],
                                factory: configuration.metrics)
        connectionFailures = Counter(label: "kafka_client_connection_failures_total", dimensions: [("client_id", configuration.clientId)],
                                     factory: configuration.metrics)
        self.configuration = configuration
        eventLoop = eventLoopGroup.next()
        self.logger = logger
    }

    /// The latest metadata.
    var metadata: ClusterMetadata { state.withLockedValue { $0.metadata } }

    /// Whether the metadata is older than `metadata.max.age.ms` (or was never fetched).
    var metadataIsStale: Bool {
        state.withLockedValue { state in
            guard let last = state.lastRefresh else { return true }
            return NIODeadline.now() - last >= configuration.metadataMaxAge.timeAmount
        }
    }

    // MARK: - Connections

    /// Bootstrap servers get negative node ids, so they never clash with broker ids.
    private func address(of node: Int32, in state: State) -> BrokerAddress? {
        if node < 0 {
            let index = Int(-node) - 1
            return index < configuration.bootstrapServers.count ? configuration.bootstrapServers[index] : nil
        }
        return state.metadata.brokers[node]
    }

    /// The connection to `node` for `purpose`, connecting if there is none. Fails at once while it is backing off
    /// after a failed attempt.
    func connection(to node: Int32, for purpose: Purpose = .data) -> EventLoopFuture<BrokerConnection> {
        let key = ConnectionKey(node: node, purpose: purpose)
        let decision: Result<EventLoopFuture<BrokerConnection>, Error> = state.withLockedValue { state in
            guard !state.closed else { return .failure(KafkaClientError.connectionClosed(broker: "node \(node)")) }
            switch state.connections[key] {
            case .connected(let connection) where connection.isActive:
                return .success(eventLoop.makeSucceededFuture(connection))
            case .connecting(let future):
                return .success(future)
            case .failed(_, let retryAt, let reason) where NIODeadline.now() < retryAt:
                let broker = address(of: node, in: state).map(\.description) ?? "node \(node)"
                return .failure(KafkaClientError.connectionFailed(broker: broker, reason: "\(reason) (waiting to reconnect)"))
            default:
                guard let address = address(of: node, in: state) else {
                    return .failure(KafkaClientError.connectionFailed(broker: "node \(node)", reason: "unknown broker"))
                }
                let attempts: Int = if case .failed(let attempts, _, _) = state.connections[key] { attempts } else { 0 }
                let future = connect(key, address: address, attempts: attempts, on: eventLoop)
                state.connections[key] = .connecting(future)
                return .success(future)
            }
        }
        switch decision {
        case .success(let future): return future
        case .failure(let error): return eventLoop.makeFailedFuture(error)
        }
    }

    private func connect(_ key: ConnectionKey, address: BrokerAddress, attempts: Int, on eventLoop: any EventLoop) -> EventLoopFuture<BrokerConnection> {
        let configuration = self.configuration
        let group = eventLoop
        let future = eventLoop.makeFutureWithTask {
            try await BrokerConnection.connect(host: address.host, port: address.port,
                                               configuration: configuration.connection, eventLoopGroup: group)
        }
        let backoff = ExponentialBackoff(initial: configuration.reconnectBackoff.timeAmount, maximum: configuration.reconnectBackoffMax.timeAmount)
        future.whenComplete { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let connection):
                let keep = self.state.withLockedValue { state -> Bool in
                    guard !state.closed else { return false }
                    state.connections[key] = .connected(connection)
                    return true
                }
                guard keep else {
                    Task { await connection.close() }
                    return
                }
                self.logger.debug("connected to \(address) (node \(key.node), \(key.purpose))")
                self.openConnections.record(self.connectedCount)
                connection.closeFuture.whenComplete { [weak self] _ in self?.connectionClosed(key, connection) }
            case .failure(let error):
                self.connectionFailures.increment()
                let delay = backoff.delay(attempt: attempts)
                let warn = self.state.withLockedValue { state -> Bool in
                    let reason = if case KafkaClientError.connectionFailed(_, let reason) = error { reason } else { "\(error)" }
                    state.connections[key] = .failed(attempts: attempts + 1, retryAt: .now() + delay, reason: reason)
                    // The user must see that a broker cannot be reached: a warning when a streak of failures
                    // starts, then at most one per half minute per broker (each attempt is logged at debug).
                    let now = NIODeadline.now()
                    guard attempts == 0 || state.lastConnectionWarning[key.node].map({ now - $0 >= .seconds(30) }) ?? true else {
                        return false
                    }
                    state.lastConnectionWarning[key.node] = now
                    return true
                }
                let message: Logger.Message = "connecting to \(address) failed: \(error); retrying in \(delay.nanoseconds / 1_000_000) ms"
                if warn {
                    self.logger.warning(message, metadata: ["kafka.broker": "\(address)", "kafka.node": "\(key.node)"])
                } else {
                    self.logger.debug(message)
                }
            }
        }
        return future
    }

    /// Connections open now.
    private var connectedCount: Int {
        state.withLockedValue { state in
            state.connections.values.reduce(0) { count, slot in
                if case .connected = slot { count + 1 } else { count }
            }
        }
    }

    /// Closes the connection to `node` for `purpose`, if there is one: requests waiting on it fail, and the next
    /// request opens a new connection.
    func closeConnection(to node: Int32, for purpose: Purpose) async {
        let connection = state.withLockedValue { state -> BrokerConnection? in
            let key = ConnectionKey(node: node, purpose: purpose)
            guard case .connected(let connection) = state.connections[key] else { return nil }
            state.connections[key] = nil
            return connection
        }
        await connection?.close()
    }

    private func connectionClosed(_ key: ConnectionKey, _ connection: BrokerConnection) {
        state.withLockedValue { state in
            if case .connected(let current) = state.connections[key], current === connection {
                state.connections[key] = nil
                // A broker going away may mean leadership moved.
                state.lastRefresh = nil
            }
        }
        logger.debug("connection to node \(key.node) (\(key.purpose)) closed")
        openConnections.record(connectedCount)
    }

    /// A node to ask for metadata: a connected broker if any, else a known one, else the next bootstrap server.
    func metadataNode() -> Int32 {
        state.withLockedValue { state in
            if let connected = state.connections.first(where: { entry in
                guard entry.key.purpose == .data, case .connected(let connection) = entry.value else { return false }
                return connection.isActive
            }) {
                return connected.key.node
            }
            let slots = state.connections
            let ready = { (node: Int32) -> Bool in
                if case .failed(_, let retryAt, _) = slots[ConnectionKey(node: node, purpose: .data)] { return NIODeadline.now() >= retryAt }
                return true
            }
            if let known = state.metadata.brokers.keys.sorted().first(where: ready) { return known }
            let count = max(configuration.bootstrapServers.count, 1)
            for _ in 0..<count {
                let node = Int32(-(state.nextBootstrap % count) - 1)
                state.nextBootstrap += 1
                if ready(node) { return node }
            }
            return Int32(-(state.nextBootstrap % count) - 1)
        }
    }

    // MARK: - Metadata

    /// Adds topics to those periodic refreshes ask about.
    func track(_ topics: some Sequence<String>) {
        state.withLockedValue { $0.topics.formUnion(topics) }
    }

    /// Refreshes metadata for the tracked topics (and `topics`), joining a refresh already under way when that one
    /// asks for all of them. Tries up to one node per known broker and bootstrap server before failing.
    func refreshMetadata(adding topics: Set<String> = [], allowAutoTopicCreation: Bool = true) -> EventLoopFuture<ClusterMetadata> {
        let promise = eventLoop.makePromise(of: ClusterMetadata.self)
        let start: (wanted: Set<String>, attempts: Int)? = state.withLockedValue { state in
            state.topics.formUnion(topics)
            if let running = state.refresh, topics.isSubset(of: running.topics),
               running.allowAutoTopicCreation || !allowAutoTopicCreation {
                promise.completeWith(running.future)
                return nil
            }
            state.refresh = (promise.futureResult, state.topics, allowAutoTopicCreation)
            return (state.topics, max(1, state.metadata.brokers.count + configuration.bootstrapServers.count))
        }
        guard let start else { return promise.futureResult }
        // Started outside the lock: choosing a node and connecting take it again.
        fetchMetadata(topics: start.wanted, allowAutoTopicCreation: allowAutoTopicCreation, attemptsLeft: start.attempts,
                      on: eventLoop).cascade(to: promise)
        promise.futureResult.whenComplete { [weak self] _ in
            self?.state.withLockedValue { state in
                if state.refresh?.future === promise.futureResult { state.refresh = nil }
            }
        }
        return promise.futureResult
    }

    private func fetchMetadata(topics: Set<String>, allowAutoTopicCreation: Bool, attemptsLeft: Int,
                               on eventLoop: any EventLoop) -> EventLoopFuture<ClusterMetadata> {
        let node = metadataNode()
        let request = MetadataRequest(topics: topics.sorted().map { .init(name: $0) },
                                      allowAutoTopicCreation: allowAutoTopicCreation)
        return connection(to: node).flatMap { connection in
            connection.sendRequest(request)
        }.map { [weak self] response -> ClusterMetadata in
            guard let self else { return ClusterMetadata() }
            return self.state.withLockedValue { state in
                state.metadata.merge(response, requestedAll: false)
                state.lastRefresh = .now()
                return state.metadata
            }
        }.flatMapError { [weak self] error in
            guard let self, attemptsLeft > 1 else { return eventLoop.makeFailedFuture(error) }
            self.logger.debug("metadata from node \(node) failed: \(error)")
            return self.fetchMetadata(topics: topics, allowAutoTopicCreation: allowAutoTopicCreation,
                                      attemptsLeft: attemptsLeft - 1, on: eventLoop)
        }
    }

    /// Records a broker's address learned outside Metadata (a FindCoordinator answer).
    func learnBroker(_ node: Int32, address: BrokerAddress) {
        state.withLockedValue { state in
            if state.metadata.brokers[node] == nil { state.metadata.brokers[node] = address }
        }
    }

    /// Moves a partition to the leader a response named (KIP-951) if its epoch is newer than ours; otherwise the
    /// metadata is marked stale. The leader's address may come with the response (`NodeEndpoints`).
    func learnLeader(topic: String, partition: Int32, leader: Int32, epoch: Int32, address: BrokerAddress?) {
        state.withLockedValue { state in
            if !state.metadata.updateLeader(topic: topic, partition: partition, leader: leader, epoch: epoch, address: address) {
                state.lastRefresh = nil
            }
        }
    }

    /// Marks the metadata stale, so that the next check refreshes it (after NOT_LEADER_OR_FOLLOWER and friends).
    func invalidateMetadata() {
        state.withLockedValue { $0.lastRefresh = nil }
    }

    // MARK: - Closing

    func close() async {
        let connections = state.withLockedValue { state -> [BrokerConnection] in
            state.closed = true
            let open = state.connections.values.compactMap { slot -> BrokerConnection? in
                if case .connected(let connection) = slot { return connection }
                return nil
            }
            state.connections = [:]
            return open
        }
        for connection in connections { await connection.close() }
    }
}
