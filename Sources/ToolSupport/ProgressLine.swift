import Foundation

/// A one-line progress report on stderr (count, rate, ETA), redrawn at most twice a second.
/// Silent when quiet; prints whole lines instead of redrawing when stderr is not a terminal.
public final class ProgressLine {
  private let label: String
  private let unit: String
  private let quiet: Bool
  private let start = Date()
  private var lastDraw = Date.distantPast
  private let isTerminal = isatty(STDERR_FILENO) != 0
  private var lastLineLength = 0

  /// - Parameters:
  ///   - label: what is being done ("gpt2-acts").
  ///   - unit: what is counted ("tokens").
  ///   - quiet: print nothing.
  public init(label: String, unit: String, quiet: Bool) {
    self.label = label
    self.unit = unit
    self.quiet = quiet
  }

  /// Seconds since the progress began.
  public var elapsed: Double { Date().timeIntervalSince(start) }

  /// Reports `done` units; `fraction` (0...1) of the whole job, when known, gives the ETA.
  public func update(done: Int, fraction: Double? = nil, force: Bool = false) {
    guard !quiet else { return }
    let now = Date()
    let interval = isTerminal ? 0.5 : 10
    guard force || now.timeIntervalSince(lastDraw) >= interval else { return }
    lastDraw = now
    let seconds = max(elapsed, 1e-9)
    var text = "\(label): \(done) \(unit), \(Self.format(Double(done) / seconds))/s"
    if let fraction, fraction > 0, fraction < 1 {
      text += String(
        format: ", %.0f%%, ETA %@", fraction * 100, Self.duration(seconds * (1 - fraction) / fraction))
    }
    if isTerminal {
      let pad = String(repeating: " ", count: max(0, lastLineLength - text.count))
      StandardError.write("\r" + text + pad)
      lastLineLength = text.count
    } else {
      StandardError.write(text + "\n")
    }
  }

  /// Ends the progress line with a summary.
  public func finish(done: Int) {
    guard !quiet else { return }
    if isTerminal && lastLineLength > 0 { StandardError.write("\r") }
    let seconds = max(elapsed, 1e-9)
    let text =
      "\(label): \(done) \(unit) in \(Self.duration(seconds)), \(Self.format(Double(done) / seconds))/s"
    let pad = String(repeating: " ", count: max(0, lastLineLength - text.count))
    StandardError.write(text + pad + "\n")
  }

  static func format(_ rate: Double) -> String {
    rate >= 10_000 ? String(format: "%.1fk", rate / 1000) : String(format: "%.1f", rate)
  }

  static func duration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
    if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
    return String(format: "%.1fs", seconds)
  }
}
