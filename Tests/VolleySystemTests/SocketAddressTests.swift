import Glibc
import Testing
@testable import VolleySystem
import VolleySystemTestSupport

@Suite("SocketAddress")
struct SocketAddressTests {
    @Test func parsesIPv4() throws {
        let address = try #require(SocketAddress(ip: "127.0.0.1", port: 69))
        guard case .v4(let raw) = address else {
            Issue.record("not v4")
            return
        }
        #expect(raw.sin_family == sa_family_t(AF_INET))
        #expect(raw.sin_port == UInt16(69).bigEndian)
        #expect(raw.sin_addr.s_addr == UInt32(0x7F00_0001).bigEndian)
        #expect(address.family == .ipv4)
        #expect(address.port == 69)
        #expect(address.ipString == "127.0.0.1")
        #expect(address.description == "127.0.0.1:69")
        #expect(!address.isWildcard)
    }

    @Test(arguments: ["::1", "[::1]"])
    func parsesIPv6WithOrWithoutBrackets(text: String) throws {
        let address = try #require(SocketAddress(ip: text, port: 6969))
        guard case .v6(let raw) = address else {
            Issue.record("not v6")
            return
        }
        #expect(raw.sin6_family == sa_family_t(AF_INET6))
        #expect(address.family == .ipv6)
        #expect(address.port == 6969)
        #expect(address.ipString == "::1")
        #expect(address.description == "[::1]:6969")
    }

    @Test func descriptionsUseCanonicalForms() {
        #expect(SocketAddress(ip: "2001:0db8:0000:0000:0000:0000:0000:0001", port: 1)?.description == "[2001:db8::1]:1")
        #expect(SocketAddress(ip: "::ffff:127.0.0.1", port: 2)?.description == "[::ffff:127.0.0.1]:2")
        #expect(SocketAddress(ip: "0.0.0.0", port: 0)?.description == "0.0.0.0:0")
        #expect(SocketAddress(ip: "255.255.255.255", port: 65535)?.description == "255.255.255.255:65535")
        #expect(SocketAddress(ip: "::", port: 69)?.description == "[::]:69")
        #expect(SocketAddress(ip: "fe80::1:2:3:4", port: 69)?.ipString == "fe80::1:2:3:4")
    }

    @Test(arguments: [
        "", "localhost", "256.0.0.1", "1.2.3", "1.2.3.4.5", "127.0.0.1:69", " 127.0.0.1", "127.0.0.1 ",
        "::g", ":::", "[::1", "::1]", "[]", "fe80::1%lo", "0x7f.0.0.1", "1::2::3",
    ])
    func rejectsInvalidText(text: String) {
        #expect(SocketAddress(ip: text, port: 69) == nil)
    }

    @Test func v4MappedAddressesAreRecognised() {
        #expect(SocketAddress(ip: "::ffff:127.0.0.1", port: 69)!.isV4Mapped)
        #expect(SocketAddress(ip: "::ffff:192.0.2.7", port: 0)!.isV4Mapped)
        #expect(!SocketAddress(ip: "127.0.0.1", port: 69)!.isV4Mapped)
        #expect(!SocketAddress(ip: "::1", port: 69)!.isV4Mapped)
        #expect(!SocketAddress(ip: "::", port: 69)!.isV4Mapped)
        #expect(!SocketAddress(ip: "::fffe:127.0.0.1", port: 69)!.isV4Mapped)
        #expect(!SocketAddress(ip: "1::ffff:127.0.0.1", port: 69)!.isV4Mapped)
        #expect(SocketAddress(ip: "192.0.2.7", port: 69)!.mappedToIPv6 == SocketAddress(ip: "::ffff:192.0.2.7", port: 69)!)
        #expect(SocketAddress(ip: "::1", port: 69)!.mappedToIPv6 == SocketAddress(ip: "::1", port: 69)!)
    }

    @Test func unmappedTextIsPlainIPv4ForMappedAddresses() {
        #expect(SocketAddress(ip: "::ffff:192.0.2.7", port: 69)!.unmappedIPString == "192.0.2.7")
        #expect(SocketAddress(ip: "::ffff:0.0.0.0", port: 69)!.unmappedIPString == "0.0.0.0")
        #expect(SocketAddress(ip: "192.0.2.7", port: 69)!.unmappedIPString == "192.0.2.7")
        #expect(SocketAddress(ip: "::1", port: 69)!.unmappedIPString == "::1")
        #expect(SocketAddress(ip: "1::ffff:127.0.0.1", port: 69)!.unmappedIPString == "1::ffff:7f00:1")
    }

