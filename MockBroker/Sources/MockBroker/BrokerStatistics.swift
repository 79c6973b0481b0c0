import Metrics
import NIOConcurrencyHelpers

/// Counters that show what the broker did; readable from tests and exported through swift-metrics.
public struct BrokerStatistics: Sendable, Hashable {
    /// Record bytes of Fetch responses sent straight from segment files (`sendfile`).
    public var fetchBytesSentByFileRegion: Int64 = 0
    /// Record bytes of Fetch responses that were read into memory and copied to the socket.
    public var fetchBytesCopied: Int64 = 0
    /// Record bytes appended by Produce requests.
    public var producedBytes: Int64 = 0
    /// Requests handled, by API name.
    public var requests: [String: Int64] = [:]
    /// Connections accepted, and closed because of bad input (malformed or oversized frames, unsupported APIs).
    public var connectionsAccepted: Int64 = 0
    public var connectionsClosedForBadInput: Int64 = 0
    /// Connections closed as soon as they were accepted: over `max.connections` or `max.connections.per.ip`.
    public var connectionsRefused: Int64 = 0
    /// Connections closed after `connections.max.idle.ms` without a request.
    public var connectionsClosedIdle: Int64 = 0
    /// Connections closed because a request frame stayed incomplete for `socket.partial.frame.timeout.ms`.
    public var connectionsClosedForIncompleteFrame: Int64 = 0
    /// Client connections open now (0 once the broker has stopped).
    public var connectionsOpen: Int64 = 0

    func with(_ change: (inout BrokerStatistics) -> Void) -> BrokerStatistics {
        var copy = self
        change(&copy)
        return copy
    }
}

extension BrokerStatistics {
    /// One JSON object (snake_case keys), for scripts.
    public var json: String {
        let apis = requests.keys.sorted().map { "\"\($0)\":\(requests[$0]!)" }.joined(separator: ",")
        return "{\"fetch_bytes_sent_by_file_region\":\(fetchBytesSentByFileRegion),\"fetch_bytes_copied\":\(fetchBytesCopied),"
            + "\"produced_bytes\":\(producedBytes),\"connections_accepted\":\(connectionsAccepted),"
            + "\"connections_closed_for_bad_input\":\(connectionsClosedForBadInput),"
            + "\"connections_refused\":\(connectionsRefused),\"connections_closed_idle\":\(connectionsClosedIdle),"
            + "\"connections_closed_for_incomplete_frame\":\(connectionsClosedForIncompleteFrame),"
            + "\"requests\":{\(apis)}}"
    }
}

/// The live counters behind ``BrokerStatistics``, also reported through swift-metrics (names in the README's
/// observability section), each with a `broker_id` dimension.
final class BrokerCounters: Sendable {
    private let values = NIOLockedValueBox(BrokerStatistics())
    private let factory: any MetricsFactory
    private let brokerId: String
    private let fileRegionBytes: Counter
    private let copiedBytes: Counter
    private let producedBytes: Counter
    private let bytesIn: Counter
    private let bytesOut: Counter
    private let accepted: Counter
    private let closedBadInput: Counter
    private let refused: Counter
    private let closedIdle: Counter
    private let closedIncompleteFrame: Counter
    private let openConnections: Gauge
    private let groupCount: Gauge
    private let memberCount: Gauge
    /// One counter per API name (a bounded set: unserved APIs count as "unsupported").
    private let requestCounters = NIOLockedValueBox<[String: Counter]>([:])

