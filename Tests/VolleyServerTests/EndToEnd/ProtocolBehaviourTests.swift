import Foundation
import Glibc
import Testing
import TFTPProtocol
import VolleyReactor
import VolleySystem
import VolleyServer

/// Packet-level protocol behaviour, checked with the raw client.
@Suite("End to end: protocol behaviour")
struct ProtocolBehaviourTests {
    /// Writes `content` as root/NAME in a fresh directory.
    static func makeRoot(_ files: [String: [UInt8]]) throws -> TestDirectory {
        let directory = try TestDirectory("protocol")
        try directory.makeDirectory("root")
        for (name, content) in files { try directory.write("root/" + name, content) }
        return directory
    }

    @Test("OACK carries only the requested options; unknown options alone get DATA 1 directly")
    func optionAcknowledgementOnlyForRequested() async throws {
        let content = SeededBytes.make(count: 5000, seed: 1)
        let directory = try Self.makeRoot(["f.bin": content])
        defer { directory.remove() }
        try await withServer(root: directory.path("root")) { server in
            let address = server.address
            try await offload {
                let client = try RawTFTPClient()
                let result = try client.fetch("f.bin", options: [("blksize", "1024")], from: address)
                #expect(result.optionAcknowledgement == [TFTPOption(name: "blksize", value: "1024")])
                #expect(result.dataPackets == 5)  // 4 full blocks of 1024 and a short one
                #expect(byteDifference(result.bytes, content) == nil)

                let upper = try RawTFTPClient()
                let upperResult = try upper.fetch("f.bin", options: [("BLKSIZE", "1024"), ("frobnicate", "7")], from: address)
                #expect(upperResult.optionAcknowledgement?.count == 1)
                #expect(upperResult.optionAcknowledgement?.first?.name.lowercased() == "blksize")
                #expect(upperResult.optionAcknowledgement?.first?.value == "1024")

                let unknown = try RawTFTPClient()
                unknown.sendReadRequest("f.bin", options: [("frobnicate", "7"), ("multicast", "")], to: address)
                let first = try #require(unknown.receive(timeout: 2))
                guard case .data(let block, let payload) = first.packet else {
                    Issue.record("expected DATA 1, got \(first.bytes.prefix(16))")
                    return
                }
                #expect(block == 1 && payload == Array(content[0..<512]))
                unknown.send(.error(code: .notDefined, message: "done"), to: first.source)
            }
        }
    }

    @Test(
        "a file of whole blocks ends with an empty DATA block, with and without windows",
        arguments: [(1024, 1), (1024, 3), (1024, 4), (512, 8)])
    func wholeBlocksEndWithEmptyBlock(blockSize: Int, windowSize: Int) async throws {
        let content = SeededBytes.make(count: blockSize * 8, seed: 10)
        let directory = try Self.makeRoot(["f.bin": content])
        defer { directory.remove() }
        try await withServer(root: directory.path("root")) { server in
            let address = server.address
            try await offload {
                let client = try RawTFTPClient()
                let result = try client.fetch(
                    "f.bin", options: [("blksize", String(blockSize)), ("windowsize", String(windowSize))], from: address)
                #expect(result.dataPackets == 9)  // 8 full blocks and an empty one
                #expect(byteDifference(result.bytes, content) == nil)
            }
            #expect(try await server.waitUntilIdle(timeout: 1).completedTransfers == 1)
        }
    }

    @Test("blksize above the configured maximum is lowered to it in the OACK, never raised")
    func blockSizeCap() async throws {
        let content = SeededBytes.make(count: 5000, seed: 12)
        let directory = try Self.makeRoot(["f.bin": content])
        defer { directory.remove() }
        try await withServer(root: directory.path("root"), configure: { $0.maximumBlockSize = 1024 }) { server in
            let address = server.address
            try await offload {
                let high = try RawTFTPClient().fetch("f.bin", options: [("blksize", "1468")], from: address)
                #expect(high.optionAcknowledgement == [TFTPOption(name: "blksize", value: "1024")])
                #expect(byteDifference(high.bytes, content) == nil)
                let low = try RawTFTPClient().fetch("f.bin", options: [("blksize", "600")], from: address)
                #expect(low.optionAcknowledgement == [TFTPOption(name: "blksize", value: "600")])
                #expect(byteDifference(low.bytes, content) == nil)
            }
        }
    }

