import KafkaProtocol

/// A ``Fault`` as JSON, for the control endpoint: `{"api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER",
/// "topic": "orders", "partition": 0, "count": 3, "broker": 1}`. The API and the error may be given by name or
/// number; exactly one action: `error`, `delayMs`, `dropResponse: true` or `closeConnection: true`. `broker`
/// (absent: every running broker) chooses where it is injected.
public struct FaultDescription: Sendable, Hashable, Codable {
    /// An API or error code, by name or number.
    public enum NameOrNumber: Sendable, Hashable, Codable {
        case name(String)
        case number(Int16)

        /// A JSON number or string.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int16.self) {
                self = .number(number)
            } else {
                self = .name(try container.decode(String.self))
            }
        }

        /// As a JSON number or string.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .name(let name): try container.encode(name)
            case .number(let number): try container.encode(number)
            }
        }
    }

    /// The API (`"Produce"`, `"Fetch"`, `"JoinGroup"`, ... or its key).
    public var api: NameOrNumber
    /// Answer with this error (`"NOT_LEADER_OR_FOLLOWER"`, ... or its code).
    public var error: NameOrNumber?
    /// Hold the answer back this long.
    public var delayMs: Int64?
    /// Handle the request, then close the connection instead of answering.
    public var dropResponse: Bool?
    /// Close the connection without handling the request.
    public var closeConnection: Bool?
    /// Only requests touching this topic (and partition).
    public var topic: String?
    public var partition: Int32?
    /// Only requests for this group.
    public var group: String?
    /// The broker to inject it on; absent: every running broker.
    public var broker: Int32?
    /// How many matching requests get it (1 when absent).
    public var count: Int?

    /// Describes `fault` (injected on `broker`).
    public init(_ fault: Fault, broker: Int32?) {
        api = .name(fault.api.name)
        switch fault.action {
        case .error(let code): error = .name(code.name)
        case .delay(let milliseconds): delayMs = milliseconds
        case .dropResponse: dropResponse = true
        case .closeConnection: closeConnection = true
        }
        topic = fault.topic
        partition = fault.partition
        group = fault.group
        self.broker = broker
        count = fault.count
    }

    /// The fault this describes, or why it describes none.
    public func fault() -> Result<Fault, DescriptionError> {
        let key: ApiKey
        switch api {
        case .number(let number): key = ApiKey(rawValue: number)
        case .name(let name):
            guard let found = (0...Int16(100)).map(ApiKey.init(rawValue:)).first(where: { $0.name.lowercased() == name.lowercased() }) else {
                return .failure(DescriptionError("unknown API \(name)"))
            }
            key = found
        }
        var actions: [Fault.Action] = []
        if let error {
            switch error {
            case .number(let number): actions.append(.error(KafkaErrorCode(rawValue: number)))
            case .name(let name):
                guard let code = KafkaErrorCode.allKnown.first(where: { $0.name == name.uppercased() }) else {
                    return .failure(DescriptionError("unknown error \(name)"))
                }
                actions.append(.error(code))
            }
        }
        if let delayMs {
            guard delayMs >= 0 else { return .failure(DescriptionError("delayMs must not be negative")) }
            actions.append(.delay(milliseconds: delayMs))
        }
        if dropResponse == true { actions.append(.dropResponse) }
        if closeConnection == true { actions.append(.closeConnection) }
        guard actions.count == 1, let action = actions.first else {
            return .failure(DescriptionError("a fault needs exactly one of error, delayMs, dropResponse, closeConnection"))
        }
        let count = self.count ?? 1
        guard count >= 1 else { return .failure(DescriptionError("count must be at least 1")) }
        return .success(Fault(api: key, topic: topic, partition: partition, group: group, action: action, count: count))
    }

    /// Why a description is not a fault.
    public struct DescriptionError: Error, Sendable, CustomStringConvertible {
        /// What is wrong with the description.
        public let description: String

        init(_ description: String) {
            self.description = description
        }
    }
}
