import InMemoryTracing
import KafkaClient
import KafkaTestSupport
import MockBroker
import Testing
import Tracing

@Suite("Record tracing")
struct TracingTests {
    @Test("a record's send span carries its outcome and its context in the headers; the consumer's receive span continues that trace")
    func traceFollowsTheRecord() async throws {
        try await withGroupBroker({ $0.log.maxMessageBytes = 1_000 }) { broker in
            try broker.createTopic("traced", partitions: 2)
            let tracer = InMemoryTracer()
            let producer = try KafkaProducer(configuration: producerConfiguration(broker) {
                $0.client.clientId = "tracing-producer"
                $0.client.tracer = tracer
            }, logger: testLogger)
            for index in 0..<4 {
                try await producer.enqueue(ProducerRecord(topic: "traced", partition: Int32(index % 2), value: "record \(index)"))
            }
            let sent = try await producer.send(ProducerRecord(topic: "traced", partition: 0, value: "awaited"))
            try await producer.flush()
            // The broker refuses a record over its message.max.bytes: that span ends in error.
            var refused = false
            do {
                _ = try await producer.send(ProducerRecord(topic: "traced", partition: 1, value: String(repeating: "x", count: 5_000)))
            } catch {
                refused = true
            }
            #expect(refused)
            await producer.shutdown()

            let sendSpans = tracer.finishedSpans.filter { $0.operationName == "send traced" }
            #expect(sendSpans.count == 6)
            #expect(sendSpans.allSatisfy { $0.kind == .producer && $0.attributes["messaging.system"]?.toSpanAttribute() == "kafka" })
            let delivered = sendSpans.filter { $0.status?.code != .error }
            let failed = sendSpans.filter { $0.status?.code == .error }
            #expect(delivered.count == 5)
            #expect(failed.count == 1 && failed.first?.errors.count == 1)
            let awaited = delivered.first { $0.attributes["messaging.kafka.offset"]?.toSpanAttribute() == .int64(sent.offset)
                && $0.attributes["messaging.destination.partition.id"]?.toSpanAttribute() == "0" }
            #expect(awaited != nil, "the awaited send's span names its partition and offset")

            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "tracing") {
                $0.client.clientId = "tracing-consumer"
                $0.client.tracer = tracer
            }, logger: testLogger)
            try consumer.subscribe(topics: ["traced"])
            let records = try await consume(consumer, count: 5)
            await consumer.close()

            let sendSpanByID = Dictionary(uniqueKeysWithValues: delivered.map { ($0.spanID, $0) })
            for record in records {
                #expect(record.headers.contains { $0.key == InMemoryTracer.traceIDKey }, "the producer wrote the context into the headers")
                let context = try #require(record.traceContext)
                let receive = try #require(tracer.finishedSpans.first { $0.context.inMemorySpanContext == context.inMemorySpanContext })
                #expect(receive.operationName == "receive traced" && receive.kind == .consumer)
                let parent = try #require(receive.parentSpanID.flatMap { sendSpanByID[$0] }, "receive span's parent is a send span")
                #expect(parent.traceID == receive.traceID)
                #expect(receive.attributes["messaging.kafka.offset"]?.toSpanAttribute() == .int64(record.offset))
            }
        }
    }

    @Test("without a tracer no span is made and no header is added")
    func untraced() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("plain", partitions: 1)
            let producer = try KafkaProducer(configuration: producerConfiguration(broker), logger: testLogger)
            _ = try await producer.send(ProducerRecord(topic: "plain", value: "v"))
            await producer.shutdown()
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "plain"), logger: testLogger)
            try consumer.subscribe(topics: ["plain"])
            let records = try await consume(consumer, count: 1)
            await consumer.close()
            #expect(records.first?.headers.isEmpty == true)
            #expect(records.first?.traceContext == nil)
        }
    }
}
