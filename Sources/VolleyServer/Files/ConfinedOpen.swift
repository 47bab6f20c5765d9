import Glibc
internal import CEpoll
import VolleyReactor

/// `O_PATH` (Linux, all architectures Volley builds for): glibc only defines it under
/// `_GNU_SOURCE`, which the shim deliberately leaves undefined.
let volleyOPath: Int32 = 0o10000000

/// The resolve flags of every lookup below the root: stay beneath it, no `/proc` magic links.
let confinedResolve: UInt64 = VOLLEY_RESOLVE_BENEATH | VOLLEY_RESOLVE_NO_MAGICLINKS

/// Opens `path` relative to `directory` with `openat2`, never resolving outside `directory`.
///
/// `..`, absolute paths and symlinks that leave `directory` fail with `EXDEV`; symlinks that
/// stay inside are followed unless `extraResolve` contains `RESOLVE_NO_SYMLINKS`.
func openBeneath(
    _ directory: Int32,
    _ path: String,
    flags: Int32,
    mode: UInt64 = 0,
    extraResolve: UInt64 = 0
) throws(SystemError) -> Int32 {
    try syscall("openat2") {
        volley_openat2(directory, path, UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), mode,
                       confinedResolve | extraResolve)
    }
}

/// The `stat` of an open descriptor.
func fileStatus(_ descriptor: Int32) throws(SystemError) -> stat {
    var status = stat()
    _ = try syscall("fstat") { fstat(descriptor, &status) }
    return status
}

/// Whether `status` describes a regular file.
func isRegularFile(_ status: stat) -> Bool {
    status.st_mode & S_IFMT == S_IFREG
}
