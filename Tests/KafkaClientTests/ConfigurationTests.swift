import KafkaClient
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    @Test("every bootstrap.servers entry must be host:port, and the error names the one that is not",
          arguments: [("localhost", "localhost"), ("127.0.0.1:notaport", "127.0.0.1:notaport"), ("a:1,b", "b"),
                      ("a:1, :9092", ":9092"), ("a:1,b:70000", "b:70000")])
    func badBootstrapEntries(servers: String, named: String) {
        #expect(throws: KafkaProducerError.self) { try KafkaProducer(configuration: ProducerConfiguration(bootstrapServers: servers)) }
        do {
            _ = try KafkaProducer(configuration: ProducerConfiguration(bootstrapServers: servers))
        } catch {
            #expect("\(error)".contains("\"\(named)\""), "\(error)")
        }
        do {
            _ = try KafkaConsumer(configuration: ConsumerConfiguration(bootstrapServers: servers, groupId: nil))
            Issue.record("the consumer took \(servers)")
        } catch {
            #expect("\(error)".contains("\"\(named)\""), "\(error)")
        }
    }

    @Test("well-formed lists are taken whole: names, IPv6 literals, spaces and empty entries")
    func goodBootstrapLists() throws {
        let configuration = ClientConfiguration(bootstrapServers: " a:1, [::1]:9092,,b.example:9093 ")
        #expect(configuration.bootstrapServers == [BrokerAddress(host: "a", port: 1), BrokerAddress(host: "::1", port: 9092),
                                                   BrokerAddress(host: "b.example", port: 9093)])
        #expect(throws: Never.self) { try KafkaProducer(configuration: ProducerConfiguration(bootstrapServers: "a:1,b:2")) }
    }

    @Test("a socket buffer size is -1 (the system's) or positive; 0 and other negatives are refused by name",
          arguments: [0, -2])
    func badSocketBufferSizes(size: Int) {
        var producer = ProducerConfiguration(bootstrapServers: "a:1")
        producer.client.sendBufferBytes = size
        expectRefusal(naming: "send.buffer.bytes") { _ = try KafkaProducer(configuration: producer) }
        var consumer = ConsumerConfiguration(bootstrapServers: "a:1", groupId: nil)
        consumer.client.receiveBufferBytes = size
        expectRefusal(naming: "receive.buffer.bytes") { _ = try KafkaConsumer(configuration: consumer) }
    }

    private func expectRefusal(naming setting: String, _ create: () throws -> Void) {
        do {
            try create()
            Issue.record("\(setting) was taken")
        } catch {
            #expect("\(error)".contains(setting), "\(error)")
        }
    }
}
