import Foundation

/// The real TFTP clients installed on the test machine, each with the options a test runs it with.
enum RealClient: String, CaseIterable, Sendable, CustomStringConvertible {
    /// curl with its default options (tsize, timeout, blksize 512).
    case curl
    /// curl --tftp-blksize 1468.
    case curlBlockSize1468
    /// curl --tftp-blksize 65464 (the largest blksize).
    case curlBlockSize65464
    /// curl --tftp-no-options (plain RFC 1350).
    case curlNoOptions
    /// tftp-hpa in octet mode (sends no options).
    case tftpHPA
    /// atftp with blksize 1428, windowsize 8 and tsize 0.
    case atftp
    /// busybox tftp -b 1468.
    case busybox
    /// atftp with blksize 512 and windowsize 16 (windows across the block-number rollover).
    case atftpBlockSize512Window16

    var description: String { rawValue }

    /// Whether the client can fetch an empty file (curl with options rejects an OACK with tsize 0).
    var fetchesEmptyFiles: Bool {
        switch self {
        case .curl, .curlBlockSize1468, .curlBlockSize65464: false
        default: true
        }
    }

    /// The text the server's per-transfer log line must contain for this client's options.
    var expectedLogFragment: String {
        switch self {
        case .curl: "blksize=512 windowsize=1 tsize="
        case .curlBlockSize1468: "blksize=1468 windowsize=1 tsize="
        case .curlBlockSize65464: "blksize=65464 windowsize=1 tsize="
        case .curlNoOptions, .tftpHPA: "blksize=512 windowsize=1 (no options)"
        case .atftp: "blksize=1428 windowsize=8 tsize="
        case .busybox: "blksize=1468 windowsize=1 tsize="
        case .atftpBlockSize512Window16: "blksize=512 windowsize=16"
        }
    }

    /// The program and its arguments to fetch `name` from `host`:`port` into `output`.
    func command(host: String, port: Int, name: String, output: String) -> (String, [String]) {
        let urlHost = host.contains(":") ? "[\(host)]" : host
        let url = "tftp://\(urlHost):\(port)/\(name)"
        switch self {
        case .curl: return ("curl", ["-s", "-S", "-o", output, url])
        case .curlBlockSize1468: return ("curl", ["-s", "-S", "--tftp-blksize", "1468", "-o", output, url])
        case .curlBlockSize65464: return ("curl", ["-s", "-S", "--tftp-blksize", "65464", "-o", output, url])
        case .curlNoOptions: return ("curl", ["-s", "-S", "--tftp-no-options", "-o", output, url])
        case .tftpHPA: return ("tftp", [host, String(port), "-m", "binary", "-c", "get", name, output])
        case .atftp:
            return (
                "atftp",
                [
                    "--option", "blksize 1428", "--option", "windowsize 8", "--option", "tsize 0",
                    "-g", "-r", name, "-l", output, host, String(port),
                ]
            )
        case .busybox: return ("busybox", ["tftp", "-b", "1468", "-g", "-r", name, "-l", output, host, String(port)])
        case .atftpBlockSize512Window16:
            return ("atftp", ["--option", "blksize 512", "--option", "windowsize 16", "-g", "-r", name, "-l", output, host, String(port)])
        }
    }

    /// Fetches `name` into `output`; returns the process result and a failure text when the client reports one.
    func fetch(
        host: String = "127.0.0.1", port: Int, name: String, output: String, timeout: Double = 60
    ) async throws -> (ProcessResult, String?) {
        let (program, arguments) = command(host: host, port: port, name: name, output: output)
        let result = try await runProcess(program, arguments: arguments, timeout: timeout)
        if result.timedOut { return (result, "\(self) timed out: \(result)") }
        if result.status != 0 { return (result, "\(self) failed: \(result)") }
        // tftp-hpa exits 0 on errors: it prints them instead.
        let text = result.stdout + result.stderr
        if self == .tftpHPA, text.contains("Error") || text.contains("timed out") || text.contains("Transfer") {
            return (result, "tftp-hpa reported: \(text)")
        }
        return (result, nil)
    }
}
