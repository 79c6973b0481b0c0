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

/// The live counters behind ``BrokerStatistics``.
final class BrokerCounters: Sendable {
    private let values = NIOLockedValueBox(BrokerStatistics())
    private let fileRegionBytes = Counter(label: "mock_broker_fetch_bytes", dimensions: [("path", "file_region")])
    private let copiedBytes = Counter(label: "mock_broker_fetch_bytes", dimensions: [("path", "copied")])
    private let producedBytes = Counter(label: "mock_broker_produced_bytes")

    var snapshot: BrokerStatistics { values.withLockedValue { $0 } }

    func sentByFileRegion(_ bytes: Int) {
        values.withLockedValue { $0.fetchBytesSentByFileRegion += Int64(bytes) }
        fileRegionBytes.increment(by: Int64(bytes))
    }

    func copied(_ bytes: Int) {
        values.withLockedValue { $0.fetchBytesCopied += Int64(bytes) }
        copiedBytes.increment(by: Int64(bytes))
    }

    func produced(_ bytes: Int) {
        values.withLockedValue { $0.producedBytes += Int64(bytes) }
        producedBytes.increment(by: Int64(bytes))
    }

    func request(_ api: String) {
        values.withLockedValue { $0.requests[api, default: 0] += 1 }
    }

    func connectionAccepted() {
        values.withLockedValue { $0.connectionsAccepted += 1 }
    }

    func connectionClosedForBadInput() {
        values.withLockedValue { $0.connectionsClosedForBadInput += 1 }
    }

    func connectionRefused() {
        values.withLockedValue { $0.connectionsRefused += 1 }
    }

    func connectionClosedIdle() {
        values.withLockedValue { $0.connectionsClosedIdle += 1 }
    }

    func connectionClosedForIncompleteFrame() {
        values.withLockedValue { $0.connectionsClosedForIncompleteFrame += 1 }
    }
}
