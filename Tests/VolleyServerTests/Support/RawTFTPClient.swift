import Foundation
import Glibc
import TFTPProtocol
import VolleyReactor
import VolleySystem

/// A datagram that arrived at a ``RawTFTPClient``.
struct ReceivedDatagram {
    var bytes: [UInt8]
    var source: SocketAddress
    /// The decoded packet, nil when it did not decode.
    var packet: TFTPPacket? { try? TFTPPacketDecoder.decode(bytes) }
}

/// A blocking UDP socket speaking raw TFTP, for tests that need packet-level control.
/// Used from one thread (run tests' raw parts inside ``offload(_:)``).
final class RawTFTPClient {
    let descriptor: Int32
    /// The address this socket is bound to.
    let localAddress: SocketAddress

    /// Opens a socket bound to an ephemeral port on `ip` (127.0.0.1 or ::1).
    init(ip: String = "127.0.0.1") throws {
        guard let bind = SocketAddress(ip: ip, port: 0) else { throw TestFailure("bad ip \(ip)") }
        let fd = socket(bind.family.rawValue, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var size: Int32 = 8 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, 4)
        let bound = bind.withSockaddr { Glibc.bind(fd, $0, $1) }
        guard bound == 0 else {
            close(fd)
            throw TestFailure("bind: errno \(errno)")
        }
        do {
            localAddress = try UDPSocket.localAddress(of: Descriptor(rawValue: fd))
        } catch {
            close(fd)
            throw error
        }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Sends raw bytes.
    func send(_ bytes: [UInt8], to address: SocketAddress) {
        let sent = bytes.withUnsafeBytes { buffer in
            address.withSockaddr { sendto(descriptor, buffer.baseAddress, buffer.count, 0, $0, $1) }
        }
        precondition(sent == bytes.count, "sendto failed: errno \(errno)")
    }

    /// Sends a packet.
    func send(_ packet: TFTPPacket, to address: SocketAddress) {
        send(TFTPPacketEncoder.encode(packet), to: address)
    }

    /// Sends an RRQ.
    func sendReadRequest(_ name: String, mode: String = "octet", options: [(String, String)] = [], to address: SocketAddress) {
        send(
            .readRequest(TFTPRequest(filename: name, mode: mode, options: options.map { TFTPOption(name: $0.0, value: $0.1) })), to: address
        )
    }

    /// Waits up to `timeout` seconds for one datagram; nil on timeout.
    func receive(timeout: Double) -> ReceivedDatagram? {
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        if tv.tv_sec == 0 && tv.tv_usec == 0 { tv.tv_usec = 1 }
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 70_000)
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &storage) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(descriptor, raw.baseAddress, raw.count, 0, $0, &length)
                    }
                }
            }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            let source = withUnsafeBytes(of: &storage) { SocketAddress(storage: $0.baseAddress!) }!
            return ReceivedDatagram(bytes: Array(buffer[..<count]), source: source)
        }
    }

    /// Every datagram arriving within `seconds` (a quiet period ends nothing: it waits the full time).
    func receiveAll(for seconds: Double) -> [ReceivedDatagram] {
        let deadline = Date().addingTimeInterval(seconds)
        var all: [ReceivedDatagram] = []
        while true {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return all }
            if let datagram = receive(timeout: left) { all.append(datagram) }
        }
    }

    /// Downloads `name` completely and returns the bytes, the OACK options (if any) and the transfer's address.
    /// Throws on an ERROR packet or a timeout. ACKs the last block of each window (window from the OACK).
    func fetch(
        _ name: String, mode: String = "octet", options: [(String, String)] = [], from server: SocketAddress,
        timeout: Double = 5, onBlock: ((UInt64) -> Void)? = nil
    ) throws -> FetchResult {
        sendReadRequest(name, mode: mode, options: options, to: server)
        var result = FetchResult()
        var blockSize = 512
        var windowSize = 1
        var expected: UInt64 = 1
        var inWindow = 0
        while true {
            guard let datagram = receive(timeout: timeout) else {
                throw TestFailure("timed out waiting for block \(expected) of \(name)")
            }
            if let peer = result.transferAddress, datagram.source != peer { continue }
            guard let packet = datagram.packet else { throw TestFailure("undecodable packet \(datagram.bytes.prefix(16))") }
            switch packet {
            case .optionAcknowledgement(let acknowledged):
                guard result.transferAddress == nil else { continue }
                result.transferAddress = datagram.source
                result.optionAcknowledgement = acknowledged
                for option in acknowledged {
                    if option.name.lowercased() == "blksize" { blockSize = Int(option.value)! }
                    if option.name.lowercased() == "windowsize" { windowSize = Int(option.value)! }
                }
                send(.acknowledgement(block: 0), to: datagram.source)
            case .data(let block, let payload):
                if result.transferAddress == nil { result.transferAddress = datagram.source }
                guard block == UInt16(truncatingIfNeeded: expected) else {
                    result.outOfOrderBlocks += 1
                    continue
                }
                result.bytes += payload
                result.dataPackets += 1
                onBlock?(expected)
                inWindow += 1
                let last = payload.count < blockSize
                if last || inWindow == windowSize {
                    send(.acknowledgement(block: block), to: datagram.source)
                    inWindow = 0
                }
                if last { return result }
                expected += 1
            case .error(let code, let message):
                throw ServerErrorReply(code: code.rawValue, message: message)
            default:
                throw TestFailure("unexpected packet \(packet)")
            }
        }
    }
}

/// What ``RawTFTPClient/fetch(_:mode:options:from:timeout:onBlock:)`` received.
struct FetchResult {
    var bytes: [UInt8] = []
    var optionAcknowledgement: [TFTPOption]?
    var transferAddress: SocketAddress?
    var dataPackets = 0
    var outOfOrderBlocks = 0
}

/// The server answered with ERROR.
struct ServerErrorReply: Error, CustomStringConvertible {
    var code: UInt16
    var message: String
    var description: String { "ERROR \(code) \(message.debugDescription)" }
}

extension ReceivedDatagram {
    /// (code, message) when this is an ERROR packet.
    var error: (code: UInt16, message: String)? {
        if case .error(let code, let message) = packet { return (code.rawValue, message) }
        return nil
    }
}
