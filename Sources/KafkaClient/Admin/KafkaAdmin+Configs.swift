import KafkaProtocol
import NIOCore

/// Configs of topics and brokers: DescribeConfigs and IncrementalAlterConfigs.
extension KafkaAdmin {
    /// The configs of each resource (every config, with where its value comes from). Topic configs are asked of
    /// any broker, a broker's of that broker. An unknown topic is UNKNOWN_TOPIC_OR_PARTITION.
    public func describeConfigs(_ resources: [ConfigResource]) async throws(KafkaAdminError) -> [ConfigResource: [ConfigEntry]] {
        var described: [ConfigResource: [ConfigEntry]] = [:]
        try await retrying("DescribeConfigs") { deadline in
            for (node, group) in try await route(resources.filter { described[$0] == nil }) {
                let request = DescribeConfigsRequest(resources: group.map {
                    .init(resourceType: $0.kind.rawValue, resourceName: $0.name, configurationKeys: nil)
                })
                let response = try await send(request, to: connection(for: node), before: deadline)
                for result in response.results {
                    guard let kind = ConfigResource.Kind(rawValue: result.resourceType) else { continue }
                    let resource = ConfigResource(kind, name: result.resourceName)
                    let code = KafkaErrorCode(rawValue: result.errorCode)
                    if code.isError { throw Self.brokerError(code, "describe configs of \(resource)", message: result.errorMessage) }
                    described[resource] = result.configs.map { config in
                        ConfigEntry(name: config.name, value: config.value,
                                    source: ConfigEntry.Source(rawValue: config.configSource) ?? .unknown,
                                    isReadOnly: config.readOnly, isSensitive: config.isSensitive)
                    }.sorted { $0.name < $1.name }
                }
            }
        }
        return described
    }

    /// Changes configs one by one (IncrementalAlterConfigs): set, delete (back to the default), append to or
    /// subtract from list values; configs not named keep their values. With `validateOnly`, the broker only checks.
    public func incrementalAlterConfigs(_ changes: [ConfigResource: [AlterConfigOperation]],
                                        validateOnly: Bool = false) async throws(KafkaAdminError) {
        var done: Set<ConfigResource> = []
        try await retrying("IncrementalAlterConfigs") { deadline in
            for (node, group) in try await route(changes.keys.filter { !done.contains($0) }) {
                let request = IncrementalAlterConfigsRequest(
                    resources: group.map { resource in
                        .init(resourceType: resource.kind.rawValue, resourceName: resource.name,
                              configs: (changes[resource] ?? []).map {
                                  .init(name: $0.name, configOperation: $0.kind.rawValue, value: $0.value)
                              })
                    },
                    validateOnly: validateOnly)
                let response = try await send(request, to: connection(for: node), before: deadline)
                for result in response.responses {
                    guard let kind = ConfigResource.Kind(rawValue: result.resourceType) else { continue }
                    let resource = ConfigResource(kind, name: result.resourceName)
                    let code = KafkaErrorCode(rawValue: result.errorCode)
                    if code.isError { throw Self.brokerError(code, "alter configs of \(resource)", message: result.errorMessage) }
                    done.insert(resource)
                }
            }
        }
    }

    /// Config requests by destination: a broker's configs to that broker, topic configs to any (nil).
    private func route(_ resources: some Sequence<ConfigResource>) async throws -> [(Int32?, [ConfigResource])] {
        var byNode: [Int32?: [ConfigResource]] = [:]
        for resource in resources {
            switch resource.kind {
            case .topic:
                byNode[nil, default: []].append(resource)
            case .broker:
                guard let id = Int32(resource.name) else { throw KafkaAdminError.invalidArgument("broker id \"\(resource.name)\" is not a number") }
                byNode[id, default: []].append(resource)
            }
        }
        return byNode.sorted { ($0.key ?? -1) < ($1.key ?? -1) }.map { ($0.key, $0.value.sorted { $0.name < $1.name }) }
    }

    private func connection(for node: Int32?) async throws -> BrokerConnection {
        guard let node else { return try await cluster.anyBroker() }
        if cluster.metadata.brokers[node] == nil { _ = try await cluster.refreshMetadata(allowAutoTopicCreation: false).get() }
        guard cluster.metadata.brokers[node] != nil else { throw KafkaAdminError.broker(.brokerNotAvailable, context: "broker \(node)") }
        return try await cluster.connection(to: node).get()
    }
}
