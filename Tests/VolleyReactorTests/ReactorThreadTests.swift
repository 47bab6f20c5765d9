import VolleySystem
import VolleySystemTestSupport
import Dispatch
import Glibc
import Testing
@testable import VolleyReactor

private struct SetUpFailed: Error, Equatable {}

/// Holds a weak reference to the reactor created on the thread, to check it was released.
private final class ReactorProbe: @unchecked Sendable {
    weak var reactor: Reactor?
    var taskPath: String?
}

/// "/proc/self/task/TID" for the calling thread.
private func currentTaskPath() -> String? {
    var buffer = [CChar](repeating: 0, count: 256)
    let length = readlink("/proc/thread-self", &buffer, buffer.count - 1)
    guard length > 0 else { return nil }
    let target = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)  // "PID/task/TID"
    return "/proc/" + target
}

/// The calling thread's name as the kernel knows it.
private func currentThreadName() -> String {
    let fd = open("/proc/thread-self/comm", O_RDONLY)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 64)
    let count = read(fd, &buffer, buffer.count)
    guard count > 0 else { return "" }
    return String(decoding: buffer.prefix(count), as: UTF8.self).trimmingSuffix("\n")
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}

@Suite("ReactorThread", .timeLimit(.minutes(1)))
struct ReactorThreadTests {
    @Test func setUpThatThrowsIsRethrownAndTheThreadEnds() throws {
        let probe = ReactorProbe()
        let result = Locked<String?>(nil)
        let finished = completes(withinSeconds: 10) {
            do {
                _ = try ReactorThread.start(name: "failing") { reactor in
                    probe.reactor = reactor
                    probe.taskPath = currentTaskPath()
                    throw SetUpFailed()
                }
                result.withLock { $0 = "start returned normally" }
            } catch is SetUpFailed {
                result.withLock { $0 = "rethrown" }
            } catch {
                result.withLock { $0 = "wrong error: \(error)" }
            }
        }
        try #require(finished, "start hung after a failing setUp")
        #expect(result.value == "rethrown")
        #expect(probe.reactor == nil, "the reactor outlived the failed start")
        // start joined the thread; its /proc entry goes away once the kernel has reaped it.
        let path = try #require(probe.taskPath)
        var gone = false
        for _ in 0..<200 {
            if access(path, F_OK) != 0 {
                gone = true
                break
            }
            usleep(10_000)
        }
        #expect(gone, "thread \(path) still exists")
    }

    @Test func executeFromManyThreadsRunsEveryClosureOnceOnTheReactorThread() throws {
        let reactorThread = Locked<pthread_t?>(nil)
        let name = Locked<String>("")
        let handle = try ReactorThread.start(name: "volley-test-reactor-long-name") { _ in
            reactorThread.withLock { $0 = pthread_self() }
            name.withLock { $0 = currentThreadName() }
        }
        let owner = try #require(reactorThread.value)
        #expect(pthread_equal(owner, pthread_self()) == 0)
        #expect(name.value == "volley-test-rea", "thread name is the first 15 bytes")

        let posters = 8
        let perPoster = 250
        let runs = Locked([Int](repeating: 0, count: posters * perPoster))
        let offThread = Locked(0)
        let posted = completes(withinSeconds: 20) {
            DispatchQueue.concurrentPerform(iterations: posters) { poster in
                for k in 0..<perPoster {
                    let token = poster * perPoster + k
                    handle.execute { reactor in
                        if pthread_equal(pthread_self(), owner) == 0 { offThread.withLock { $0 += 1 } }
                        _ = reactor.pendingTimerCount  // the reactor is usable here
                        runs.withLock { $0[token] += 1 }
                    }
                }
            }
        }
        #expect(posted)
        #expect(completes(withinSeconds: 10) { handle.stopAndWait() }, "stopAndWait hung")
        // Work posted before stopAndWait has all run, exactly once, on the reactor thread.
        #expect(runs.value.allSatisfy { $0 == 1 }, "runs: \(runs.value.filter { $0 != 1 }.count) closures not run exactly once")
        #expect(offThread.value == 0)
    }

    @Test func executeCanArmTimersAndWakesTheLoop() throws {
        let handle = try ReactorThread.start(name: "timers") { _ in }
        let fired = DispatchSemaphore(value: 0)
        let start = MonotonicClock.milliseconds()
        handle.execute { reactor in
            reactor.addTimer(afterMilliseconds: 20) { fired.signal() }
        }
        #expect(fired.wait(timeout: .now() + 5) == .success)
        #expect(MonotonicClock.milliseconds() - start >= 20)
        // A loop parked in epoll_wait with no timers is woken by execute.
        let woke = DispatchSemaphore(value: 0)
        usleep(50_000)
        handle.execute { _ in woke.signal() }
        #expect(woke.wait(timeout: .now() + 5) == .success)
        #expect(completes(withinSeconds: 10) { handle.stopAndWait() })
    }

    @Test func setUpRunsOnTheReactorThreadAndCanRegisterDescriptors() throws {
        let (receiver, address) = try Net.bound(Net.v4())
        let (sender, _) = try Net.bound(Net.v4())
        defer {
            closeDescriptor(receiver)
            closeDescriptor(sender)
        }
        let got = DispatchSemaphore(value: 0)
        let handle = try ReactorThread.start(name: "io") { reactor in
            try reactor.register(receiver) { _ in
                var byte: UInt8 = 0
                while recv(receiver.rawValue, &byte, 1, Int32(MSG_DONTWAIT)) >= 0 {}
                got.signal()
            }
        }
        Net.send(sender, [9], to: address)
        #expect(got.wait(timeout: .now() + 5) == .success)
        handle.execute { $0.deregister(receiver) }
        #expect(completes(withinSeconds: 10) { handle.stopAndWait() })
    }

    @Test func stopAndWaitTwiceAndExecuteAfterStopAreHarmless() throws {
        let handle = try ReactorThread.start(name: "stopper") { _ in }
        #expect(completes(withinSeconds: 10) { handle.stopAndWait() })
        let ran = Locked(false)
        handle.execute { _ in ran.withLock { $0 = true } }
        #expect(completes(withinSeconds: 10) { handle.stopAndWait() })
        usleep(20_000)
        #expect(!ran.value, "work posted after stop must be dropped")
    }

    @Test func manyStartsAndStops() throws {
        for round in 0..<20 {
            let handle = try ReactorThread.start(name: "round-\(round)") { _ in }
            let ran = DispatchSemaphore(value: 0)
            handle.execute { _ in ran.signal() }
            #expect(ran.wait(timeout: .now() + 5) == .success)
            #expect(completes(withinSeconds: 10) { handle.stopAndWait() })
        }
    }
}