    init(brokerId: Int32, factory: (any MetricsFactory)? = nil) {
        let factory = factory ?? MetricsSystem.factory
        self.factory = factory
        self.brokerId = String(brokerId)
        let broker = [("broker_id", self.brokerId)]
        func counter(_ label: String, _ extra: [(String, String)] = []) -> Counter {
            Counter(label: label, dimensions: broker + extra, factory: factory)
        }
        fileRegionBytes = counter("mock_broker_fetch_bytes_total", [("path", "file_region")])
        copiedBytes = counter("mock_broker_fetch_bytes_total", [("path", "copied")])
        producedBytes = counter("mock_broker_produced_bytes_total")
        bytesIn = counter("mock_broker_bytes_in_total")
        bytesOut = counter("mock_broker_bytes_out_total")
        accepted = counter("mock_broker_connections_accepted_total")
        closedBadInput = counter("mock_broker_connections_closed_total", [("reason", "bad_input")])
        refused = counter("mock_broker_connections_closed_total", [("reason", "refused")])
        closedIdle = counter("mock_broker_connections_closed_total", [("reason", "idle")])
        closedIncompleteFrame = counter("mock_broker_connections_closed_total", [("reason", "incomplete_frame")])
        openConnections = Gauge(label: "mock_broker_connections", dimensions: broker, factory: factory)
        groupCount = Gauge(label: "mock_broker_groups", dimensions: broker, factory: factory)
        memberCount = Gauge(label: "mock_broker_group_members", dimensions: broker, factory: factory)
    }

    var snapshot: BrokerStatistics { values.withLockedValue { $0 } }

    func sentByFileRegion(_ bytes: Int) {
        values.withLockedValue { $0.fetchBytesSentByFileRegion += Int64(bytes) }
        fileRegionBytes.increment(by: Int64(bytes))
        bytesOut.increment(by: Int64(bytes))
    }

    func copied(_ bytes: Int) {
        values.withLockedValue { $0.fetchBytesCopied += Int64(bytes) }
        copiedBytes.increment(by: Int64(bytes))
    }

    func produced(_ bytes: Int) {
        values.withLockedValue { $0.producedBytes += Int64(bytes) }
        producedBytes.increment(by: Int64(bytes))
    }

    /// A request of `api` arrived in a frame of `bytes` (size prefix included).
    func request(_ api: String, bytes: Int = 0) {
        values.withLockedValue { $0.requests[api, default: 0] += 1 }
        let counter = requestCounters.withLockedValue { counters in
            if let known = counters[api] { return known }
            let made = Counter(label: "mock_broker_requests_total", dimensions: [("broker_id", brokerId), ("api", api)], factory: factory)
            counters[api] = made
            return made
        }
        counter.increment()
        if bytes > 0 { bytesIn.increment(by: Int64(bytes)) }
    }

    /// Response bytes written from memory (file regions are counted by ``sentByFileRegion(_:)``).
    func responseWritten(_ bytes: Int) {
        bytesOut.increment(by: Int64(bytes))
    }

    func connectionAccepted() {
        let open = values.withLockedValue { state -> Int64 in
            state.connectionsAccepted += 1
            state.connectionsOpen += 1
            return state.connectionsOpen
        }
        accepted.increment()
        openConnections.record(open)
    }

    func connectionClosed() {
        let open = values.withLockedValue { state -> Int64 in
            state.connectionsOpen = max(0, state.connectionsOpen - 1)
            return state.connectionsOpen
        }
        openConnections.record(open)
    }

    func connectionClosedForBadInput() {
        values.withLockedValue { $0.connectionsClosedForBadInput += 1 }
        closedBadInput.increment()
    }

    func connectionRefused() {
        values.withLockedValue { $0.connectionsRefused += 1 }
        refused.increment()
    }

    func connectionClosedIdle() {
        values.withLockedValue { $0.connectionsClosedIdle += 1 }
        closedIdle.increment()
    }

    func connectionClosedForIncompleteFrame() {
        values.withLockedValue { $0.connectionsClosedForIncompleteFrame += 1 }
        closedIncompleteFrame.increment()
    }

    /// Groups the coordinator holds and their members, after a change.
    func groups(_ groups: Int, members: Int) {
        groupCount.record(groups)
        memberCount.record(members)
    }
}
