/// A numeric error code carried in Kafka responses.
///
/// Kafka responses report failures as a signed 16-bit code, usually in a field named `ErrorCode`,
/// either for the whole response or per topic, partition or group. Zero (``none``) means success.
///
/// The type is a struct wrapping the raw value rather than an enum, so a code sent by a broker newer
/// than this library is still representable: it keeps its number, reports itself as
/// `UNKNOWN_ERROR_CODE_<n>`, and is treated as not retriable.
///
/// Every code in Kafka's protocol error table has a `static let` constant, a ``name`` (the exact Kafka
/// name, e.g. `NOT_LEADER_OR_FOLLOWER`), a retriable flag (``isRetriable``, as Kafka classifies it) and
/// a one-sentence ``explanation`` meant for someone debugging a client.
///
/// ```swift
/// let code = KafkaErrorCode(rawValue: response.errorCode)
/// if code.isError {
///     if code.isRetriable { /* back off, maybe refresh metadata, retry */ }
///     else { throw code }
/// }
/// ```
///
/// - Note: Inside an `Optional<KafkaErrorCode>` context, write `KafkaErrorCode.none` rather than `.none`,
///   which would mean `Optional.none`.
public struct KafkaErrorCode: Error, RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code exactly as it appears on the wire.
    public let rawValue: Int16

    /// Wraps any wire value, including codes this library does not know.
    @inlinable
    public init(rawValue: Int16) {
        self.rawValue = rawValue
    }
}

// MARK: - Properties

extension KafkaErrorCode {
    /// The Kafka name of the code, e.g. `"NOT_LEADER_OR_FOLLOWER"`, or `"UNKNOWN_ERROR_CODE_<n>"` for a
    /// code missing from ``allKnown``.
    public var name: String {
        Self.entry(for: rawValue)?.name ?? "UNKNOWN_ERROR_CODE_\(rawValue)"
    }

    /// Whether Kafka classifies the error as retriable: the same request may succeed if sent again,
    /// possibly after refreshing metadata or backing off. Always `false` for ``none`` and for unknown codes.
    public var isRetriable: Bool {
        Self.entry(for: rawValue)?.isRetriable ?? false
    }

    /// A one-sentence explanation of what the code means, or generic text for an unknown code.
    public var explanation: String {
        Self.entry(for: rawValue)?.explanation
            ?? "The broker returned an error code this client does not know, probably one added in a newer Kafka version."
    }

    /// Whether the code reports a failure, i.e. is anything other than ``none``.
    @inlinable
    public var isError: Bool { rawValue != 0 }

    /// Whether the code appears in Kafka's error table as known to this library (see ``allKnown``).
    public var isKnown: Bool { Self.entry(for: rawValue) != nil }

    /// The name, number and explanation, e.g.
    /// `"NOT_LEADER_OR_FOLLOWER (6): The broker is not the leader of the partition ..."`.
    public var description: String {
        "\(name) (\(rawValue)): \(explanation)"
    }

    /// Every code in Kafka's error table, in ascending numeric order.
    public static let allKnown: [KafkaErrorCode] = table.map(\.code)
}

// MARK: - Known codes

extension KafkaErrorCode {
    /// The broker hit an unexpected internal error while handling the request; the broker logs should say why.
    public static let unknownServerError = KafkaErrorCode(rawValue: -1)

    /// No error: the request or this part of it succeeded.
    public static let none = KafkaErrorCode(rawValue: 0)

    /// The requested offset is outside the range of offsets the partition currently holds, so the consumer has to reset its position.
    public static let offsetOutOfRange = KafkaErrorCode(rawValue: 1)

    /// The broker rejected a record batch as corrupt, for example because of a bad CRC, an invalid size or a null key on a compacted topic.
    public static let corruptMessage = KafkaErrorCode(rawValue: 2)

    /// The broker does not host this topic or partition, either because it does not exist or because the client's metadata is stale.
    public static let unknownTopicOrPartition = KafkaErrorCode(rawValue: 3)

    /// The fetch request asked for an invalid maximum number of bytes.
    public static let invalidFetchSize = KafkaErrorCode(rawValue: 4)

    /// No replica is currently leading the partition, typically while a leader election is running.
    public static let leaderNotAvailable = KafkaErrorCode(rawValue: 5)

    /// The broker is not the leader of the partition (or, for requests any replica may serve, not a replica of it), so the client should refresh metadata and retry.
    public static let notLeaderOrFollower = KafkaErrorCode(rawValue: 6)

    /// The broker could not complete the request before its timeout expired.
    public static let requestTimedOut = KafkaErrorCode(rawValue: 7)

    /// The broker the request refers to is not available.
    public static let brokerNotAvailable = KafkaErrorCode(rawValue: 8)

    /// The broker has no available replica for the requested partition.
    public static let replicaNotAvailable = KafkaErrorCode(rawValue: 9)

    /// A record batch exceeds the maximum message size the broker or topic allows (message.max.bytes or max.message.bytes).
    public static let messageTooLarge = KafkaErrorCode(rawValue: 10)

    /// The request came from a controller whose epoch is out of date because another broker has become controller.
    public static let staleControllerEpoch = KafkaErrorCode(rawValue: 11)

    /// The metadata string attached to an offset commit is longer than the broker allows.
    public static let offsetMetadataTooLarge = KafkaErrorCode(rawValue: 12)

    /// The connection to the broker was lost before a response came back.
    public static let networkException = KafkaErrorCode(rawValue: 13)

    /// The group or transaction coordinator is still loading its state and cannot serve the request yet.
    public static let coordinatorLoadInProgress = KafkaErrorCode(rawValue: 14)

    /// The group or transaction coordinator is not available right now.
    public static let coordinatorNotAvailable = KafkaErrorCode(rawValue: 15)

