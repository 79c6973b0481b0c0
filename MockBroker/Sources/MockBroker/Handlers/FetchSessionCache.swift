import KafkaProtocol
import NIOConcurrencyHelpers

/// A partition a fetch asks for.
struct FetchTarget: Sendable, Hashable {
    struct Key: Hashable, Sendable {
        /// Empty when a v13+ request names a topic id the broker does not know.
        var topic: String
        var topicId: KafkaUUID
        var partition: Int32
    }

    var key: Key
    var fetchOffset: Int64
    var maxBytes: Int32
    var currentLeaderEpoch: Int32
}

/// Incremental fetch sessions (KIP-227): a consumer fetching many partitions sends the full list once, then
/// only what changed; the broker answers only partitions with news.
///
/// Session id 0 with epoch -1 is a plain full fetch; epoch 0 asks for a new session; later epochs must follow
/// the session's sequence. An epoch of -1 with a session id closes that session.
final class FetchSessionCache: Sendable {
    /// What was last sent for a partition, to tell whether it changed.
    struct SentState: Hashable, Sendable {
        var highWatermark: Int64
        var lastStableOffset: Int64
        var logStartOffset: Int64
    }

    struct Session: Sendable {
        let id: Int32
        /// The epoch the next request must carry.
        var nextEpoch: Int32
        var targets: [FetchTarget.Key: FetchTarget]
        var order: [FetchTarget.Key]
        var sent: [FetchTarget.Key: SentState]
    }

    /// How the partitions of one fetch request relate to a session.
    enum Context: Sendable {
        /// No session: read and answer every partition of the request.
        case sessionless([FetchTarget])
        /// A new session (or none if the cache is full: id 0): answer every partition.
        case full(sessionId: Int32, [FetchTarget])
        /// Answer only partitions whose data or offsets changed.
        case incremental(sessionId: Int32, [FetchTarget])
        /// The session cannot be used (unknown id, wrong epoch): a top-level error.
        case error(KafkaErrorCode, sessionId: Int32)

        var sessionId: Int32 {
            switch self {
            case .sessionless: 0
            case .full(let id, _), .incremental(let id, _), .error(_, let id): id
            }
        }

        var targets: [FetchTarget] {
            switch self {
            case .sessionless(let targets), .full(_, let targets), .incremental(_, let targets): targets
            case .error: []
            }
        }
    }

    private struct State {
        var sessions: [Int32: Session] = [:]
        /// Least recently used first.
        var recency: [Int32] = []
        var nextId: Int32 = 1
    }

    private let capacity: Int
    private let state = NIOLockedValueBox(State())

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Applies a request to the cache: creates, updates or closes its session.
    func context(sessionId: Int32, epoch: Int32, targets: [FetchTarget], forgotten: [FetchTarget.Key]) -> Context {
        state.withLockedValue { state in
            if epoch == -1 || epoch == 0 {
                if sessionId != 0 { remove(sessionId, from: &state) }
                guard epoch == 0, capacity > 0, !targets.isEmpty else { return .sessionless(targets) }
                if state.sessions.count >= capacity, let oldest = state.recency.first { remove(oldest, from: &state) }
                let id = state.nextId
                state.nextId = state.nextId == Int32.max ? 1 : state.nextId + 1
                var session = Session(id: id, nextEpoch: 1, targets: [:], order: [], sent: [:])
                for target in targets where session.targets.updateValue(target, forKey: target.key) == nil {
                    session.order.append(target.key)
                }
                state.sessions[id] = session
                state.recency.append(id)
                return .full(sessionId: id, targets)
            }
            guard var session = state.sessions[sessionId] else { return .error(.fetchSessionIdNotFound, sessionId: 0) }
            guard session.nextEpoch == epoch else { return .error(.invalidFetchSessionEpoch, sessionId: sessionId) }
            session.nextEpoch = epoch == Int32.max ? 1 : epoch + 1
            for key in forgotten {
                session.targets[key] = nil
                session.sent[key] = nil
            }
            session.order.removeAll { session.targets[$0] == nil }
            for target in targets where session.targets.updateValue(target, forKey: target.key) == nil {
                session.order.append(target.key)
            }
            state.sessions[sessionId] = session
            state.recency.removeAll { $0 == sessionId }
            state.recency.append(sessionId)
            return .incremental(sessionId: sessionId, session.order.compactMap { session.targets[$0] })
        }
    }

    /// Records what a response told the client about a partition; returns whether an incremental response
    /// must include it (it has records, an error, or changed offsets). The session's fetch offsets change only
    /// when the client sends new ones. A partition that got records goes to the end of the session's order, as
    /// Kafka's sessions do: only the first partition with data may exceed its max bytes (to return one whole
    /// batch), so each partition must get its turn at the front.
    func update(sessionId: Int32, key: FetchTarget.Key, sent: SentState, hasRecords: Bool, hasError: Bool) -> Bool {
        state.withLockedValue { state in
            guard var session = state.sessions[sessionId] else { return true }
            let changed = hasRecords || hasError || session.sent[key] != sent
            session.sent[key] = sent
            if hasRecords, let index = session.order.firstIndex(of: key) {
                session.order.append(session.order.remove(at: index))
            }
            state.sessions[sessionId] = session
            return changed
        }
    }

    private func remove(_ id: Int32, from state: inout State) {
        state.sessions[id] = nil
        state.recency.removeAll { $0 == id }
    }

    var count: Int { state.withLockedValue { $0.sessions.count } }
}