    @Test func equalityAndHashing() {
        let a = SocketAddress(ip: "127.0.0.1", port: 69)!
        let b = SocketAddress(ip: "127.0.0.1", port: 69)!
        let otherPort = SocketAddress(ip: "127.0.0.1", port: 70)!
        let otherHost = SocketAddress(ip: "127.0.0.2", port: 69)!
        let mapped = SocketAddress(ip: "::ffff:127.0.0.1", port: 69)!
        let six = SocketAddress(ip: "::1", port: 69)!
        let sixAgain = SocketAddress(ip: "[0:0:0:0:0:0:0:1]", port: 69)!
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a != otherPort)
        #expect(a != otherHost)
        #expect(a != mapped, "a v4 address and its v4-mapped v6 form are different sockaddrs")
        #expect(six == sixAgain)
        #expect(six.hashValue == sixAgain.hashValue)
        #expect(six != SocketAddress(ip: "::1", port: 70)!)
        let set: Set<SocketAddress> = [a, b, otherPort, otherHost, mapped, six, sixAgain]
        #expect(set.count == 5)

        // Bytes the kernel ignores (sin_zero) do not affect equality or hashing.
        guard case .v4(var raw) = a else { return }
        raw.sin_zero = (1, 2, 3, 4, 5, 6, 7, 8)
        let noisy = SocketAddress.v4(raw)
        #expect(noisy == a)
        #expect(noisy.hashValue == a.hashValue)
    }

    @Test func scopeIDDistinguishesV6Addresses() {
        guard case .v6(var raw) = SocketAddress(ip: "fe80::1", port: 69)! else { return }
        let plain = SocketAddress.v6(raw)
        raw.sin6_scope_id = 1
        let scoped = SocketAddress.v6(raw)
        #expect(plain != scoped)
    }

    @Test func portGetAndSet() {
        var four = SocketAddress(ip: "127.0.0.1", port: 1)!
        four.port = 0xBEEF
        #expect(four.port == 0xBEEF)
        #expect(four.description == "127.0.0.1:48879")
        guard case .v4(let raw4) = four else {
            Issue.record("family changed")
            return
        }
        #expect(raw4.sin_port == UInt16(0xBEEF).bigEndian, "stored in network byte order")
        #expect(four.ipString == "127.0.0.1")

        var six = SocketAddress(ip: "::1", port: 1)!
        six.port = 65535
        #expect(six.port == 65535)
        #expect(six.description == "[::1]:65535")
        six.port = 0
        #expect(six.port == 0)
        #expect(six == SocketAddress(ip: "::1", port: 0)!)
    }

    @Test func wildcard() {
        #expect(SocketAddress(ip: "0.0.0.0", port: 69)!.isWildcard)
        #expect(SocketAddress(ip: "::", port: 69)!.isWildcard)
        #expect(SocketAddress(ip: "[::]", port: 0)!.isWildcard)
        #expect(!SocketAddress(ip: "127.0.0.1", port: 0)!.isWildcard)
        #expect(!SocketAddress(ip: "::1", port: 0)!.isWildcard)
        #expect(!SocketAddress(ip: "::ffff:0.0.0.0", port: 0)!.isWildcard)
    }

    @Test func sockaddrRoundTrip() {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<sockaddr_storage>.size, alignment: 16)
        defer { storage.deallocate() }
        for address in [SocketAddress(ip: "127.0.0.1", port: 69)!, SocketAddress(ip: "2001:db8::42", port: 1069)!] {
            storage.initializeMemory(as: UInt8.self, repeating: 0xFF, count: MemoryLayout<sockaddr_storage>.size)
            let length = address.write(to: storage)
            #expect(Int(length) == (address.family == .ipv4 ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size))
            address.withSockaddr { pointer, length2 in
                #expect(length2 == length)
                #expect(Int32(pointer.pointee.sa_family) == address.family.rawValue)
            }
            #expect(SocketAddress(storage: storage) == address)
        }
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<sockaddr_storage>.size)
        storage.storeBytes(of: sa_family_t(AF_UNIX), as: sa_family_t.self)
        #expect(SocketAddress(storage: storage) == nil)
    }

    @Test func packetInfoEquality() {
        let a = PacketInfo(localAddress: SocketAddress(ip: "127.0.0.1", port: 0)!, interfaceIndex: 1)
        #expect(a == PacketInfo(localAddress: SocketAddress(ip: "127.0.0.1", port: 0)!, interfaceIndex: 1))
        #expect(a != PacketInfo(localAddress: SocketAddress(ip: "127.0.0.1", port: 0)!, interfaceIndex: 2))
        #expect(a != PacketInfo(localAddress: SocketAddress(ip: "::1", port: 0)!, interfaceIndex: 1))
    }
}
