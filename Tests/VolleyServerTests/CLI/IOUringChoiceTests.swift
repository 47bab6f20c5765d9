import Foundation
import Glibc
import Testing
import VolleySystem

/// `volley serve` says at start how it reads and writes transfer sockets, and serves either way:
/// io_uring where the kernel allows it, epoll (a call per socket) where it does not or when
/// `--no-io-uring` says so.
@Suite("CLI: io_uring or epoll for transfer sockets", .serialized)
struct IOUringChoiceTests {
    private static let sysctl = "/proc/sys/kernel/io_uring_disabled"

    /// Starts volley (through `wrapper` when given, e.g. setpriv), fetches a file with four
    /// curls at once, checks the bytes and returns its log.
    private func serveAndFetch(_ extra: [String], wrapper: [String] = []) async throws -> String {
        let directory = try TestDirectory("uring")
        defer { directory.remove() }
        #expect(chmod(directory.path, 0o755) == 0)  // readable by nobody
        let content = SeededBytes.make(count: 300_001, seed: 77)
        try directory.write("root/kernel.img", content)
        #expect(chmod(directory.path("root"), 0o755) == 0)
        let serve =
            [
                CommandLineTests.binary, "serve", "--root", directory.path("root"), "--host", "127.0.0.1", "--port", "0",
                "--reactors", "1",
            ] + extra
        let process = try RunningProcess(
            wrapper.isEmpty ? serve[0] : wrapper[0],
            arguments: Array((wrapper.isEmpty ? serve : wrapper + serve).dropFirst()), timeout: 60)
        let text = try await process.waitForStderr(timeout: 60) {
            $0.range(of: #"serving .* port [0-9]+"#, options: .regularExpression) != nil
        }
        let range = try #require(text.range(of: #"port [0-9]+"#, options: .regularExpression), "\(text)")
        let port = try #require(Int(text[range].dropFirst(5)))
        try await withThrowingTaskGroup(of: String?.self) { group in
            for i in 0..<4 {
                group.addTask {
                    let (_, failure) = try await RealClient.curl.fetch(port: port, name: "kernel.img", output: directory.path("out\(i)"))
                    return failure ?? byteDifference(directory.contents("out\(i)"), content)
                }
            }
            for try await problem in group { #expect(problem == nil, "\(problem ?? "")") }
        }
        process.signal(SIGTERM)
        let result = try await process.wait()
        #expect(result.status == 0 && !result.killedBySignal, "\(result)")
        return process.stderrSoFar
    }

    @Test("by default io_uring is chosen where the kernel allows it, and said so")
    func ioUringByDefault() async throws {
        let log = try await serveAndFetch([])
        // volley runs with this process's privileges: where this process may set up a ring, so may it.
        if (try? DatagramRing(capacity: 8)) != nil {
            #expect(log.contains("transfer sockets: io_uring"), "\(log)")
        } else {
            #expect(log.contains("the kernel refused io_uring"), "\(log)")
        }
    }

    @Test("--no-io-uring uses epoll and says so")
    func offByFlag() async throws {
        let log = try await serveAndFetch(["--no-io-uring"])
        #expect(log.contains("transfer sockets: epoll, a system call per socket (io_uring is off)"), "\(log)")
    }

    /// kernel.io_uring_disabled = 1 leaves io_uring to privileged processes: root tests still
    /// have it, an unprivileged volley is refused (EPERM), as under a container's seccomp filter.
    @Test(
        "where the kernel refuses io_uring (kernel.io_uring_disabled), volley falls back to epoll, says why, and serves",
        .enabled(if: geteuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0 && access(sysctl, W_OK) == 0))
    func refusedByTheKernel() async throws {
        let original = try String(contentsOfFile: Self.sysctl, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        defer { try? original.write(toFile: Self.sysctl, atomically: false, encoding: .utf8) }
        if original == "0" { try "1".write(toFile: Self.sysctl, atomically: false, encoding: .utf8) }
        let log = try await serveAndFetch([], wrapper: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        #expect(log.contains("transfer sockets: epoll, a system call per socket: the kernel refused io_uring"), "\(log)")
        #expect(log.contains("kernel.io_uring_disabled, or a seccomp filter"), "\(log)")
    }
}
