import BerthProcess
import Foundation
import Glibc
import NIOCore
import NIOPosix

/// Pipes and sockets to processes (runc, the copy helper, a monitor's attach socket) as NIO
/// channels, so a container's streams are relayed without holding a thread per stream, with
/// back-pressure both ways.
enum DescriptorStreams {
    typealias Channel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// Takes `descriptor` (a pipe's read end) over; it is closed when the channel is.
    static func reading(_ descriptor: Int32) async throws -> Channel {
        try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .takingOwnershipOfDescriptor(input: descriptor) { channel in
                channel.eventLoop.makeCompletedFuture { try Channel(wrappingChannelSynchronously: channel) }
            }
    }

    /// Takes `descriptor` (a pipe's write end) over; closing the channel closes it (the reader sees its end).
    static func writing(_ descriptor: Int32) async throws -> Channel {
        try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .takingOwnershipOfDescriptor(output: descriptor) { channel in
                channel.eventLoop.makeCompletedFuture { try Channel(wrappingChannelSynchronously: channel) }
            }
    }

    /// Takes a connected socket over, both ways.
    static func socket(_ descriptor: Int32) async throws -> Channel {
        try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .takingOwnershipOfDescriptor(inputOutput: descriptor) { channel in
                channel.eventLoop.makeCompletedFuture { try Channel(wrappingChannelSynchronously: channel) }
            }
    }

    /// Calls `body` with each chunk read from `channel` until its end (or a read error: a
    /// terminal's master reads EIO once the other side is closed).
    static func forEachChunk(of channel: Channel, _ body: (ByteBuffer) async throws -> Void) async throws {
        try await channel.executeThenClose { inbound, _ in
            do {
                for try await chunk in inbound { try await body(chunk) }
            } catch is IOError {
                // The stream's end, as a terminal's master or a closed peer reports it.
            }
        }
    }

    /// Runs `body`, which blocks for as long as a client takes to read or write (a copy through a
    /// pipe), on a thread of its own rather than the engine's pool.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try body() })
            }
        }
    }

    /// A pipe whose ends are close-on-exec (the spawned process gets its end by dup2).
    static func pipe() throws -> (read: Int32, write: Int32) {
        // A write to a pipe whose reader is gone must fail with EPIPE, not end the process.
        signal(SIGPIPE, SIG_IGN)
        let made = try Pipe.make()
        return (made.read, made.write)
    }
}

/// Waits for a child process of this one without holding a thread, polling at a growing
/// interval (2 ms to 50 ms): a command's end is seen within a fraction of its run.
enum ChildProcess {
    /// The raw wait status of `pid`, reaped, once it exits. The wait goes on even if the caller
    /// is cancelled, so the child never stays a zombie.
    static func exitStatus(of pid: pid_t) async -> Int32 {
        await Task.detached {
            var status: Int32 = 0
            var delay: UInt64 = 2_000_000
            while true {
                let result = waitpid(pid, &status, WNOHANG)
                if result == pid { return status }
                if result < 0, errno != EINTR { return 255 << 8 }
                try? await Task.sleep(nanoseconds: delay)
                delay = min(delay * 2, 50_000_000)
            }
        }.value
    }
}
