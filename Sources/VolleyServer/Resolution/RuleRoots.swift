/// The roots that rules serve from, opened once and kept (a bounded number of them).
final class RuleRoots {
    private var opened: [String: ConfinedRoot] = [:]
    private let capacity = 4096

    /// The confined root at `path`, opened on first use.
    func root(_ path: String) -> Result<ConfinedRoot, FileAccessError> {
        if let known = opened[path] { return .success(known) }
        do throws(FileAccessError) {
            let root = try ConfinedRoot(path: path)
            if opened.count >= capacity { opened.removeAll(keepingCapacity: true) }
            opened[path] = root
            return .success(root)
        } catch {
            return .failure(error)
        }
    }

    /// Forgets every root (a reload may have changed the directories).
    func removeAll() { opened.removeAll() }
}