    /// The broker is not the coordinator for this group or transactional ID, so the client should look the coordinator up again.
    public static let notCoordinator = KafkaErrorCode(rawValue: 16)

    /// The topic name is invalid or the operation is not allowed on this topic.
    public static let invalidTopicException = KafkaErrorCode(rawValue: 17)

    /// A produced record batch would not fit in a log segment of the size the broker is configured with.
    public static let recordListTooLarge = KafkaErrorCode(rawValue: 18)

    /// The write was refused because fewer replicas are in sync than the topic's min.insync.replicas requires.
    public static let notEnoughReplicas = KafkaErrorCode(rawValue: 19)

    /// The records were appended to the leader's log, but fewer replicas than required were in sync to acknowledge them.
    public static let notEnoughReplicasAfterAppend = KafkaErrorCode(rawValue: 20)

    /// The produce request used an acks value other than -1, 0 or 1.
    public static let invalidRequiredAcks = KafkaErrorCode(rawValue: 21)

    /// The group generation ID in the request is not the current one, so the member has to rejoin the group.
    public static let illegalGeneration = KafkaErrorCode(rawValue: 22)

    /// The member's protocol type or list of protocols is empty or has nothing in common with the rest of the group.
    public static let inconsistentGroupProtocol = KafkaErrorCode(rawValue: 23)

    /// The group ID is empty or otherwise not valid.
    public static let invalidGroupId = KafkaErrorCode(rawValue: 24)

    /// The coordinator does not recognise this member ID, so the member has to rejoin the group.
    public static let unknownMemberId = KafkaErrorCode(rawValue: 25)

    /// The session timeout is outside the range the broker allows (group.min.session.timeout.ms to group.max.session.timeout.ms).
    public static let invalidSessionTimeout = KafkaErrorCode(rawValue: 26)

    /// A rebalance is in progress in the group, and the member must rejoin to take part in it.
    public static let rebalanceInProgress = KafkaErrorCode(rawValue: 27)

    /// The offset commit was rejected because the size of its data is not acceptable.
    public static let invalidCommitOffsetSize = KafkaErrorCode(rawValue: 28)

    /// The client is not authorized to access this topic.
    public static let topicAuthorizationFailed = KafkaErrorCode(rawValue: 29)

    /// The client is not authorized to access this group.
    public static let groupAuthorizationFailed = KafkaErrorCode(rawValue: 30)

    /// The client is not authorized to perform this cluster-wide operation.
    public static let clusterAuthorizationFailed = KafkaErrorCode(rawValue: 31)

    /// A record timestamp is outside the range the broker accepts.
    public static let invalidTimestamp = KafkaErrorCode(rawValue: 32)

    /// The broker does not offer the SASL mechanism the client asked for.
    public static let unsupportedSaslMechanism = KafkaErrorCode(rawValue: 33)

    /// This request is out of sequence for the SASL authentication exchange in progress.
    public static let illegalSaslState = KafkaErrorCode(rawValue: 34)

    /// The broker does not support the API version the request was sent with.
    public static let unsupportedVersion = KafkaErrorCode(rawValue: 35)

    /// The topic cannot be created because a topic with that name already exists.
    public static let topicAlreadyExists = KafkaErrorCode(rawValue: 36)

    /// The requested number of partitions is not valid, for example less than one.
    public static let invalidPartitions = KafkaErrorCode(rawValue: 37)

    /// The replication factor must be at least one and no more than the number of brokers available.
    public static let invalidReplicationFactor = KafkaErrorCode(rawValue: 38)

    /// The explicit assignment of replicas to brokers is not valid.
    public static let invalidReplicaAssignment = KafkaErrorCode(rawValue: 39)

    /// A configuration entry in the request is not valid.
    public static let invalidConfig = KafkaErrorCode(rawValue: 40)

    /// The broker is not the active controller, so the client should refresh metadata and send the request to the current one.
    public static let notController = KafkaErrorCode(rawValue: 41)

    /// The broker could not accept the request, most often because it is malformed or the broker is incompatible; the broker logs say more.
    public static let invalidRequest = KafkaErrorCode(rawValue: 42)

    /// The request needs a newer message format than the one the broker is configured with.
    public static let unsupportedForMessageFormat = KafkaErrorCode(rawValue: 43)

    /// The request breaks a policy configured on the broker, such as a topic creation policy.
    public static let policyViolation = KafkaErrorCode(rawValue: 44)

    /// The broker received a producer sequence number other than the next one it expected.
    public static let outOfOrderSequenceNumber = KafkaErrorCode(rawValue: 45)

    /// The producer sequence number duplicates one the broker has already written.
    public static let duplicateSequenceNumber = KafkaErrorCode(rawValue: 46)

    /// The producer used an epoch older than the current one for its producer ID.
    public static let invalidProducerEpoch = KafkaErrorCode(rawValue: 47)

    /// The transactional operation is not allowed in the transaction's current state.
    public static let invalidTxnState = KafkaErrorCode(rawValue: 48)

    /// The producer ID used is not, or is no longer, the one assigned to this transactional ID.
    public static let invalidProducerIdMapping = KafkaErrorCode(rawValue: 49)

    /// The transaction timeout is larger than the broker's transaction.max.timeout.ms.
    public static let invalidTransactionTimeout = KafkaErrorCode(rawValue: 50)

    /// Another operation on the same transaction is still in progress.
    public static let concurrentTransactions = KafkaErrorCode(rawValue: 51)

    /// The transaction coordinator that sent this request is no longer the coordinator for the producer.
    public static let transactionCoordinatorFenced = KafkaErrorCode(rawValue: 52)

    /// The client is not authorized to use this transactional ID.
    public static let transactionalIdAuthorizationFailed = KafkaErrorCode(rawValue: 53)

    /// The operation needs security features that are turned off on the broker.
    public static let securityDisabled = KafkaErrorCode(rawValue: 54)

