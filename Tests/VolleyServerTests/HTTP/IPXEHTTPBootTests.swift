import Foundation
import Testing

/// Real firmware over HTTP: iPXE (Debian's ipxe-qemu, the e1000 ROM) in qemu with user-mode
/// networking, whose DHCP hands it an `http://` boot file on Volley (slirp's 10.0.2.2 is the
/// host's loopback: nothing leaves the machine).
@Suite(
    "HTTP: iPXE in qemu chains a script and fetches a file", .serialized, .timeLimit(.minutes(3)),
    .enabled(if: QemuIPXE.unavailableReason == nil, "\(QemuIPXE.unavailableReason ?? "")"))
struct IPXEHTTPBootTests {
    @Test("DHCP's boot file is an http:// script on Volley; the script fetches 2 MB by HTTP and chains the next")
    func chainOverHTTP() async throws {
        let fixture = try await HTTPFixture("ipxe-http")
        defer { fixture.stop() }
        let payload = SeededBytes.make(count: 2_000_000, seed: 48)
        _ = try fixture.scratch.write("root/images/payload.bin", payload)
        _ = try fixture.scratch.write("root/done.ipxe", Array("#!ipxe\necho VOLLEY-DONE\nexit\n".utf8))
        let base = "http://10.0.2.2:\(fixture.httpPort)"
        _ = try fixture.scratch.write(
            "root/boot.ipxe",
            Array(
                """
                #!ipxe
                echo VOLLEY-CHAINED
                imgfetch \(base)/images/payload.bin || goto failed
                imgstat
                chain \(base)/done.ipxe
                exit
                :failed
                echo VOLLEY-FAILED
                exit

                """.utf8))
        let qemu = try ServiceProcess(
            try VolleyBinaries.program("qemu-system-x86_64"),
            [
                "-machine", "pc", "-m", "256", "-nographic", "-no-reboot", "-boot", "n",
                "-netdev", "user,id=n0,bootfile=\(base)/boot.ipxe", "-device", "e1000,netdev=n0",
            ], timeout: 150)
        defer { qemu.killIfRunning() }
        var console = ""
        for _ in 0..<1200 where !console.contains("VOLLEY-DONE") && !console.contains("VOLLEY-FAILED") {
            try await Task.sleep(for: .milliseconds(100))
            console = qemu.stdoutText
        }
        #expect(console.contains("VOLLEY-CHAINED") && console.contains("VOLLEY-DONE"), "console:\n\(console.suffix(3000))")
        #expect(console.contains("payload.bin : 2000000 bytes"), "iPXE's imgstat:\n\(console.suffix(2000))")
        #expect(!console.contains("VOLLEY-FAILED"))
        #expect(fixture.service.lines(containing: "\"images/payload.bin\" GET").count == 1, "\(fixture.service.stderrText)")
    }
}

/// qemu and Debian's iPXE ROMs, for the firmware tests.
enum QemuIPXE {
    /// Why the test cannot run here (nil: it can). Under CI it must run: bootstrap installs both.
    static let unavailableReason: String? = {
        let missing = ["/usr/bin/qemu-system-x86_64", "/usr/lib/ipxe/qemu/efi-e1000.rom"].filter {
            !FileManager.default.fileExists(atPath: $0)
        }
        guard !missing.isEmpty else { return nil }
        if ProcessInfo.processInfo.environment["CI"] == "true" { return nil }  // run, and fail, rather than skip under CI
        return "needs qemu-system-x86 and ipxe-qemu (scripts/bootstrap installs them): missing \(missing.joined(separator: ", "))"
    }()
}
