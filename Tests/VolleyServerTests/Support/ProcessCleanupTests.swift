import Foundation
import Glibc
import Testing

/// The test harness's own promise: a server started for a test never outlives the test.
@Suite("test support: child processes")
struct ProcessCleanupTests {
    @Test("A volley whose fixture is dropped without stop() (a set-up that threw) is killed and reaped")
    func droppedServiceIsKilled() async throws {
        let scratch = try TestDirectory("process-cleanup")
        defer { scratch.remove() }
        try scratch.makeDirectory("root")
        let pid = try await startAndDropServer(root: scratch.path("root"))
        // Reaped by the deinit: no such process any more (not even a zombie).
        #expect(kill(pid, 0) == -1 && errno == ESRCH, "volley \(pid) still exists")
        #expect(!FileManager.default.fileExists(atPath: "/proc/\(pid)"))
    }

    /// Starts `volley serve`, waits until it serves, then throws away the only reference, as a
    /// fixture's initializer does when a later step of its set-up throws.
    private func startAndDropServer(root: String) async throws -> pid_t {
        let service = try ServiceProcess(
            try VolleyBinaries.volley(), ["serve", "--root", root, "--host", "127.0.0.1", "--port", "0"], timeout: 240)
        _ = try await service.waitForServingPort()
        #expect(service.isRunning)
        return service.pid
    }
}