    /// The broker skipped this operation, typically because another operation in the same batched request failed.
    public static let operationNotAttempted = KafkaErrorCode(rawValue: 55)

    /// The broker hit a disk error while accessing the log.
    public static let kafkaStorageError = KafkaErrorCode(rawValue: 56)

    /// The broker has no configured log directory with the path given in the request.
    public static let logDirNotFound = KafkaErrorCode(rawValue: 57)

    /// SASL authentication failed, for example because the credentials are wrong.
    public static let saslAuthenticationFailed = KafkaErrorCode(rawValue: 58)

    /// The broker has no state for this producer ID, for example because retention has removed all of its records.
    public static let unknownProducerId = KafkaErrorCode(rawValue: 59)

    /// The operation conflicts with a partition reassignment that is already under way.
    public static let reassignmentInProgress = KafkaErrorCode(rawValue: 60)

    /// Delegation tokens are not enabled on the broker.
    public static let delegationTokenAuthDisabled = KafkaErrorCode(rawValue: 61)

    /// The broker has no delegation token matching the request.
    public static let delegationTokenNotFound = KafkaErrorCode(rawValue: 62)

    /// The principal is neither the owner nor a renewer of the delegation token.
    public static let delegationTokenOwnerMismatch = KafkaErrorCode(rawValue: 63)

    /// Delegation token requests are refused on plaintext or one-way TLS connections and on connections authenticated with a delegation token.
    public static let delegationTokenRequestNotAllowed = KafkaErrorCode(rawValue: 64)

    /// The client is not authorized to perform this delegation token operation.
    public static let delegationTokenAuthorizationFailed = KafkaErrorCode(rawValue: 65)

    /// The delegation token is past its expiry time and can no longer be used.
    public static let delegationTokenExpired = KafkaErrorCode(rawValue: 66)

    /// The broker does not support the principal type given in the request.
    public static let invalidPrincipalType = KafkaErrorCode(rawValue: 67)

    /// The operation needs an empty group, but the group still has members.
    public static let nonEmptyGroup = KafkaErrorCode(rawValue: 68)

    /// The coordinator has no group with this ID.
    public static let groupIdNotFound = KafkaErrorCode(rawValue: 69)

    /// The broker does not know this incremental fetch session ID, so the client should start a new session.
    public static let fetchSessionIdNotFound = KafkaErrorCode(rawValue: 70)

    /// The incremental fetch session epoch is not the one the broker expects.
    public static let invalidFetchSessionEpoch = KafkaErrorCode(rawValue: 71)

    /// The partition leader exposes no listener with the same name as the one the metadata request came in on.
    public static let listenerNotFound = KafkaErrorCode(rawValue: 72)

    /// Topic deletion is turned off on the broker.
    public static let topicDeletionDisabled = KafkaErrorCode(rawValue: 73)

    /// The request used an outdated leader epoch, meaning the client's metadata is behind the broker's.
    public static let fencedLeaderEpoch = KafkaErrorCode(rawValue: 74)

    /// The request used a leader epoch the broker has not reached yet, because the broker's own metadata is behind.
    public static let unknownLeaderEpoch = KafkaErrorCode(rawValue: 75)

    /// The request version cannot carry the compression type the partition uses.
    public static let unsupportedCompressionType = KafkaErrorCode(rawValue: 76)

    /// The request carries a broker epoch that is no longer current.
    public static let staleBrokerEpoch = KafkaErrorCode(rawValue: 77)

    /// The new leader's high watermark has not caught up since the election, so the requested offset cannot be served yet.
    public static let offsetNotAvailable = KafkaErrorCode(rawValue: 78)

    /// The coordinator has assigned a member ID, and the member must join again using it.
    public static let memberIdRequired = KafkaErrorCode(rawValue: 79)

    /// The preferred replica is not available to take over as leader.
    public static let preferredLeaderNotAvailable = KafkaErrorCode(rawValue: 80)

    /// The group already has as many members as the broker allows.
    public static let groupMaxSizeReached = KafkaErrorCode(rawValue: 81)

    /// Another member has registered the same group.instance.id under a different member ID, so this static member is fenced.
    public static let fencedInstanceId = KafkaErrorCode(rawValue: 82)

    /// No replica eligible to lead the partition is available.
    public static let eligibleLeadersNotAvailable = KafkaErrorCode(rawValue: 83)

    /// The partition already has the desired leader, so no election was run.
    public static let electionNotNeeded = KafkaErrorCode(rawValue: 84)

    /// There is no ongoing partition reassignment to cancel or change.
    public static let noReassignmentInProgress = KafkaErrorCode(rawValue: 85)

    /// A group's offsets for a topic cannot be deleted while the group is subscribed to that topic.
    public static let groupSubscribedToTopic = KafkaErrorCode(rawValue: 86)

    /// The broker's validation rejected one or more records of the batch.
    public static let invalidRecord = KafkaErrorCode(rawValue: 87)

    /// Transactional offset commits for the partition are still pending, so stable committed offsets cannot be returned yet.
    public static let unstableOffsetCommit = KafkaErrorCode(rawValue: 88)

    /// The request went over a throttling quota, such as the rate limit on topic and partition changes.
    public static let throttlingQuotaExceeded = KafkaErrorCode(rawValue: 89)

    /// A newer producer using the same transactional ID has fenced this one.
    public static let producerFenced = KafkaErrorCode(rawValue: 90)

    /// A resource named in the request does not exist.
    public static let resourceNotFound = KafkaErrorCode(rawValue: 91)

    /// The same resource appears more than once in the request.
    public static let duplicateResource = KafkaErrorCode(rawValue: 92)

    /// The requested credential is not acceptable, for example because its SCRAM iteration count is out of range.
    public static let unacceptableCredential = KafkaErrorCode(rawValue: 93)

