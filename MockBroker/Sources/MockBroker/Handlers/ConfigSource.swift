/// `ConfigSource` values of DescribeConfigs / CreateTopics.
enum ConfigSource {
    static let topic: Int8 = 1
    static let staticBroker: Int8 = 4
    static let defaultConfig: Int8 = 5
}
