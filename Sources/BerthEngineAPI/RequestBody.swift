import NIOCore

/// A request's body as it arrives, with back-pressure: the connection reads from the socket only
/// while the handler keeps up, so a large build context or image archive never piles up in memory.
public struct RequestBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    typealias Producer = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, Demand>

    let producer: Producer

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: producer.makeAsyncIterator()) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Producer.AsyncIterator

        public mutating func next() async throws -> ByteBuffer? { try await base.next() }
    }

    /// The whole body, refused past `limit` bytes (JSON bodies are small; a client that sends
    /// more is wrong or hostile).
    public func collect(upTo limit: Int = 16 << 20) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        for try await var part in self {
            guard collected.readableBytes + part.readableBytes <= limit else {
                throw APIError(status: .payloadTooLarge, message: "request body is larger than \(limit) bytes")
            }
            collected.writeBuffer(&part)
        }
        return collected
    }

    /// Tells the connection the consumer wants more.
    final class Demand: NIOAsyncSequenceProducerDelegate {
        let onDemand: @Sendable () -> Void

        init(onDemand: @escaping @Sendable () -> Void) {
            self.onDemand = onDemand
        }

        func produceMore() { onDemand() }
        func didTerminate() {}
    }

    typealias Source = Producer.Source

    static func make(onDemand: @escaping @Sendable () -> Void) -> (RequestBody, Source) {
        let made = Producer.makeSequence(
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 16), finishOnDeinit: false,
            delegate: Demand(onDemand: onDemand))
        return (RequestBody(producer: made.sequence), made.source)
    }
}