    /// The sender or the receiver of a KRaft voter request is not one of the expected voters.
    public static let inconsistentVoterSet = KafkaErrorCode(rawValue: 94)

    /// The version number the update was based on is not valid.
    public static let invalidUpdateVersion = KafkaErrorCode(rawValue: 95)

    /// An unexpected server-side error stopped the finalized feature levels from being updated.
    public static let featureUpdateFailed = KafkaErrorCode(rawValue: 96)

    /// A broker could not deserialize the principal of a forwarded request, which points to a security misconfiguration in the cluster.
    public static let principalDeserializationFailure = KafkaErrorCode(rawValue: 97)

    /// The requested KRaft snapshot does not exist.
    public static let snapshotNotFound = KafkaErrorCode(rawValue: 98)

    /// The requested snapshot position is negative or past the end of the snapshot.
    public static let positionOutOfRange = KafkaErrorCode(rawValue: 99)

    /// No topic with this topic ID is known to the broker, often because the client's metadata is stale.
    public static let unknownTopicId = KafkaErrorCode(rawValue: 100)

    /// Another broker is already registered under this broker ID.
    public static let duplicateBrokerRegistration = KafkaErrorCode(rawValue: 101)

    /// No broker with this ID is registered.
    public static let brokerIdNotRegistered = KafkaErrorCode(rawValue: 102)

    /// The partition's log belongs to a different topic ID than the one in the request.
    public static let inconsistentTopicId = KafkaErrorCode(rawValue: 103)

    /// The cluster ID in the request does not match the cluster ID of the receiving server.
    public static let inconsistentClusterId = KafkaErrorCode(rawValue: 104)

    /// No transaction state exists for this transactional ID.
    public static let transactionalIdNotFound = KafkaErrorCode(rawValue: 105)

    /// The fetch session saw topic IDs used inconsistently across its requests.
    public static let fetchSessionTopicIdError = KafkaErrorCode(rawValue: 106)

    /// The proposed in-sync replica set includes a replica that is not eligible to be in it.
    public static let ineligibleReplica = KafkaErrorCode(rawValue: 107)

    /// The AlterPartition change was applied, but the sending broker is no longer the partition leader.
    public static let newLeaderElected = KafkaErrorCode(rawValue: 108)

    /// The requested offset is no longer on the broker's local disk because it has moved to tiered storage.
    public static let offsetMovedToTieredStorage = KafkaErrorCode(rawValue: 109)

    /// The member's epoch has been fenced, so it has to release all of its partitions and join the group again.
    public static let fencedMemberEpoch = KafkaErrorCode(rawValue: 110)

    /// Another member still holds this group instance ID and must leave the group before it can be reused.
    public static let unreleasedInstanceId = KafkaErrorCode(rawValue: 111)

    /// The group cannot use the server-side assignor, or assignor version, that the member asked for.
    public static let unsupportedAssignor = KafkaErrorCode(rawValue: 112)

    /// The member sent an outdated member epoch and should retry after a heartbeat gives it the current one.
    public static let staleMemberEpoch = KafkaErrorCode(rawValue: 113)

    /// The request was sent to the wrong kind of endpoint, for example to a broker instead of a controller.
    public static let mismatchedEndpointType = KafkaErrorCode(rawValue: 114)

    /// The receiver does not yet support the endpoint type the request asked for.
    public static let unsupportedEndpointType = KafkaErrorCode(rawValue: 115)

    /// The request names a controller ID the receiver does not know about.
    public static let unknownControllerId = KafkaErrorCode(rawValue: 116)

    /// A telemetry push used a client telemetry subscription ID that is unknown or out of date.
    public static let unknownSubscriptionId = KafkaErrorCode(rawValue: 117)

    /// A telemetry push was larger than the broker accepts.
    public static let telemetryTooLarge = KafkaErrorCode(rawValue: 118)

    /// The controller rejected the broker's registration as invalid.
    public static let invalidRegistration = KafkaErrorCode(rawValue: 119)

    /// The transaction hit an error, and aborting it lets the producer keep using its transactional ID.
    public static let transactionAbortable = KafkaErrorCode(rawValue: 120)

    /// The record is not in a state that allows this delivery acknowledgement.
    public static let invalidRecordState = KafkaErrorCode(rawValue: 121)

    /// The broker does not know this share session, so the client has to open a new one.
    public static let shareSessionNotFound = KafkaErrorCode(rawValue: 122)

    /// The share session epoch does not match the one the broker expects.
    public static let invalidShareSessionEpoch = KafkaErrorCode(rawValue: 123)

    /// The share coordinator rejected the request because its share-group state epoch does not match.
    public static let fencedStateEpoch = KafkaErrorCode(rawValue: 124)

    /// The voter ID and directory ID in the request do not identify the receiving replica.
    public static let invalidVoterKey = KafkaErrorCode(rawValue: 125)

    /// The replica being added is already a voter in the KRaft quorum.
    public static let duplicateVoter = KafkaErrorCode(rawValue: 126)

    /// The replica named in the request is not a voter in the KRaft quorum.
    public static let voterNotFound = KafkaErrorCode(rawValue: 127)

    /// A regular expression in the request, such as a topic subscription pattern, is not valid.
    public static let invalidRegularExpression = KafkaErrorCode(rawValue: 128)

    /// The client's metadata is too stale to be refreshed normally, so it must rebootstrap from its bootstrap servers.
    public static let rebootstrapRequired = KafkaErrorCode(rawValue: 129)
}

// MARK: - The table

extension KafkaErrorCode {
    /// One row of the error table: the single place a code's name, retriable flag and explanation live.
    struct Entry: Sendable {
        let code: KafkaErrorCode
        let name: String
        let isRetriable: Bool
        let explanation: String

