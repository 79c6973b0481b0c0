import KafkaClient
import KafkaTestSupport
import MockBroker

/// A producer configuration for `bootstrapServers` with safety bounds suited to tests (10 s requests, 30 s blocking,
/// 60 s delivery: generous, because on a small machine the whole suite in parallel can keep a test's tasks waiting
/// for seconds), then `change`.
func producerConfiguration(bootstrapServers: String,
                           _ change: (inout ProducerConfiguration) -> Void = { _ in }) -> ProducerConfiguration {
    var configuration = ProducerConfiguration(bootstrapServers: bootstrapServers)
    configuration.client.requestTimeout = .seconds(10)
    configuration.deliveryTimeout = .seconds(60)
    configuration.maxBlock = .seconds(30)
    change(&configuration)
    return configuration
}

/// ``producerConfiguration(bootstrapServers:_:)`` for an in-process broker.
func producerConfiguration(_ broker: MockBroker, _ change: (inout ProducerConfiguration) -> Void = { _ in }) -> ProducerConfiguration {
    producerConfiguration(bootstrapServers: broker.bootstrapServers, change)
}

/// Collects the delivery reports `include` accepts (all by default) until `count` records have an outcome, bounded
/// by a deadline (a safety bound: nothing comes back when it passes).
func collectReports(_ events: ProducerEvents, count: Int, within seconds: Double = 60,
                    where include: @escaping @Sendable (DeliveryReport) -> Bool = { _ in true }) async -> [DeliveryReport] {
    await withTaskGroup(of: [DeliveryReport].self) { group in
        group.addTask {
            var reports: [DeliveryReport] = []
            for await case .deliveryReports(let batch) in events {
                reports += batch.filter(include)
                if reports.count >= count { break }
            }
            return reports
        }
        group.addTask {
            try? await Task.sleep(for: .seconds(seconds))
            return []
        }
        var collected: [DeliveryReport] = []
        for await reports in group where !reports.isEmpty || collected.isEmpty {
            collected = reports
            group.cancelAll()
            break
        }
        return collected
    }
}

/// Sends `record` until an attempt is delivered (at most `attempts`) and returns where it went: a warm-up before the
/// part of a test its short bounds are for. The first attempt also waits for metadata and a producer id, which a
/// loaded machine can take longer for than a short `max.block.ms` or `delivery.timeout.ms`.
func sendUntilDelivered(_ producer: KafkaProducer, _ record: ProducerRecord, attempts: Int = 20) async throws -> RecordMetadata {
    var failure: KafkaProducerError?
    for _ in 0..<attempts {
        do throws(KafkaProducerError) {
            return try await producer.send(record)
        } catch {
            failure = error
        }
    }
    throw failure ?? .invalidConfiguration("no attempts")
}
