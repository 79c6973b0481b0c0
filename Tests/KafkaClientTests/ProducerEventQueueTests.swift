import Testing

@testable import KafkaClient

@Suite("The producer's events: from the sender to the task that reads them")
struct ProducerEventQueueTests {
    private static func reports(_ partition: Int32, offset: Int64) -> ProducerEvent {
        .deliveryReports(DeliveryReports(topic: "t", partition: partition, error: nil, baseOffset: offset, logAppendTime: -1,
                                         ids: [UInt64(offset)], timestamps: [0]))
    }

    private static func offsets(_ events: [ProducerEvent]) -> [Int64] {
        events.map { event in
            switch event {
            case .deliveryReports(let reports): reports.baseOffset
            }
        }
    }

    private static func readAll(_ events: ProducerEvents) async -> [ProducerEvent] {
        var read: [ProducerEvent] = []
        for await event in events { read.append(event) }
        return read
    }

    @Test("events handed over in several turns are read in order, and the end comes after the last of them")
    func eventsAreReadInOrderThenTheEnd() async {
        let queue = ProducerEventQueue()
        queue.append(contentsOf: [Self.reports(0, offset: 0), Self.reports(1, offset: 1)])
        queue.append(contentsOf: [])
        queue.append(contentsOf: [Self.reports(2, offset: 2)])
        queue.finish()
        queue.append(contentsOf: [Self.reports(0, offset: 99)])
        let read = await Self.readAll(ProducerEvents(queue: queue, executor: EventLoopTaskExecutor(.singletonMultiThreadedEventLoopGroup.next())))
        #expect(Self.offsets(read) == [0, 1, 2])
    }

    @Test("a reader waiting on no events gets those handed over later, then the end")
    func aWaitingReaderIsWoken() async {
        let queue = ProducerEventQueue()
        let events = ProducerEvents(queue: queue, executor: EventLoopTaskExecutor(.singletonMultiThreadedEventLoopGroup.next()))
        let reader = Task { await Self.readAll(events) }
        for offset in Int64(0)..<100 {
            queue.append(contentsOf: [Self.reports(0, offset: offset)])
            if offset.isMultiple(of: 10) { await Task.yield() }
        }
        queue.finish()
        #expect(await Self.offsets(reader.value) == Array(0..<100))
    }

    @Test("cancelling the reading task ends its iteration, also while it waits for events", .timeLimit(.minutes(1)))
    func cancellingTheReaderEndsIt() async {
        let queue = ProducerEventQueue()
        let events = ProducerEvents(queue: queue, executor: EventLoopTaskExecutor(.singletonMultiThreadedEventLoopGroup.next()))
        let (firstRead, signal) = AsyncStream.makeStream(of: Void.self)
        queue.append(contentsOf: [Self.reports(0, offset: 0)])
        let reader = Task {
            var iterator = events.makeAsyncIterator()
            let first = await iterator.next()
            signal.yield()
            // Nothing more is ever handed over: only the cancellation can end this wait.
            let second = await iterator.next()
            return (first, second)
        }
        for await _ in firstRead { break }
        reader.cancel()
        let (first, second) = await reader.value
        #expect(first.map { Self.offsets([$0]) } == [0])
        #expect(second == nil)
    }
}
