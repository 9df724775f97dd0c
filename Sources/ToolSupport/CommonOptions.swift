import ArgumentParser
import Foundation
import Kernels

/// The options every tool that runs a model or trains one shares, declared once so that they mean
/// the same everywhere: how many threads, what the tool reports on stderr, and the benchmark line.
///
/// Progress (and the tool's closing summary) goes to stderr by default; `-q`/`--quiet` silences
/// it, leaving warnings and errors. `--progress` asks for the default explicitly; of the two, the
/// last one given wins. `--timing` prints its JSON line even with `-q`, since it is asked for.
public struct CommonOptions: ParsableArguments {
  /// What a tool reports on stderr besides warnings and errors.
  public enum Reporting: String, EnumerableFlag, Sendable {
    case progress, quiet

    public static func name(for value: Self) -> NameSpecification {
      value == .quiet ? .shortAndLong : .long
    }

    public static func help(for value: Self) -> ArgumentHelp? {
      switch value {
      case .progress: return "Report progress and a summary on stderr."
      case .quiet:
        return "Report nothing on stderr but warnings and errors; the last of -q and --progress wins."
      }
    }
  }

  @Option(
    name: .long, parsing: .unconditional,
    help: "Threads for matrix products and parallel loops (default: all cores).")
  public var threads: Int?

  @Flag(exclusivity: .chooseLast)
  public var reporting: Reporting = .progress

  @Flag(
    name: .long,
    help: ArgumentHelp(
      "Print a JSON line on stderr at the end: tokens/s with model loading left out (gpt2-acts and "
        + "clt-fit also leave out the first batch or step), and the tool's own figures (what `make bench` "
        + "reads); printed even with -q."))
  public var timing = false

  /// The `bench` label of the `--timing` line (scripts/bench/run.sh names its rows with it); nil
  /// gives the tool's own default, which `timingLabel(default:)` supplies.
  @Option(name: .long, help: .hidden)
  public var timingLabel: String?

  public init() {}

  /// Whether `-q` silenced progress and summaries.
  public var quiet: Bool { reporting == .quiet }

  /// The `--timing` line's label: `--timing-label`, else the tool's `label`.
  public func timingLabel(default label: String) -> String { timingLabel ?? label }

  public func validate() throws {
    try require(threads, atLeast: 1, "--threads")
  }

  /// Sets the BLAS thread count from --threads, else the tool's `default`, else the core count.
  public func applyThreads(default defaultThreads: Int? = nil) {
    BLASThreads.set(threads ?? defaultThreads ?? ProcessInfo.processInfo.activeProcessorCount)
  }
}
