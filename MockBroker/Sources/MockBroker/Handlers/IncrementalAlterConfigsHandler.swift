import KafkaProtocol
import NIOCore

/// IncrementalAlterConfigs for topics: set, delete, append and subtract, applied to the topic's logs on every broker
/// of the cluster and kept in `topics.json` (so DescribeConfigs shows them, and a restarted broker has them).
/// Broker configs are static here: altering one is refused.
struct IncrementalAlterConfigsHandler: Sendable {
    let state: BrokerState

    func handle(_ request: IncrementalAlterConfigsRequest, context: RequestContext) -> EventLoopFuture<IncrementalAlterConfigsResponse?> {
        let response = IncrementalAlterConfigsResponse(responses: request.resources.map { resource in
            var result = IncrementalAlterConfigsResponse.AlterConfigsResourceResponse(
                resourceType: resource.resourceType, resourceName: resource.resourceName)
            switch resource.resourceType {
            case DescribeConfigsHandler.topicResource:
                let changes: [TopicRegistry.ConfigChange]
                do throws(InvalidRequest) {
                    changes = try self.changes(resource.configs)
                } catch {
                    result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                    result.errorMessage = error.message
                    return result
                }
                do throws(TopicRegistry.TopicError) {
                    try state.cluster.alterTopicConfigs(name: resource.resourceName, changes: changes, validateOnly: request.validateOnly)
                    if !request.validateOnly {
                        context.logger.info("altered configs of topic \(resource.resourceName): \(resource.configs.map(\.name).joined(separator: ", "))")
                    }
                } catch {
                    result.errorCode = error.code.rawValue
                    result.errorMessage = error.message
                }
            case DescribeConfigsHandler.brokerResource:
                result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                result.errorMessage = "This broker's configs are static: they cannot be altered."
            default:
                result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                result.errorMessage = "Unsupported resource type \(resource.resourceType)."
            }
            return result
        })
        return context.eventLoop.makeSucceededFuture(response)
    }

    /// The request's operations; INVALID_REQUEST for an unknown operation, a null value to set, or a config named
    /// twice, as Kafka answers.
    private func changes(_ configs: [IncrementalAlterConfigsRequest.AlterableConfig]) throws(InvalidRequest) -> [TopicRegistry.ConfigChange] {
        var seen: Set<String> = []
        return try configs.map { config throws(InvalidRequest) -> TopicRegistry.ConfigChange in
            guard seen.insert(config.name).inserted else {
                throw InvalidRequest(message: "Error due to duplicate config keys: \(config.name)")
            }
            if config.configOperation == 1 { return .delete(config.name) }
            guard let value = config.value else { throw InvalidRequest(message: "Null value not supported for : \(config.name)") }
            switch config.configOperation {
            case 0: return .set(config.name, value)
            case 2: return .append(config.name, value)
            case 3: return .subtract(config.name, value)
            default: throw InvalidRequest(message: "Unknown config operation \(config.configOperation) for \(config.name)")
            }
        }
    }

    struct InvalidRequest: Error {
        let message: String
    }
}
