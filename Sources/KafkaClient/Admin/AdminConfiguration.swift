/// ``KafkaAdmin`` settings, named and defaulted after the Java `AdminClient`'s.
public struct AdminConfiguration: Sendable {
    /// Connections, timeouts (`request.timeout.ms`, default 30 s), backoff and metadata settings shared with the
    /// producer and the consumer.
    public var client: ClientConfiguration
    /// `default.api.timeout.ms`: how long one admin call may take in all, retries after retriable errors
    /// (NOT_CONTROLLER, NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, a moved leader, a lost connection)
    /// included. Each request within it is bounded by `request.timeout.ms`. Default 60 s.
    public var defaultApiTimeout: Duration = .seconds(60)

    /// Settings for the brokers in `bootstrapServers` (`host1:9092,host2:9092`).
    public init(bootstrapServers: String) {
        client = ClientConfiguration(bootstrapServers: bootstrapServers)
        client.clientId = "swift-kafka-admin"
    }

    /// Settings over an existing client configuration.
    public init(client: ClientConfiguration) {
        self.client = client
    }

    func validate() throws(KafkaAdminError) {
        if let problem = client.problem { throw .invalidConfiguration(problem) }
        guard defaultApiTimeout > .zero else { throw .invalidConfiguration("default.api.timeout.ms must be positive") }
    }
}
