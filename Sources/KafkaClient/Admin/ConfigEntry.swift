/// One config of a resource as DescribeConfigs reports it (Java's `ConfigEntry`).
public struct ConfigEntry: Sendable, Hashable {
    /// Where the value comes from (DescribeConfigs' `ConfigSource`).
    public enum Source: Int8, Sendable, Hashable {
        /// A source this client does not know (or the broker did not say).
        case unknown = 0
        /// Set on the topic.
        case topic = 1
        /// Set on this broker at run time.
        case dynamicBroker = 2
        /// Set at run time as the default of every broker.
        case dynamicDefaultBroker = 3
        /// The broker's configuration file.
        case staticBroker = 4
        /// Kafka's default.
        case defaultConfig = 5
        /// Set at run time on the broker logger.
        case dynamicBrokerLogger = 6
        /// Set on a client metrics resource.
        case clientMetrics = 7
        /// Set on a group.
        case group = 8
    }

    /// The config's name, as Kafka spells it (`retention.ms`).
    public var name: String
    /// The value; nil for sensitive configs and those without a value.
    public var value: String?
    /// Where the value comes from.
    public var source: Source
    /// Whether it cannot be altered.
    public var isReadOnly: Bool
    /// Whether the value is a secret the broker does not show.
    public var isSensitive: Bool

    /// Whether the value is Kafka's default rather than something set.
    public var isDefault: Bool { source == .defaultConfig }
}
