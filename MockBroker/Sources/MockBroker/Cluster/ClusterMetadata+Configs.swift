/// Topic config changes, made on every running broker at once (a broker that is down gets them when it starts).
extension ClusterMetadata {
    /// Applies IncrementalAlterConfigs `changes` to `name` on every running broker, checked (all or none) on the
    /// first, and records the topic's new settings, which a broker that (re)joins takes.
    func alterTopicConfigs(name: String, changes: [TopicRegistry.ConfigChange], validateOnly: Bool) throws(TopicRegistry.TopicError) {
        let hosts = runningMembers
        guard let first = hosts.first else { throw .storage("no broker is running") }
        try first.topics.alterConfigs(name: name, changes: changes, validateOnly: validateOnly)
        if validateOnly { return }
        for other in hosts.dropFirst() {
            do throws(TopicRegistry.TopicError) {
                try other.topics.alterConfigs(name: name, changes: changes, validateOnly: false)
            } catch {
                other.logger.error("could not alter the configs of topic \(name) on broker \(other.nodeId): \(error)")
            }
        }
        if let overrides = first.topics.topic(named: name)?.overrides, var record = topic(name) {
            record.configs = overrides
            setTopic(name, record)
        }
    }
}
