import Foundation
import KafkaProtocol
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

@testable import MockBroker

/// How a connection's answers leave: written as each is ready, flushed together. A client pipelining small
/// requests gets the answers to what one read brought in one system call, instead of one per answer.
@Suite("Flushing answers together")
struct ResponseFlushTests {
    @Test("the answers to three requests that came in one read are flushed once, when the read is over, in order")
    func answersToOneReadAreFlushedTogether() throws {
        try withConnection { channel, flushes in
            var read = channel.allocator.buffer(capacity: 256)
            for correlationId: Int32 in [11, 12, 13] {
                read.writeBytes(try ConnectionLimitTests.apiVersionsFrame(correlationId: correlationId))
            }
            // What NIO does for a read: the bytes down the pipeline, then the end of the read.
            channel.pipeline.fireChannelRead(read)
            #expect(flushes.count == 0, "nothing goes out while the read is still being handled")
            #expect(try channel.readOutbound(as: IOData.self) == nil)

            channel.pipeline.fireChannelReadComplete()
            #expect(flushes.count == 1)
            #expect(try correlationIds(from: channel) == [11, 12, 13])
        }
    }

    @Test("an answer to a request that came alone goes out at the end of its read")
    func aLoneRequestIsAnsweredAtOnce() throws {
        try withConnection { channel, flushes in
            for correlationId: Int32 in [21, 22] {
                var read = channel.allocator.buffer(capacity: 128)
                read.writeBytes(try ConnectionLimitTests.apiVersionsFrame(correlationId: correlationId))
                try channel.writeInbound(read) // one read: the bytes, then its end
                #expect(try correlationIds(from: channel) == [correlationId])
            }
            #expect(flushes.count == 2)
        }
    }

    @Test("an answer written while the next request waits (a long-polling fetch) goes out without waiting for it")
    func anAnswerIsNotHeldBehindAWaitingRequest() throws {
        try withConnection { channel, state in
            // Registered as MockBroker.start registers it, so that it can lead the topic's partition.
            state.cluster.upsertBroker(.init(id: state.nodeId, host: state.advertisedHost, port: 9092, running: true,
                                             registered: true))
            state.cluster.members.withLockedValue { $0[state.nodeId] = state }
            state.cluster.join(state, now: RequestContext.nowMilliseconds())
            try state.cluster.createTopic(name: "quiet", partitions: 1, replicationFactor: -1, configs: [:],
                                          now: RequestContext.nowMilliseconds())
            // Two fetches of an empty partition in one read: each waits for data until its max wait.
            var read = channel.allocator.buffer(capacity: 256)
            for (correlationId, wait): (Int32, Int32) in [(31, 100), (32, 300)] {
                let fetch = FetchRequest(maxWaitMs: wait, minBytes: 1, maxBytes: 1 << 20, sessionEpoch: -1, topics: [
                    .init(topic: "quiet", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)]),
                ])
                var writer = WireWriter(allocator: channel.allocator)
                try KafkaFrame.writeRequest(fetch, version: 12, correlationId: correlationId, clientId: "t", into: &writer)
                var frame = writer.finishContiguous()
                read.writeBuffer(&frame)
            }
            try channel.writeInbound(read)
            #expect(try correlationIds(from: channel) == [])

            // The first one's wait ends; the second is then handled, and waits: the first answer goes out now.
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))
            #expect(try correlationIds(from: channel) == [31])
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(300))
            #expect(try correlationIds(from: channel) == [32])
        }
    }

    @Test("a request that does not parse closes the connection, and the answers to the ones before it in the read still go out")
    func answersBeforeABadRequestGoOut() throws {
        try withConnection { (channel: EmbeddedChannel, _: FlushCounter) in
            var read = channel.allocator.buffer(capacity: 256)
            read.writeBytes(try ConnectionLimitTests.apiVersionsFrame(correlationId: 41))
            read.writeBytes(try ConnectionLimitTests.apiVersionsFrame(correlationId: 42))
            // A frame whose header is cut short: the broker closes the connection, as Kafka does.
            read.writeInteger(Int32(3))
            read.writeBytes([0, 18, 0])
            channel.pipeline.fireChannelRead(read)
            #expect(try correlationIds(from: channel) == [41, 42])
            #expect(!channel.isActive)
        }
    }

    // MARK: - Helpers

    /// Counts flushes on their way to the socket.
    final class FlushCounter: ChannelOutboundHandler {
        typealias OutboundIn = IOData
        private(set) var count = 0

        func flush(context: ChannelHandlerContext) {
            count += 1
            context.flush()
        }
    }

    /// A broker connection's pipeline (framing and the connection handler, in front of them the flush counter) on
    /// an embedded channel, over a broker's state in a fresh directory.
    private func withConnection(_ body: (EmbeddedChannel, FlushCounter) throws -> Void) throws {
        try withConnection { channel, flushes, _ in try body(channel, flushes) }
    }

    private func withConnection(_ body: (EmbeddedChannel, BrokerState) throws -> Void) throws {
        try withConnection { channel, _, state in try body(channel, state) }
    }

    func withConnection(_ body: (EmbeddedChannel, FlushCounter, BrokerState) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flush-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer {
            try? group.syncShutdownGracefully()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let configuration = MockBrokerConfiguration()
        let logger = Logger(label: "flush-test")
        let state = try BrokerState(configuration: configuration, dataDirectory: directory,
                                    cluster: ClusterMetadata(settings: configuration.replication, isLoneBroker: true),
                                    coordinatorLoop: group.next(), replicationGroup: group, logger: logger)
        let channel = EmbeddedChannel()
        let flushes = FlushCounter()
        try channel.pipeline.syncOperations.addHandlers(
            flushes,
            BrokerFrameHandler(maxFrameSize: configuration.socketRequestMaxBytes),
            BrokerConnectionHandler(router: RequestRouter(state: state), counters: state.counters, idleTimeout: nil,
                                    partialFrameTimeout: nil, logger: logger)
        )
        try body(channel, flushes, state)
        _ = try? channel.finish()
        state.topics.close()
    }

    /// The correlation ids of the response frames written out so far, in order.
    private func correlationIds(from channel: EmbeddedChannel) throws -> [Int32] {
        var written = channel.allocator.buffer(capacity: 256)
        while let data = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(var buffer) = data else {
                Issue.record("an ApiVersions answer written as a file region")
                continue
            }
            written.writeBuffer(&buffer)
        }
        var ids: [Int32] = []
        while let size = written.readInteger(as: Int32.self), var frame = written.readSlice(length: Int(size)) {
            let correlationId = frame.readInteger(as: Int32.self)
            ids.append(try #require(correlationId))
        }
        #expect(written.readableBytes == 0, "a partial response frame")
        return ids
    }
}
