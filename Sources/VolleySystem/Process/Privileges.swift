import Glibc
import SystemPackage

/// Dropping root after the privileged work is done (binding port 69), as tftpd-hpa's `-u`.
public enum Privileges {
    /// A user to run as.
    public struct Account: Sendable, Equatable {
        public var name: String
        public var userID: UInt32
        public var groupID: UInt32
    }

    /// Looks `name` up in the user database.
    public static func account(named name: String) -> Account? {
        guard let entry = getpwnam(name) else { return nil }
        return Account(name: name, userID: entry.pointee.pw_uid, groupID: entry.pointee.pw_gid)
    }

    /// Whether the process runs as root.
    public static var isRoot: Bool { geteuid() == 0 }

    /// Becomes `account` for good, in every thread: its supplementary groups, group and
    /// user, real, effective and saved. The kernel clears every capability when all user
    /// IDs leave 0 (keep-caps is off by default and volley never sets it), and the drop is
    /// checked: getting root back must fail.
    /// Call it on the main thread: glibc hands the new IDs to every other thread it
    /// started, but a main thread parked by the concurrency runtime stayed root when
    /// this ran on a pool thread.
    /// - Throws: ``SystemError`` naming the call that failed; the process must not go on.
    public static func drop(to account: Account) throws(SystemError) {
        _ = try syscall("initgroups") { initgroups(account.name, account.groupID) }
        // As root, setgid and setuid set the real, effective and saved IDs alike.
        _ = try syscall("setgid") { setgid(account.groupID) }
        _ = try syscall("setuid") { setuid(account.userID) }
        if account.userID != 0, setuid(0) == 0 {
            throw SystemError("setuid(0) after dropping privileges succeeded", errno: .notPermitted)
        }
    }
}
