import NIOCore

/// A task executor that runs jobs on a connection's event loop. An upload's body loop prefers it,
/// so each batch of bytes the loop reads is hashed and staged on that same thread right after the
/// read: no concurrency-pool thread is woken (and put back to sleep) per read, which on a 2-core
/// machine cost more CPU than the hashing itself. The price: the loop's other connections wait
/// while a 1 MiB block goes to disk.
final class EventLoopTaskExecutor: TaskExecutor {
    private let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }
}
