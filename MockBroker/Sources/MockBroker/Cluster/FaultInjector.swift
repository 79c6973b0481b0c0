import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore

/// A fault the broker injects into its answers, for testing how clients cope.
public struct Fault: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        /// Answer with this error instead of handling: the matching partitions of a Produce, Fetch or ListOffsets
        /// (needs `topic`), or the whole request of a group API or FindCoordinator (needs `group`).
        case error(KafkaErrorCode)
        /// Hold the answer back this long.
        case delay(milliseconds: Int64)
        /// Handle the request (a Produce is appended), then close the connection instead of answering: the client
        /// sees a lost response and retries.
        case dropResponse
        /// Close the connection without handling the request.
        case closeConnection
    }

    public var api: ApiKey
    /// Only requests touching this topic (and partition), when set.
    public var topic: String?
    public var partition: Int32?
    /// Only requests for this group (group APIs, FindCoordinator), when set.
    public var group: String?
    public var action: Action
    /// How many matching requests get the fault.
    public var count: Int

    public init(api: ApiKey, topic: String? = nil, partition: Int32? = nil, group: String? = nil, action: Action, count: Int = 1) {
        self.api = api
        self.topic = topic
        self.partition = partition
        self.group = group
        self.action = action
        self.count = count
    }
}

/// The faults waiting to be injected. Each use of a fault counts down its `count`.
final class FaultInjector: Sendable {
    private let faults = NIOLockedValueBox<[Fault]>([])

    func add(_ fault: Fault) {
        faults.withLockedValue { $0.append(fault) }
    }

    func clear() {
        faults.withLockedValue { $0.removeAll() }
    }

    var pending: [Fault] { faults.withLockedValue { $0 } }

    /// Takes one use of the first request-wide fault (delay, drop, close) for `api` that matches. `partitions`, the
    /// ones the request touches, is called only when a fault for `api` names a topic, not for every request.
    func take(api: ApiKey, partitions: () -> [(String, Int32)] = { [] }) -> Fault? {
        let scoped = faults.withLockedValue { $0.contains { $0.api == api && $0.topic != nil } }
        let touched = scoped ? partitions() : []
        return faults.withLockedValue { faults in
            guard let index = faults.firstIndex(where: { fault in
                guard fault.api == api, fault.count > 0 else { return false }
                if case .error = fault.action { return false }
                guard let topic = fault.topic else { return true }
                return touched.contains { $0.0 == topic && (fault.partition == nil || fault.partition == $0.1) }
            }) else { return nil }
            let fault = faults[index]
            faults[index].count -= 1
            if faults[index].count <= 0 { faults.remove(at: index) }
            return fault
        }
    }

    /// Whether a request-wide fault (delay, drop, close) for `api` is waiting.
    func hasRequestFault(api: ApiKey) -> Bool {
        faults.withLockedValue { faults in
            faults.contains { fault in
                if case .error = fault.action { return false }
                return fault.api == api && fault.count > 0
            }
        }
    }

    /// For Produce: the error a partition gets instead of an append, if a fault says so.
    func produceError(topic: String, partition: Int32) -> KafkaErrorCode? {
        partitionError(api: .produce, topic: topic, partition: partition)
    }

    /// For the group APIs and FindCoordinator: the error the request about `group` gets instead of being handled,
    /// if a fault says so.
    func groupError(api: ApiKey, group: String) -> KafkaErrorCode? {
        faults.withLockedValue { faults in
            guard let index = faults.firstIndex(where: { fault in
                guard fault.api == api, fault.count > 0, case .error = fault.action else { return false }
                return fault.group == group
            }), case .error(let code) = faults[index].action else { return nil }
            faults[index].count -= 1
            if faults[index].count <= 0 { faults.remove(at: index) }
            return code
        }
    }

    /// For Produce, Fetch and ListOffsets: the error a partition gets instead of being handled, if a fault says so.
    func partitionError(api: ApiKey, topic: String, partition: Int32) -> KafkaErrorCode? {
        faults.withLockedValue { faults in
            guard let index = faults.firstIndex(where: { fault in
                guard fault.api == api, fault.count > 0, case .error = fault.action, let wanted = fault.topic else { return false }
                return wanted == topic && (fault.partition == nil || fault.partition == partition)
            }), case .error(let code) = faults[index].action else { return nil }
            faults[index].count -= 1
            if faults[index].count <= 0 { faults.remove(at: index) }
            return code
        }
    }
}
