import ArgumentParser
import Foundation
import Plots
import ToolSupport

/// Pictures of the other tools' outputs, as SVG (and PNG) or, for attribution graphs, one
/// self-contained HTML page; no Python or network at run time.
struct CLTPlot: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "clt-plot",
    abstract: "Draw the outputs of clt-encode, clt-fit and clt-attrib as SVG pictures or an HTML page.",
    discussion: """
      Each subcommand reads one tool's output and writes one picture: SVG to -o FILE (written \
      atomically) or stdout; --png also renders FILE.png with rsvg-convert (Debian: librsvg2-bin). \
      graph-html writes an interactive page with inline scripts that works offline. Formats: \
      docs/FORMATS.md.
      """,
    version: "0.1.0",
    subcommands: [
      Heatmap.self, TopFeatures.self, Curves.self, DecoderNorms.self, Correlations.self, PCA.self,
      Importance.self, GraphHTML.self,
    ])
}

/// The output options every SVG subcommand shares.
struct OutputOptions: ParsableArguments {
  @Option(
    name: .shortAndLong,
    help: ArgumentHelp("Write the picture here (atomically); default stdout.", valueName: "file"))
  var output: String?

  @Flag(name: .long, help: "Also write a PNG beside the output (FILE with .png), with rsvg-convert.")
  var png = false

  func validate() throws {
    if png && output == nil { throw ValidationError("--png needs -o FILE, the SVG it renders") }
  }

  /// Writes the SVG and, with --png, its PNG; says on stderr what was written.
  func emit(_ svg: String) throws {
    guard let output else {
      StandardOutput.write(svg)
      return
    }
    try PlotOutput.write(svg, to: output)
    if png {
      let pngPath = URL(fileURLWithPath: output).deletingPathExtension().appendingPathExtension("png").path
      try PlotOutput.png(fromSVG: output, to: pngPath)
      StandardError.line("clt-plot: wrote \(output) and \(pngPath)")
    } else {
      StandardError.line("clt-plot: wrote \(output)")
    }
  }
}

CLTPlot.main()
