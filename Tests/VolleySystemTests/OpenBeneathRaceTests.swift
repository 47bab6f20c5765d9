import Foundation
import Glibc
import Synchronization
import Testing
@testable import VolleySystem

/// `openat2(RESOLVE_BENEATH)` fails a lookup through `..` with `EAGAIN` when a rename anywhere on the system races
/// it; ``FileSystem/openBeneath(_:_:options:followSymlinks:)`` retries, so a client never sees that race.
@Suite("openBeneath under concurrent renames")
struct OpenBeneathRaceTests {
    @Test func lookupsThroughDotDotSucceedWhileRenamesRace() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "volley-beneath-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        ).path
        try FileManager.default.createDirectory(atPath: scratch + "/root/sub", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: scratch + "/spin", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        FileManager.default.createFile(atPath: scratch + "/root/file", contents: Data("x".utf8))
        FileManager.default.createFile(atPath: scratch + "/spin/a", contents: nil)

        let root = try FileSystem.open(scratch + "/root", options: .directory)
        let stop = StopFlag()
        let renamer = Thread {
            var flip = false
            while !stop.value.load(ordering: .relaxed) {
                let (from, to) = flip ? ("b", "a") : ("a", "b")
                _ = rename(scratch + "/spin/" + from, scratch + "/spin/" + to)
                flip.toggle()
            }
        }
        renamer.start()
        defer { stop.value.store(true, ordering: .relaxed) }

        var failures: [String] = []
        let clock = ContinuousClock()
        let end = clock.now + .milliseconds(1500)
        var opens = 0
        while clock.now < end {
            do {
                _ = try FileSystem.openBeneath(root.descriptor, "sub/../sub/../file")
            } catch {
                failures.append(error.description)
            }
            opens += 1
        }
        #expect(failures.isEmpty, "\(failures.count) of \(opens) opens failed: \(Set(failures))")
        #expect(opens > 100)
    }
}

private final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}
