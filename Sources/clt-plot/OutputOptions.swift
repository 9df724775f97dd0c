import ArgumentParser
import Foundation
import Plots
import ToolSupport

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
      try StandardOutput.write(svg)
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

/// The output option of the subcommands that write an HTML page.
struct PageOutputOptions: ParsableArguments {
  @Option(
    name: .shortAndLong,
    help: ArgumentHelp("Write the page here (atomically); default stdout.", valueName: "file"))
  var output: String?

  /// Writes the page and, unless `quiet`, says on stderr what was written (`summary`, e.g. its
  /// counts).
  func emit(_ page: String, summary: String, quiet: Bool = false) throws {
    guard let output else {
      try StandardOutput.write(page)
      return
    }
    try PlotOutput.write(page, to: output)
    if !quiet { StandardError.line("clt-plot: wrote \(output) (\(summary))") }
  }
}
