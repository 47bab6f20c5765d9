import VolleySystem

/// The served root directory, opened once; every lookup below it goes through `openat2`
/// with `RESOLVE_BENEATH`, so no name can reach a file outside it.
///
/// Owns its descriptor: it is closed when the last user lets go (a reload that replaces
/// the root, or a request still being answered, never sees it closed under it).
final class ConfinedRoot: Sendable {
    /// The root directory as configured (used for logs and messages, never for lookups).
    let path: String
    private let owned: OwnedDescriptor

    /// An `O_PATH|O_DIRECTORY` descriptor of the root, valid while this object lives.
    var descriptor: Descriptor { owned.descriptor }

    /// Opens the root directory; fails with a clear message when it is missing or not a directory.
    init(path: String) throws(FileAccessError) {
        self.path = path
        do {
            owned = try FileSystem.open(path, options: [.pathOnly, .directory])
        } catch {
            switch error.errno {
            case .noSuchFileOrDirectory:
                throw FileAccessError(.notFound, logDetail: "root directory \(path) does not exist")
            case .notDirectory:
                throw FileAccessError(.notARegularFile, logDetail: "root directory \(path) is not a directory")
            case .permissionDenied, .notPermitted:
                throw FileAccessError(.accessDenied, logDetail: "root directory \(path): \(error.reason)")
            default:
                throw FileAccessError(.other, logDetail: "root directory \(path): \(error.reason)")
            }
        }
        try requireConfinedLookups()
    }

    /// Fails at start, with the reason, where `openat2` is missing (Linux before 5.6, or a
    /// sandbox that filters it): otherwise every request would fail later with ERROR 0.
    private func requireConfinedLookups() throws(FileAccessError) {
        do {
            _ = try FileSystem.openBeneath(descriptor, ".", options: .directory)
        } catch  where error.errno == .noFunction {
            throw FileAccessError(
                .other,
                logDetail: "root directory \(path): openat2 is not available on this kernel "
                    + "(Linux 5.6 or later is needed to confine requests to it)")
        } catch {
            // Other failures (EACCES on an unreadable root, say) surface per request with their own message.
        }
    }

    /// Opens a file for reading beneath the root.
    ///
    /// FIFOs, devices and directories are refused without blocking. With
    /// `requireWorldReadable`, a file whose mode does not let everyone read it is refused
    /// too, as tftpd-hpa and dnsmasq do: a server running as root must not hand out
    /// `0600` files just because it can read them.
    /// - Parameter name: the name's bytes as the client sent them.
    func openForReading(_ name: [UInt8], requireWorldReadable: Bool = false) -> Result<OpenFile, FileAccessError> {
        let relative: RelativePath
        switch RelativePath.parse(name) {
        case .success(let parsed): relative = parsed
        case .failure(let error): return .failure(error)
        }
        if relative.leaf.hasPrefix(uploadTemporaryPrefix) {
            // Half an upload, or what a crash left of one: never served, whatever its mode.
            return .failure(FileAccessError(.notFound, logDetail: "an upload in progress is never served"))
        }
        do throws(SystemError) {
            // O_NONBLOCK so that a FIFO cannot stall the reactor; cleared again for regular files.
            let file = try FileSystem.openBeneath(descriptor, relative.bytes, options: [.noControllingTerminal, .nonBlocking])
            let status = try FileSystem.status(of: file.descriptor)
            guard status.isRegularFile else {
                return .failure(FileAccessError(.notARegularFile, logDetail: "not a regular file"))
            }
            if requireWorldReadable, !status.isWorldReadable {
                let mode = String(status.permissions, radix: 8)
                return .failure(
                    FileAccessError(.notWorldReadable, logDetail: "not readable by everyone (mode 0\(mode)); see require_world_readable"))
            }
            try FileSystem.setNonBlocking(file.descriptor, false)
            return .success(OpenFile(file, status: status))
        } catch {
            // The refusal line names the file already; the call's name is for debugging only.
            return .failure(FileAccessError(FileAccessError.Kind(error.errno), logDetail: error.reason))
        }
    }

    /// ``openForReading(_:requireWorldReadable:)`` for a name given as text.
    func openForReading(_ name: String, requireWorldReadable: Bool = false) -> Result<OpenFile, FileAccessError> {
        openForReading(Array(name.utf8), requireWorldReadable: requireWorldReadable)
    }
}

extension ConfinedRoot {
    /// `name` with each component replaced by the entry of its directory that equals it
    /// ignoring ASCII case (an exact match wins), for firmware that asks for `PXELINUX.0`;
    /// `name` as it is when some component has no such entry (the lookup then fails as usual).
    func resolvingCase(of name: [UInt8]) -> [UInt8] {
        guard case .success(let relative) = RelativePath.parse(name) else { return name }
        var resolved: [String] = []
        var directory: OwnedDescriptor
        do {
            directory = try FileSystem.openBeneath(descriptor, ".", options: .directory)
        } catch {
            return name
        }
        for (index, component) in relative.components.enumerated() {
            let wanted = String(decoding: component, as: UTF8.self)
            guard let entries = try? FileSystem.entries(of: directory.descriptor) else { return name }
            let names = entries.map(\.name)
            guard let found = names.first(where: { $0 == wanted }) ?? names.first(where: { $0.lowercased() == wanted.lowercased() })
            else { return name }
            resolved.append(found)
            if index < relative.components.count - 1 {
                do {
                    directory = try FileSystem.openBeneath(directory.descriptor, found, options: .directory)
                } catch {
                    return name
                }
            }
        }
        return Array(resolved.joined(separator: "/").utf8)
    }
}
