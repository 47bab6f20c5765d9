/// Why `volley serve` could not start: printed by ArgumentParser as one `Error: …` line
/// with exit status 1 (unlike `ValidationError`, without a usage text after it, since the
/// command line itself was fine).
struct StartupFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
