import ArgumentParser
import Foundation
import Plots
import ToolSupport

extension TrainingCurves.XAxis: ExpressibleByArgument {}

/// `clt-plot curves`: training curves from clt-fit --log.
struct Curves: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Training curves from clt-fit --log: mean NMSE, mean L0, dead fraction, NMSE per layer.")

  @OptionGroup var output: OutputOptions

  @Option(name: .long, help: "The x axis: tokens (seen) or step.")
  var x: TrainingCurves.XAxis = .tokens

  @Argument(help: "The metrics file clt-fit --log wrote (JSON lines), or - for stdin.")
  var input: String = "-"

  func run() throws {
    try runReportingErrors(tool: "clt-plot curves") {
      try output.emit(TrainingCurves(log: try TrainingLog.read(input), x: x, source: input).svg())
    }
  }
}
