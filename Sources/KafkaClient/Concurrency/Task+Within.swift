import NIOConcurrencyHelpers

extension Task where Success == Void, Failure == Never {
    /// Waits for the task at most `timeout`: true when it finished in time. The task itself goes on either way
    /// (a close uses this to stop waiting for a graceful step, then ends what that step waits for).
    func finished(within timeout: Duration) async -> Bool {
        let waiter = NIOLockedValueBox<CheckedContinuation<Bool, Never>?>(nil)
        let answer: @Sendable (Bool) -> Void = { finished in
            waiter.withLockedValue { continuation in
                defer { continuation = nil }
                return continuation
            }?.resume(returning: finished)
        }
        var timer: Task<Void, Never>?
        let finished = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            waiter.withLockedValue { $0 = continuation }
            Task<Void, Never> {
                await self.value
                answer(true)
            }
            timer = Task<Void, Never> {
                try? await Task<Never, Never>.sleep(for: timeout)
                answer(false)
            }
        }
        timer?.cancel()
        return finished
    }
}
