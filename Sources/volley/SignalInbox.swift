import Dispatch
import Foundation
import Synchronization

/// Delivers SIGINT, SIGTERM and SIGHUP to the main thread as a queue of signal numbers.
///
/// `@unchecked Sendable`: the dispatch sources are created in `init` and never touched again.
final class SignalInbox: @unchecked Sendable {
    private let pending = Mutex<[Int32]>([])
    private let arrived = DispatchSemaphore(value: 0)
    private var sources: [DispatchSourceSignal] = []

    /// Starts catching `signals` (their default actions are disabled).
    init(_ signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in
                pending.withLock { $0.append(number) }
                arrived.signal()
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The next signal, or nil after `timeoutMilliseconds` (nil waits forever).
    func next(timeoutMilliseconds: Int? = nil) -> Int32? {
        if let timeoutMilliseconds {
            guard arrived.wait(timeout: .now() + .milliseconds(timeoutMilliseconds)) == .success else { return nil }
        } else {
            arrived.wait()
        }
        return pending.withLock { $0.isEmpty ? nil : $0.removeFirst() }
    }
}
