/// The appends of produce requests that arrived together on one connection, done together once the connection
/// has routed them all: each partition's batches in one write (``PartitionLog/append(_:)``), then each request is
/// told its outcomes. A client pipelining requests of small batches (10 KB records in Java's default 16 KB
/// `batch.size` make one-record batches) then costs the broker one write per partition per read, not per request.
///
/// `@unchecked Sendable`: it travels in the `Sendable` ``RequestContext``, but is made, filled and committed on the
/// connection's event loop only.
final class AppendGroup: @unchecked Sendable {
    typealias Outcome = Result<PartitionLog.AppendResult, PartitionLog.AppendError>

    private var requests: [(appends: [(log: PartitionLog, append: PartitionLog.Append)], done: ([Outcome]) -> Void)] = []

    /// Adds one request's appends; at ``commit()``, `done` gets their outcomes in the same order.
    func add(_ appends: [(log: PartitionLog, append: PartitionLog.Append)], done: @escaping ([Outcome]) -> Void) {
        requests.append((appends, done))
    }

    /// Appends everything added, each partition's batches in the order they were added, and tells each request.
    func commit() {
        let requests = self.requests
        self.requests = []
        // Requests from one client name their partitions in the same order, so a request's i-th partition is
        // looked for at position i first.
        var logs: [(log: PartitionLog, appends: [PartitionLog.Append], slots: [(request: Int, index: Int)])] = []
        for (request, added) in requests.enumerated() {
            for (index, item) in added.appends.enumerated() {
                let position = index < logs.count && logs[index].log === item.log ? index
                    : logs.firstIndex { $0.log === item.log }
                if let position {
                    logs[position].appends.append(item.append)
                    logs[position].slots.append((request, index))
                } else {
                    logs.append((item.log, [item.append], [(request, index)]))
                }
            }
        }
        var outcomes = requests.map { [Outcome](repeating: .failure(.closed), count: $0.appends.count) }
        for (log, appends, slots) in logs {
            for (slot, outcome) in zip(slots, log.append(appends)) { outcomes[slot.request][slot.index] = outcome }
        }
        for (request, outcome) in zip(requests, outcomes) { request.done(outcome) }
    }
}