        init(_ code: KafkaErrorCode, _ name: String, retriable: Bool, _ explanation: String) {
            self.code = code
            self.name = name
            self.isRetriable = retriable
            self.explanation = explanation
        }
    }

    /// The entry for a raw code, or `nil` if the code is not in the table.
    static func entry(for rawValue: Int16) -> Entry? {
        entriesByCode[rawValue]
    }

    /// ``table`` keyed by code, built once. A duplicated code keeps its first entry (the tests check
    /// that codes are unique).
    static let entriesByCode: [Int16: Entry] = Dictionary(
        table.map { ($0.code.rawValue, $0) },
        uniquingKeysWith: { first, _ in first }
    )

    /// Kafka's protocol error table (Kafka 4.0), ascending by code. Names, numbers and retriable flags
    /// are Kafka's; the explanations are this library's own.
    static let table: [Entry] = [
        Entry(.unknownServerError, "UNKNOWN_SERVER_ERROR", retriable: false,
              "The broker hit an unexpected internal error while handling the request; the broker logs should say why."),
        Entry(.none, "NONE", retriable: false,
              "No error: the request or this part of it succeeded."),
        Entry(.offsetOutOfRange, "OFFSET_OUT_OF_RANGE", retriable: false,
              "The requested offset is outside the range of offsets the partition currently holds, so the consumer has to reset its position."),
        Entry(.corruptMessage, "CORRUPT_MESSAGE", retriable: true,
              "The broker rejected a record batch as corrupt, for example because of a bad CRC, an invalid size or a null key on a compacted topic."),
        Entry(.unknownTopicOrPartition, "UNKNOWN_TOPIC_OR_PARTITION", retriable: true,
              "The broker does not host this topic or partition, either because it does not exist or because the client's metadata is stale."),
        Entry(.invalidFetchSize, "INVALID_FETCH_SIZE", retriable: false,
              "The fetch request asked for an invalid maximum number of bytes."),
        Entry(.leaderNotAvailable, "LEADER_NOT_AVAILABLE", retriable: true,
              "No replica is currently leading the partition, typically while a leader election is running."),
        Entry(.notLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER", retriable: true,
              "The broker is not the leader of the partition (or, for requests any replica may serve, not a replica of it), so the client should refresh metadata and retry."),
        Entry(.requestTimedOut, "REQUEST_TIMED_OUT", retriable: true,
              "The broker could not complete the request before its timeout expired."),
        Entry(.brokerNotAvailable, "BROKER_NOT_AVAILABLE", retriable: false,
              "The broker the request refers to is not available."),
        Entry(.replicaNotAvailable, "REPLICA_NOT_AVAILABLE", retriable: true,
              "The broker has no available replica for the requested partition."),
        Entry(.messageTooLarge, "MESSAGE_TOO_LARGE", retriable: false,
              "A record batch exceeds the maximum message size the broker or topic allows (message.max.bytes or max.message.bytes)."),
        Entry(.staleControllerEpoch, "STALE_CONTROLLER_EPOCH", retriable: false,
              "The request came from a controller whose epoch is out of date because another broker has become controller."),
        Entry(.offsetMetadataTooLarge, "OFFSET_METADATA_TOO_LARGE", retriable: false,
              "The metadata string attached to an offset commit is longer than the broker allows."),
        Entry(.networkException, "NETWORK_EXCEPTION", retriable: true,
              "The connection to the broker was lost before a response came back."),
        Entry(.coordinatorLoadInProgress, "COORDINATOR_LOAD_IN_PROGRESS", retriable: true,
              "The group or transaction coordinator is still loading its state and cannot serve the request yet."),
        Entry(.coordinatorNotAvailable, "COORDINATOR_NOT_AVAILABLE", retriable: true,
              "The group or transaction coordinator is not available right now."),
        Entry(.notCoordinator, "NOT_COORDINATOR", retriable: true,
              "The broker is not the coordinator for this group or transactional ID, so the client should look the coordinator up again."),
        Entry(.invalidTopicException, "INVALID_TOPIC_EXCEPTION", retriable: false,
              "The topic name is invalid or the operation is not allowed on this topic."),
        Entry(.recordListTooLarge, "RECORD_LIST_TOO_LARGE", retriable: false,
              "A produced record batch would not fit in a log segment of the size the broker is configured with."),
        Entry(.notEnoughReplicas, "NOT_ENOUGH_REPLICAS", retriable: true,
              "The write was refused because fewer replicas are in sync than the topic's min.insync.replicas requires."),
        Entry(.notEnoughReplicasAfterAppend, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", retriable: true,
              "The records were appended to the leader's log, but fewer replicas than required were in sync to acknowledge them."),
        Entry(.invalidRequiredAcks, "INVALID_REQUIRED_ACKS", retriable: false,
              "The produce request used an acks value other than -1, 0 or 1."),
        Entry(.illegalGeneration, "ILLEGAL_GENERATION", retriable: false,
              "The group generation ID in the request is not the current one, so the member has to rejoin the group."),
        Entry(.inconsistentGroupProtocol, "INCONSISTENT_GROUP_PROTOCOL", retriable: false,
              "The member's protocol type or list of protocols is empty or has nothing in common with the rest of the group."),
        Entry(.invalidGroupId, "INVALID_GROUP_ID", retriable: false,
              "The group ID is empty or otherwise not valid."),
        Entry(.unknownMemberId, "UNKNOWN_MEMBER_ID", retriable: false,
              "The coordinator does not recognise this member ID, so the member has to rejoin the group."),
        Entry(.invalidSessionTimeout, "INVALID_SESSION_TIMEOUT", retriable: false,
              "The session timeout is outside the range the broker allows (group.min.session.timeout.ms to group.max.session.timeout.ms)."),
        Entry(.rebalanceInProgress, "REBALANCE_IN_PROGRESS", retriable: false,
              "A rebalance is in progress in the group, and the member must rejoin to take part in it."),
        Entry(.invalidCommitOffsetSize, "INVALID_COMMIT_OFFSET_SIZE", retriable: false,
              "The offset commit was rejected because the size of its data is not acceptable."),
        Entry(.topicAuthorizationFailed, "TOPIC_AUTHORIZATION_FAILED", retriable: false,
              "The client is not authorized to access this topic."),
        Entry(.groupAuthorizationFailed, "GROUP_AUTHORIZATION_FAILED", retriable: false,
              "The client is not authorized to access this group."),
        Entry(.clusterAuthorizationFailed, "CLUSTER_AUTHORIZATION_FAILED", retriable: false,
              "The client is not authorized to perform this cluster-wide operation."),
        Entry(.invalidTimestamp, "INVALID_TIMESTAMP", retriable: false,
              "A record timestamp is outside the range the broker accepts."),
        Entry(.unsupportedSaslMechanism, "UNSUPPORTED_SASL_MECHANISM", retriable: false,
              "The broker does not offer the SASL mechanism the client asked for."),
        Entry(.illegalSaslState, "ILLEGAL_SASL_STATE", retriable: false,
              "This request is out of sequence for the SASL authentication exchange in progress."),
        Entry(.unsupportedVersion, "UNSUPPORTED_VERSION", retriable: false,
              "The broker does not support the API version the request was sent with."),
        Entry(.topicAlreadyExists, "TOPIC_ALREADY_EXISTS", retriable: false,
              "The topic cannot be created because a topic with that name already exists."),
        Entry(.invalidPartitions, "INVALID_PARTITIONS", retriable: false,
              "The requested number of partitions is not valid, for example less than one."),
        Entry(.invalidReplicationFactor, "INVALID_REPLICATION_FACTOR", retriable: false,
              "The replication factor must be at least one and no more than the number of brokers available."),
        Entry(.invalidReplicaAssignment, "INVALID_REPLICA_ASSIGNMENT", retriable: false,
              "The explicit assignment of replicas to brokers is not valid."),
        Entry(.invalidConfig, "INVALID_CONFIG", retriable: false,
              "A configuration entry in the request is not valid."),
        Entry(.notController, "NOT_CONTROLLER", retriable: true,
              "The broker is not the active controller, so the client should refresh metadata and send the request to the current one."),
        Entry(.invalidRequest, "INVALID_REQUEST", retriable: false,
              "The broker could not accept the request, most often because it is malformed or the broker is incompatible; the broker logs say more."),
        Entry(.unsupportedForMessageFormat, "UNSUPPORTED_FOR_MESSAGE_FORMAT", retriable: false,
              "The request needs a newer message format than the one the broker is configured with."),
        Entry(.policyViolation, "POLICY_VIOLATION", retriable: false,
              "The request breaks a policy configured on the broker, such as a topic creation policy."),
        Entry(.outOfOrderSequenceNumber, "OUT_OF_ORDER_SEQUENCE_NUMBER", retriable: false,
              "The broker received a producer sequence number other than the next one it expected."),
        Entry(.duplicateSequenceNumber, "DUPLICATE_SEQUENCE_NUMBER", retriable: false,
              "The producer sequence number duplicates one the broker has already written."),
        Entry(.invalidProducerEpoch, "INVALID_PRODUCER_EPOCH", retriable: false,
              "The producer used an epoch older than the current one for its producer ID."),
        Entry(.invalidTxnState, "INVALID_TXN_STATE", retriable: false,
              "The transactional operation is not allowed in the transaction's current state."),
        Entry(.invalidProducerIdMapping, "INVALID_PRODUCER_ID_MAPPING", retriable: false,
              "The producer ID used is not, or is no longer, the one assigned to this transactional ID."),
        Entry(.invalidTransactionTimeout, "INVALID_TRANSACTION_TIMEOUT", retriable: false,
              "The transaction timeout is larger than the broker's transaction.max.timeout.ms."),
        Entry(.concurrentTransactions, "CONCURRENT_TRANSACTIONS", retriable: true,
              "Another operation on the same transaction is still in progress."),
        Entry(.transactionCoordinatorFenced, "TRANSACTION_COORDINATOR_FENCED", retriable: false,
              "The transaction coordinator that sent this request is no longer the coordinator for the producer."),
        Entry(.transactionalIdAuthorizationFailed, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", retriable: false,
              "The client is not authorized to use this transactional ID."),
        Entry(.securityDisabled, "SECURITY_DISABLED", retriable: false,
              "The operation needs security features that are turned off on the broker."),
        Entry(.operationNotAttempted, "OPERATION_NOT_ATTEMPTED", retriable: false,
              "The broker skipped this operation, typically because another operation in the same batched request failed."),
        Entry(.kafkaStorageError, "KAFKA_STORAGE_ERROR", retriable: true,
              "The broker hit a disk error while accessing the log."),
        Entry(.logDirNotFound, "LOG_DIR_NOT_FOUND", retriable: false,
              "The broker has no configured log directory with the path given in the request."),
        Entry(.saslAuthenticationFailed, "SASL_AUTHENTICATION_FAILED", retriable: false,
              "SASL authentication failed, for example because the credentials are wrong."),
        Entry(.unknownProducerId, "UNKNOWN_PRODUCER_ID", retriable: false,
              "The broker has no state for this producer ID, for example because retention has removed all of its records."),
        Entry(.reassignmentInProgress, "REASSIGNMENT_IN_PROGRESS", retriable: false,
              "The operation conflicts with a partition reassignment that is already under way."),
        Entry(.delegationTokenAuthDisabled, "DELEGATION_TOKEN_AUTH_DISABLED", retriable: false,
              "Delegation tokens are not enabled on the broker."),
        Entry(.delegationTokenNotFound, "DELEGATION_TOKEN_NOT_FOUND", retriable: false,
              "The broker has no delegation token matching the request."),
        Entry(.delegationTokenOwnerMismatch, "DELEGATION_TOKEN_OWNER_MISMATCH", retriable: false,
              "The principal is neither the owner nor a renewer of the delegation token."),
        Entry(.delegationTokenRequestNotAllowed, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", retriable: false,
              "Delegation token requests are refused on plaintext or one-way TLS connections and on connections authenticated with a delegation token."),
        Entry(.delegationTokenAuthorizationFailed, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", retriable: false,
              "The client is not authorized to perform this delegation token operation."),
        Entry(.delegationTokenExpired, "DELEGATION_TOKEN_EXPIRED", retriable: false,
              "The delegation token is past its expiry time and can no longer be used."),
        Entry(.invalidPrincipalType, "INVALID_PRINCIPAL_TYPE", retriable: false,
              "The broker does not support the principal type given in the request."),
        Entry(.nonEmptyGroup, "NON_EMPTY_GROUP", retriable: false,
              "The operation needs an empty group, but the group still has members."),
        Entry(.groupIdNotFound, "GROUP_ID_NOT_FOUND", retriable: false,
              "The coordinator has no group with this ID."),
        Entry(.fetchSessionIdNotFound, "FETCH_SESSION_ID_NOT_FOUND", retriable: true,
              "The broker does not know this incremental fetch session ID, so the client should start a new session."),
        Entry(.invalidFetchSessionEpoch, "INVALID_FETCH_SESSION_EPOCH", retriable: true,
              "The incremental fetch session epoch is not the one the broker expects."),
        Entry(.listenerNotFound, "LISTENER_NOT_FOUND", retriable: true,
              "The partition leader exposes no listener with the same name as the one the metadata request came in on."),
        Entry(.topicDeletionDisabled, "TOPIC_DELETION_DISABLED", retriable: false,
              "Topic deletion is turned off on the broker."),
        Entry(.fencedLeaderEpoch, "FENCED_LEADER_EPOCH", retriable: true,
              "The request used an outdated leader epoch, meaning the client's metadata is behind the broker's."),
        Entry(.unknownLeaderEpoch, "UNKNOWN_LEADER_EPOCH", retriable: true,
              "The request used a leader epoch the broker has not reached yet, because the broker's own metadata is behind."),
        Entry(.unsupportedCompressionType, "UNSUPPORTED_COMPRESSION_TYPE", retriable: false,
              "The request version cannot carry the compression type the partition uses."),
        Entry(.staleBrokerEpoch, "STALE_BROKER_EPOCH", retriable: false,
              "The request carries a broker epoch that is no longer current."),
        Entry(.offsetNotAvailable, "OFFSET_NOT_AVAILABLE", retriable: true,
              "The new leader's high watermark has not caught up since the election, so the requested offset cannot be served yet."),
        Entry(.memberIdRequired, "MEMBER_ID_REQUIRED", retriable: false,
              "The coordinator has assigned a member ID, and the member must join again using it."),
        Entry(.preferredLeaderNotAvailable, "PREFERRED_LEADER_NOT_AVAILABLE", retriable: true,
              "The preferred replica is not available to take over as leader."),
        Entry(.groupMaxSizeReached, "GROUP_MAX_SIZE_REACHED", retriable: false,
              "The group already has as many members as the broker allows."),
        Entry(.fencedInstanceId, "FENCED_INSTANCE_ID", retriable: false,
              "Another member has registered the same group.instance.id under a different member ID, so this static member is fenced."),
        Entry(.eligibleLeadersNotAvailable, "ELIGIBLE_LEADERS_NOT_AVAILABLE", retriable: true,
              "No replica eligible to lead the partition is available."),
        Entry(.electionNotNeeded, "ELECTION_NOT_NEEDED", retriable: true,
              "The partition already has the desired leader, so no election was run."),
        Entry(.noReassignmentInProgress, "NO_REASSIGNMENT_IN_PROGRESS", retriable: false,
              "There is no ongoing partition reassignment to cancel or change."),
        Entry(.groupSubscribedToTopic, "GROUP_SUBSCRIBED_TO_TOPIC", retriable: false,
              "A group's offsets for a topic cannot be deleted while the group is subscribed to that topic."),
        Entry(.invalidRecord, "INVALID_RECORD", retriable: false,
              "The broker's validation rejected one or more records of the batch."),
        Entry(.unstableOffsetCommit, "UNSTABLE_OFFSET_COMMIT", retriable: true,
              "Transactional offset commits for the partition are still pending, so stable committed offsets cannot be returned yet."),
        Entry(.throttlingQuotaExceeded, "THROTTLING_QUOTA_EXCEEDED", retriable: true,
              "The request went over a throttling quota, such as the rate limit on topic and partition changes."),
        Entry(.producerFenced, "PRODUCER_FENCED", retriable: false,
              "A newer producer using the same transactional ID has fenced this one."),
        Entry(.resourceNotFound, "RESOURCE_NOT_FOUND", retriable: false,
              "A resource named in the request does not exist."),
        Entry(.duplicateResource, "DUPLICATE_RESOURCE", retriable: false,
              "The same resource appears more than once in the request."),
        Entry(.unacceptableCredential, "UNACCEPTABLE_CREDENTIAL", retriable: false,
              "The requested credential is not acceptable, for example because its SCRAM iteration count is out of range."),
        Entry(.inconsistentVoterSet, "INCONSISTENT_VOTER_SET", retriable: false,
              "The sender or the receiver of a KRaft voter request is not one of the expected voters."),
        Entry(.invalidUpdateVersion, "INVALID_UPDATE_VERSION", retriable: false,
              "The version number the update was based on is not valid."),
        Entry(.featureUpdateFailed, "FEATURE_UPDATE_FAILED", retriable: false,
              "An unexpected server-side error stopped the finalized feature levels from being updated."),
        Entry(.principalDeserializationFailure, "PRINCIPAL_DESERIALIZATION_FAILURE", retriable: false,
              "A broker could not deserialize the principal of a forwarded request, which points to a security misconfiguration in the cluster."),
        Entry(.snapshotNotFound, "SNAPSHOT_NOT_FOUND", retriable: false,
              "The requested KRaft snapshot does not exist."),
        Entry(.positionOutOfRange, "POSITION_OUT_OF_RANGE", retriable: false,
              "The requested snapshot position is negative or past the end of the snapshot."),
        Entry(.unknownTopicId, "UNKNOWN_TOPIC_ID", retriable: true,
              "No topic with this topic ID is known to the broker, often because the client's metadata is stale."),
        Entry(.duplicateBrokerRegistration, "DUPLICATE_BROKER_REGISTRATION", retriable: false,
              "Another broker is already registered under this broker ID."),
        Entry(.brokerIdNotRegistered, "BROKER_ID_NOT_REGISTERED", retriable: false,
              "No broker with this ID is registered."),
        Entry(.inconsistentTopicId, "INCONSISTENT_TOPIC_ID", retriable: true,
              "The partition's log belongs to a different topic ID than the one in the request."),
        Entry(.inconsistentClusterId, "INCONSISTENT_CLUSTER_ID", retriable: false,
              "The cluster ID in the request does not match the cluster ID of the receiving server."),
        Entry(.transactionalIdNotFound, "TRANSACTIONAL_ID_NOT_FOUND", retriable: false,
              "No transaction state exists for this transactional ID."),
        Entry(.fetchSessionTopicIdError, "FETCH_SESSION_TOPIC_ID_ERROR", retriable: true,
              "The fetch session saw topic IDs used inconsistently across its requests."),
        Entry(.ineligibleReplica, "INELIGIBLE_REPLICA", retriable: false,
              "The proposed in-sync replica set includes a replica that is not eligible to be in it."),
        Entry(.newLeaderElected, "NEW_LEADER_ELECTED", retriable: false,
              "The AlterPartition change was applied, but the sending broker is no longer the partition leader."),
        Entry(.offsetMovedToTieredStorage, "OFFSET_MOVED_TO_TIERED_STORAGE", retriable: false,
              "The requested offset is no longer on the broker's local disk because it has moved to tiered storage."),
        Entry(.fencedMemberEpoch, "FENCED_MEMBER_EPOCH", retriable: false,
              "The member's epoch has been fenced, so it has to release all of its partitions and join the group again."),
        Entry(.unreleasedInstanceId, "UNRELEASED_INSTANCE_ID", retriable: false,
              "Another member still holds this group instance ID and must leave the group before it can be reused."),
        Entry(.unsupportedAssignor, "UNSUPPORTED_ASSIGNOR", retriable: false,
              "The group cannot use the server-side assignor, or assignor version, that the member asked for."),
        Entry(.staleMemberEpoch, "STALE_MEMBER_EPOCH", retriable: false,
              "The member sent an outdated member epoch and should retry after a heartbeat gives it the current one."),
        Entry(.mismatchedEndpointType, "MISMATCHED_ENDPOINT_TYPE", retriable: false,
              "The request was sent to the wrong kind of endpoint, for example to a broker instead of a controller."),
        Entry(.unsupportedEndpointType, "UNSUPPORTED_ENDPOINT_TYPE", retriable: false,
              "The receiver does not yet support the endpoint type the request asked for."),
        Entry(.unknownControllerId, "UNKNOWN_CONTROLLER_ID", retriable: false,
              "The request names a controller ID the receiver does not know about."),
        Entry(.unknownSubscriptionId, "UNKNOWN_SUBSCRIPTION_ID", retriable: false,
              "A telemetry push used a client telemetry subscription ID that is unknown or out of date."),
        Entry(.telemetryTooLarge, "TELEMETRY_TOO_LARGE", retriable: false,
              "A telemetry push was larger than the broker accepts."),
        Entry(.invalidRegistration, "INVALID_REGISTRATION", retriable: false,
              "The controller rejected the broker's registration as invalid."),
        Entry(.transactionAbortable, "TRANSACTION_ABORTABLE", retriable: false,
              "The transaction hit an error, and aborting it lets the producer keep using its transactional ID."),
        Entry(.invalidRecordState, "INVALID_RECORD_STATE", retriable: false,
              "The record is not in a state that allows this delivery acknowledgement."),
        Entry(.shareSessionNotFound, "SHARE_SESSION_NOT_FOUND", retriable: true,
              "The broker does not know this share session, so the client has to open a new one."),
        Entry(.invalidShareSessionEpoch, "INVALID_SHARE_SESSION_EPOCH", retriable: true,
              "The share session epoch does not match the one the broker expects."),
        Entry(.fencedStateEpoch, "FENCED_STATE_EPOCH", retriable: false,
              "The share coordinator rejected the request because its share-group state epoch does not match."),
        Entry(.invalidVoterKey, "INVALID_VOTER_KEY", retriable: false,
              "The voter ID and directory ID in the request do not identify the receiving replica."),
        Entry(.duplicateVoter, "DUPLICATE_VOTER", retriable: false,
              "The replica being added is already a voter in the KRaft quorum."),
        Entry(.voterNotFound, "VOTER_NOT_FOUND", retriable: false,
              "The replica named in the request is not a voter in the KRaft quorum."),
        Entry(.invalidRegularExpression, "INVALID_REGULAR_EXPRESSION", retriable: false,
              "A regular expression in the request, such as a topic subscription pattern, is not valid."),
        Entry(.rebootstrapRequired, "REBOOTSTRAP_REQUIRED", retriable: false,
              "The client's metadata is too stale to be refreshed normally, so it must rebootstrap from its bootstrap servers."),
    ]
}
