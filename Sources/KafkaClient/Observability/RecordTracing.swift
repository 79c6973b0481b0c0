import KafkaProtocol
import NIOCore
import Tracing

/// Spans for records, following OpenTelemetry's messaging conventions: `send <topic>` (kind producer) from
/// `enqueue`/`send` to the record's outcome, and `receive <topic>` (kind consumer) when a record is handed out,
/// continuing the trace the producer put in the record's headers. How the context is written into headers is the
/// tracer's choice (OpenTelemetry's tracer writes W3C `traceparent`).
enum RecordTracing {
    /// Starts a record's send span and writes its context into `headers`.
    static func startSend(topic: String, clientId: String, headers: inout [RecordHeader], tracer: any Tracer) -> any Span {
        let span = tracer.startAnySpan("send \(topic)", context: InstrumentationContext.current ?? .topLevel, ofKind: .producer,
                                       at: DefaultTracerClock.now, function: #function, file: #fileID, line: #line)
        span.attributes["messaging.system"] = "kafka"
        span.attributes["messaging.operation.name"] = "send"
        span.attributes["messaging.operation.type"] = "send"
        span.attributes["messaging.destination.name"] = topic
        span.attributes["messaging.client.id"] = clientId
        tracer.inject(span.context, into: &headers, using: RecordHeaderInjector())
        return span
    }

    /// Ends a send span with where the record went, or why it did not.
    static func endSend(_ span: any Span, result: Result<RecordMetadata, KafkaProducerError>) {
        switch result {
        case .success(let metadata):
            span.attributes["messaging.destination.partition.id"] = "\(metadata.partition)"
            if metadata.offset >= 0 { span.attributes["messaging.kafka.offset"] = Int(metadata.offset) }
        case .failure(let error):
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error, message: "\(error)"))
        }
        span.end()
    }

    /// A span for a record handed out, child of the context in its headers (if any); returns the span's context,
    /// which the application continues the trace from (``ConsumerRecord/traceContext``).
    static func receive(topic: String, partition: Int32, offset: Int64, clientId: String, headers: RecordHeaders,
                        tracer: any Tracer) -> InstrumentationContext {
        var parent = InstrumentationContext.topLevel
        if headers.count > 0 { tracer.extract(headers, into: &parent, using: RecordHeaderExtractor()) }
        let span = tracer.startAnySpan("receive \(topic)", context: parent, ofKind: .consumer, at: DefaultTracerClock.now,
                                       function: #function, file: #fileID, line: #line)
        span.attributes["messaging.system"] = "kafka"
        span.attributes["messaging.operation.name"] = "receive"
        span.attributes["messaging.operation.type"] = "receive"
        span.attributes["messaging.destination.name"] = topic
        span.attributes["messaging.destination.partition.id"] = "\(partition)"
        span.attributes["messaging.kafka.offset"] = Int(offset)
        span.attributes["messaging.client.id"] = clientId
        span.end()
        return span.context
    }
}

/// Writes trace context into a produced record's headers (replacing a header of the same key).
struct RecordHeaderInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [RecordHeader]) {
        carrier.removeAll { $0.key == key }
        carrier.append(RecordHeader(key: key, value: value))
    }
}

/// Reads trace context from a consumed record's headers.
struct RecordHeaderExtractor: Extractor {
    func extract(key: String, from carrier: RecordHeaders) -> String? {
        for header in carrier where header.key == key {
            return header.value.map { String(buffer: $0) }
        }
        return nil
    }
}
