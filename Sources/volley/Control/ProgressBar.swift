import Foundation
import Synchronization
import VolleySystem

/// A one-line progress bar on standard error, redrawn at most ten times a second.
final class ProgressBar: Sendable {
    private let total: Int64
    private let label: String
    private let state = Mutex<(done: Int64, lastDraw: UInt64)>((0, 0))

    init(total: Int64, label: String) {
        self.total = max(total, 1)
        self.label = label
    }

    func advance(by count: Int) {
        let now = DispatchTime.now().uptimeNanoseconds
        let done: Int64? = state.withLock { state in
            state.done += Int64(count)
            guard now &- state.lastDraw >= 100_000_000 else { return nil }
            state.lastDraw = now
            return state.done
        }
        if let done { draw(done) }
    }

    /// Draws 100 % and ends the line.
    func finish() {
        draw(state.withLock { $0.done })
        StandardError.write("\n")
    }

    private func draw(_ done: Int64) {
        let fraction = Double(done) / Double(total)
        let width = 30
        let filled = min(width, Int(fraction * Double(width)))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = String(format: "\r%@ [%@] %3.0f%% %.1f/%.1f MB", label, bar, fraction * 100, Double(done) / 1e6, Double(total) / 1e6)
        StandardError.write(line)
    }
}
