import Testing

@testable import KafkaClient

@Suite("The sender keeps the broker's pipeline fed")
struct SenderPipelineTests {
    @Test("while half of max.in.flight is still at the broker, the next requests wait to go out together")
    func answersWithHalfStillInFlightWaitForTheCoalescedLook() {
        #expect(!Sender.looksAtOnce(inFlight: 4, maxInFlight: 5))
        #expect(!Sender.looksAtOnce(inFlight: 3, maxInFlight: 5))
        #expect(!Sender.looksAtOnce(inFlight: 1, maxInFlight: 2))
    }

    @Test("an answer that leaves less than half of max.in.flight at the broker makes the sender look at once")
    func answersThatLeaveThePipelineLowAreFollowedAtOnce() {
        #expect(Sender.looksAtOnce(inFlight: 2, maxInFlight: 5))
        #expect(Sender.looksAtOnce(inFlight: 0, maxInFlight: 5))
        #expect(Sender.looksAtOnce(inFlight: 0, maxInFlight: 1))
        #expect(Sender.looksAtOnce(inFlight: 0, maxInFlight: 2))
    }
}
