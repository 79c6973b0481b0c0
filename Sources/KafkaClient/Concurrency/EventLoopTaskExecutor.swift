import NIOCore

/// A task executor that runs a task's jobs on one event loop.
///
/// The consumer's group membership (joins, heartbeats, commits) runs on its client's event loop with this as the
/// task's executor preference, so that its nonisolated calls (sending a request, awaiting the answer) stay on that
/// loop too. The Java client keeps heartbeats on a thread of their own for the same reason: an application whose
/// own work fills Swift's cooperative pool (as many threads as cores) must not lose its partitions because its
/// heartbeats waited for a free thread past the session timeout.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
