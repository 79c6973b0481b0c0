import KafkaProtocol

/// What a leader election did for one partition.
public enum LeaderElectionResult: Sendable, Hashable {
    /// A new leader was elected.
    case elected
    /// The wanted leader already leads (ELECTION_NOT_NEEDED).
    case notNeeded
    /// The election failed; the broker's code and message.
    case failed(KafkaErrorCode, message: String?)
}