    @Test("netascii on the wire: LF → CR LF, bare CR → CR NUL, tsize is the converted size")
    func netasciiWire() async throws {
        var content: [UInt8] = []
        for i in 0..<120 { content += Array("row \(i)\n".utf8) + [13] + Array("x\r\n".utf8) }
        var wire: [UInt8] = []
        for byte in content {
            switch byte {
            case 10: wire += [13, 10]
            case 13: wire += [13, 0]
            default: wire.append(byte)
            }
        }
        let directory = try Self.makeRoot(["t.txt": content])
        defer { directory.remove() }
        try await withServer(root: directory.path("root")) { server in
            let address = server.address
            try await offload {
                let client = try RawTFTPClient()
                let result = try client.fetch("t.txt", mode: "netascii", options: [("tsize", "0")], from: address)
                #expect(result.optionAcknowledgement == [TFTPOption(name: "tsize", value: String(wire.count))])
                #expect(byteDifference(result.bytes, wire) == nil, "\(byteDifference(result.bytes, wire) ?? "")")
            }
        }
    }

    @Test("ERROR 8 after the OACK (UEFI tsize probe) ends the transfer quietly and frees its slot")
    func sizeProbe() async throws {
        let content = SeededBytes.make(count: 70_000, seed: 2)
        let directory = try Self.makeRoot(["k.efi": content])
        defer { directory.remove() }
        let logs = LogCapture()
        try await withServer(
            root: directory.path("root"), logs: logs,
            configure: {
                $0.retransmitTimeoutMilliseconds = 150
            }
        ) { server in
            let address = server.address
            try await offload {
                let client = try RawTFTPClient()
                client.sendReadRequest("k.efi", options: [("tsize", "0"), ("blksize", "1468")], to: address)
                let oack = try #require(client.receive(timeout: 2))
                #expect(
                    oack.packet
                        == .optionAcknowledgement([
                            TFTPOption(name: "tsize", value: "70000"), TFTPOption(name: "blksize", value: "1468"),
                        ]))
                #expect(server.statistics.activeTransfers == 1)
                client.send(.error(code: .optionNegotiationFailed, message: "tsize probe"), to: oack.source)
                // Nothing more: no retransmitted OACK, no DATA, no ERROR back.
                let after = client.receiveAll(for: 0.6)
                #expect(after.isEmpty, "got \(after.map { $0.bytes.prefix(8) })")
            }
            let statistics = try await server.waitUntilIdle(timeout: 0.5)
            #expect(statistics.activeTransfers == 0)
            #expect(statistics.endedTransfers == 1 && statistics.completedTransfers == 0)
            let line = try await waitForLogLine(logs, containing: "\"k.efi\"")
            #expect(line?.contains("size probe") == true, "\(line ?? "no line")")
        }
    }

    @Test(
        "a stranger's ACK on a transfer's port gets ERROR 5 and the transfer still completes",
        arguments: [ServerMode.perTransferSockets, .singlePort])
    func unknownTransferID(mode: ServerMode) async throws {
        let content = SeededBytes.make(count: 512 * 8 + 100, seed: 3)
        let directory = try Self.makeRoot(["f.bin": content])
        defer { directory.remove() }
        try await withServer(root: directory.path("root"), configure: mode.apply(to:)) { server in
            let address = server.address
            try await offload {
                let client = try RawTFTPClient()
                let stranger = try RawTFTPClient()
                var received: [UInt8] = []
                var dataPackets = 0
                client.sendReadRequest("f.bin", to: address)
                var expected: UInt16 = 1
                var transferPort: SocketAddress?
                while true {
                    let datagram = try #require(client.receive(timeout: 2), "stalled at block \(expected)")
                    guard case .data(let block, let payload) = datagram.packet else {
                        Issue.record("unexpected \(datagram.bytes.prefix(8))")
                        return
                    }
                    // A late re-send of the block just acknowledged (the client paused at block 2, longer than
                    // the loopback round-trip timeout).
                    if block == expected &- 1 { continue }
                    dataPackets += 1
                    #expect(block == expected, "duplicate or out-of-order block \(block)")
                    transferPort = datagram.source
                    received += payload
                    if block == 2 {
                        // A stranger ACKs block 2 (and 3) on the transfer's port.
                        stranger.send(.acknowledgement(block: 2), to: datagram.source)
                        stranger.send(.acknowledgement(block: 3), to: datagram.source)
                        let answer = try #require(stranger.receive(timeout: 2), "stranger got no answer")
                        #expect(answer.error?.code == 5, "\(answer.bytes.prefix(8))")
                        #expect(answer.source == datagram.source)
                        // The real client must not see the stranger's ACKs acted on: while it is slow to ACK, the
                        // server may re-send block 2 (its timeout follows the sub-millisecond round trip), never
                        // send block 3 or later.
                        let meanwhile = client.receiveAll(for: 0.2)
                        #expect(
                            meanwhile.allSatisfy { $0.packet == datagram.packet && $0.source == datagram.source },
                            "\(meanwhile.map { $0.bytes.prefix(4) })")
                    }
                    client.send(.acknowledgement(block: block), to: datagram.source)
                    if payload.count < 512 { break }
                    expected += 1
                }
                // In single-port mode the transfer runs over the listening port itself.
                #expect((transferPort == address) == (mode == .singlePort))
                #expect(dataPackets == 9)
                #expect(byteDifference(received, content) == nil)
            }
        }
    }

    @Test("duplicate ACKs never trigger re-sends (Sorcerer's Apprentice)", arguments: [1, 4])
    func duplicateAcknowledgements(windowSize: Int) async throws {
        let blockCount = 40
        let content = SeededBytes.make(count: 512 * blockCount - 1, seed: 4)
        let directory = try Self.makeRoot(["f.bin": content])
        defer { directory.remove() }
        try await withServer(
            root: directory.path("root"),
            configure: {
                // 3 s however short the measured round trip: a duplicate ACK may bring one resend per
                // timeout period (RFC 6298 timer), and a loaded machine can hold the second copy of
                // an ACK back past the 20 ms floor.
                $0.retransmitTimeoutMilliseconds = 3000
                $0.minimumRetransmitTimeoutMilliseconds = 3000
                $0.maximumRetransmitTimeoutMilliseconds = 3000
            }
        ) { server in
            let address = server.address
            try await offload {
                let client = try RawTFTPClient()
                client.sendReadRequest("f.bin", options: [("windowsize", String(windowSize))], to: address)
                let oack = try #require(client.receive(timeout: 2))
                #expect(oack.packet == .optionAcknowledgement([TFTPOption(name: "windowsize", value: String(windowSize))]))
                client.send(.acknowledgement(block: 0), to: oack.source)
                client.send(.acknowledgement(block: 0), to: oack.source)
                var blocks: [UInt16] = []
                var received: [UInt8] = []
                var inWindow = 0
                while true {
                    guard let datagram = client.receive(timeout: 1) else { break }
                    guard case .data(let block, let payload) = datagram.packet else {
                        Issue.record("unexpected \(datagram.bytes.prefix(8))")
                        return
                    }
                    blocks.append(block)
                    received += payload
                    inWindow += 1
                    if inWindow == windowSize || payload.count < 512 {
                        inWindow = 0
                        // Every ACK twice.
                        client.send(.acknowledgement(block: block), to: datagram.source)
                        client.send(.acknowledgement(block: block), to: datagram.source)
                    }
                    if payload.count < 512 { break }
                }
                // Anything sent after the end would be a resend.
                let late = client.receiveAll(for: 0.3)
                #expect(late.isEmpty, "late packets: \(late.map { $0.bytes.prefix(4) })")
                #expect(blocks == (1...UInt16(blockCount)).map { $0 }, "blocks: \(blocks)")
                #expect(byteDifference(received, content) == nil)
            }
            let statistics = try await server.waitUntilIdle(timeout: 1)
            #expect(statistics.retransmittedBlocks == 0 && statistics.completedTransfers == 1)
        }
    }

    @Test("no ACK: the block is re-sent after the timeout, then the transfer is dropped after max retries")
    func retransmissionAndGivingUp() async throws {
        let content = SeededBytes.make(count: 2000, seed: 5)
        let directory = try Self.makeRoot(["f.bin": content])
        defer { directory.remove() }
        let logs = LogCapture()
        try await withServer(
            root: directory.path("root"), logs: logs,
            configure: {
                $0.retransmitTimeoutMilliseconds = 100
                $0.maximumRetransmitTimeoutMilliseconds = 100
                $0.maximumRetransmissions = 2
            }
        ) { server in
            let address = server.address
            let start = Date()
            let arrivals: [(Date, ReceivedDatagram)] = try await offload {
                let client = try RawTFTPClient()
                client.sendReadRequest("f.bin", to: address)
                var arrivals: [(Date, ReceivedDatagram)] = []
                while Date().timeIntervalSince(start) < 1.2 {
                    if let datagram = client.receive(timeout: 0.05) { arrivals.append((Date(), datagram)) }
                }
                return arrivals
            }
            let data = arrivals.filter { if case .data = $0.1.packet { true } else { false } }
            // The original and exactly 2 retransmissions, all of block 1 with the same bytes.
            #expect(data.count == 3, "DATA packets: \(data.count)")
            for (_, datagram) in data {
                #expect(datagram.packet == .data(block: 1, payload: Array(content[0..<512])))
            }
            if data.count >= 2 {
                // The resend comes a timeout after the first send, which came after the request. Measured
                // from the request: a client that reads the first DATA late (a loaded machine) sees the
                // two arrive close together, but never the resend less than a timeout after it asked.
                let sinceRequest = data[1].0.timeIntervalSince(start)
                let gap = data[1].0.timeIntervalSince(data[0].0)
                #expect(
                    sinceRequest >= 0.09 && gap < 0.6, "first resend \(sinceRequest) s after the request, \(gap) s after the first DATA")
            }
            let statistics = try await server.waitUntilIdle(timeout: 1)
            #expect(statistics.activeTransfers == 0)
            #expect(statistics.endedTransfers == 1 && statistics.completedTransfers == 0)
            #expect(statistics.retransmittedBlocks == 2)
            let line = try await waitForLogLine(logs, containing: "\"f.bin\"")
            #expect(line?.contains("timed out") == true, "\(line ?? "no line")")
        }
    }

    @Test("a lost ACK is recovered by the retransmission and the transfer completes")
    func recoversFromLostAcknowledgement() async throws {
        let content = SeededBytes.make(count: 512 * 5 + 7, seed: 6)
        let directory = try Self.makeRoot(["f.bin": content])
        defer { directory.remove() }
        try await withServer(root: directory.path("root"), configure: { $0.retransmitTimeoutMilliseconds = 100 }) { server in
            let address = server.address
            try await offload {
                let client = try RawTFTPClient()
                client.sendReadRequest("f.bin", to: address)
                var received: [UInt8] = []
                var expected: UInt16 = 1
                var dropped = false
                while true {
                    let datagram = try #require(client.receive(timeout: 2))
                    guard case .data(let block, let payload) = datagram.packet else {
                        Issue.record("\(datagram.bytes)")
                        return
                    }
                    if block != expected { continue }
                    if block == 3 && !dropped {
                        dropped = true
                        continue
                    }  // "lose" the first copy of block 3
                    received += payload
                    client.send(.acknowledgement(block: block), to: datagram.source)
                    if payload.count < 512 { break }
                    expected += 1
                }
                #expect(byteDifference(received, content) == nil)
            }
            #expect(try await server.waitUntilIdle(timeout: 1).completedTransfers == 1)
        }
    }

    @Test("windowsize 4: an ACK in the middle of the window makes the server resend from k+1")
    func windowPartialAcknowledgement() async throws {
        let content = SeededBytes.make(count: 512 * 12 + 10, seed: 7)
        let directory = try Self.makeRoot(["f.bin": content])
        defer { directory.remove() }
        func block(_ n: Int) -> [UInt8] { Array(content[(n - 1) * 512..<min(n * 512, content.count)]) }
        try await withServer(
            root: directory.path("root"),
            configure: {
                $0.retransmitTimeoutMilliseconds = 5000
                $0.minimumRetransmitTimeoutMilliseconds = 5000
            }
        ) { server in
            let address = server.address
            try await offload {
                let client = try RawTFTPClient()
                // A 5 s floor and timeout 5 (the ceiling) keep the server's timeout at 5 s while the client
                // listens for 250 ms per window; otherwise it would follow the loopback round trip down to 20 ms.
                client.sendReadRequest("f.bin", options: [("windowsize", "4"), ("timeout", "5")], to: address)
                let oack = try #require(client.receive(timeout: 2))
                #expect(
                    oack.packet
                        == .optionAcknowledgement([
                            TFTPOption(name: "windowsize", value: "4"), TFTPOption(name: "timeout", value: "5"),
                        ]))
                let port = oack.source
                func window() -> [TFTPPacket?] { client.receiveAll(for: 0.25).map(\.packet) }
                client.send(.acknowledgement(block: 0), to: port)
                #expect(window() == (1...4).map { .data(block: UInt16($0), payload: block($0)) })
                // Client got 1 and 2 only: the server goes on with 3...6.
                client.send(.acknowledgement(block: 2), to: port)
                #expect(window() == (3...6).map { .data(block: UInt16($0), payload: block($0)) })
                // A repeat of the ACK already acted on changes nothing.
                client.send(.acknowledgement(block: 2), to: port)
                #expect(window().isEmpty)
                client.send(.acknowledgement(block: 6), to: port)
                #expect(window() == (7...10).map { .data(block: UInt16($0), payload: block($0)) })
                client.send(.acknowledgement(block: 10), to: port)
                #expect(window() == (11...13).map { .data(block: UInt16($0), payload: block($0)) })
                client.send(.acknowledgement(block: 13), to: port)
                #expect(window().isEmpty)
            }
            #expect(try await server.waitUntilIdle(timeout: 1).completedTransfers == 1)
        }
    }

    @Test("the same RRQ from two source ports (Raspberry Pi) is served to both")
    func sameRequestFromTwoPorts() async throws {
        let content = SeededBytes.make(count: 512 * 30 + 3, seed: 8)
        let directory = try Self.makeRoot(["bootcode.bin": content])
        defer { directory.remove() }
        try await withServer(root: directory.path("root")) { server in
            let address = server.address
            try await offload {
                let first = try RawTFTPClient()
                let second = try RawTFTPClient()
                let request = TFTPPacketEncoder.encode(
                    .readRequest(
                        TFTPRequest(
                            filename: "bootcode.bin", mode: "octet", options: [TFTPOption(name: "blksize", value: "1024")])))
                first.send(request, to: address)
                second.send(request, to: address)
                let firstOACK = try #require(first.receive(timeout: 2))
                let secondOACK = try #require(second.receive(timeout: 2))
                #expect(firstOACK.source != secondOACK.source)
                // Interleave the two lockstep transfers.
                var buffers: [[UInt8]] = [[], []]
                var done = [false, false]
                let clients = [first, second]
                let ports = [firstOACK.source, secondOACK.source]
                first.send(.acknowledgement(block: 0), to: ports[0])
                second.send(.acknowledgement(block: 0), to: ports[1])
                while !(done[0] && done[1]) {
                    for i in 0..<2 where !done[i] {
                        let datagram = try #require(clients[i].receive(timeout: 2), "client \(i) stalled")
                        guard case .data(let block, let payload) = datagram.packet else {
                            Issue.record("\(datagram.bytes.prefix(8))")
                            return
                        }
                        #expect(datagram.source == ports[i])
                        // A loaded machine can delay an ACK past the server's timeout: a resent block
                        // is acknowledged again, not appended again.
                        if block == UInt16(truncatingIfNeeded: buffers[i].count / 1024 + 1) {
                            buffers[i] += payload
                            if payload.count < 1024 { done[i] = true }
                        }
                        clients[i].send(.acknowledgement(block: block), to: ports[i])
                    }
                }
                #expect(byteDifference(buffers[0], content) == nil)
                #expect(byteDifference(buffers[1], content) == nil)
            }
            #expect(try await server.waitUntilIdle(timeout: 1).completedTransfers == 2)
        }
    }

    @Test("IPv6 on ::1: curl and the raw client")
    func ipv6() async throws {
        let content = SeededBytes.make(count: 100_000, seed: 9)
        let directory = try Self.makeRoot(["v6.bin": content])
        defer { directory.remove() }
        try await withServer(root: directory.path("root"), host: "::1") { server in
            #expect(server.host == "::1")
            let (_, failure) = try await RealClient.curlBlockSize1468.fetch(
                host: "::1", port: server.port, name: "v6.bin", output: directory.path("out"))
            #expect(failure == nil, "\(failure ?? "")")
            #expect(byteDifference(directory.contents("out"), content) == nil)
            let address = server.address
            try await offload {
                let client = try RawTFTPClient(ip: "::1")
                let result = try client.fetch("v6.bin", options: [("blksize", "8192"), ("windowsize", "4")], from: address)
                #expect(result.transferAddress?.family == .ipv6)
                #expect(result.transferAddress?.ipString == "::1")
                #expect(byteDifference(result.bytes, content) == nil)
            }
        }
    }
}
