import ArgumentParser
import Foundation
import Plots
import ToolSupport

/// `clt-plot graph-html`: the interactive attribution-graph page.
struct GraphHTML: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "graph-html",
    abstract: "An interactive attribution-graph page (one offline HTML file) from clt-attrib --format json.",
    discussion: """
      Nodes are laid out by layer (embeddings at the bottom, logits at the top) and prompt position, \
      each with its label: the 40 most influential feature and error nodes (a slider shows more), \
      features of one position and label group merged into a supernode that a click expands. Only \
      the hovered or pinned node's edges are drawn (blue positive, red negative, wider when \
      stronger), or all on request; search finds a feature by id (12_301, L12/F301) or label; the \
      wheel zooms and a drag pans. The URL's hash sets the view, e.g. #budget=100&search=Paris.
      """)

  @OptionGroup var page: PageOutputOptions

  @Option(
    name: .long,
    help: ArgumentHelp("Also save a screenshot of the page (headless chromium).", valueName: "png"))
  var screenshot: String?

  @Argument(help: "The graph (clt-attrib --format json), or - for stdin.")
  var input: String = "-"

  func validate() throws {
    if screenshot != nil && page.output == nil {
      throw ValidationError("--screenshot needs -o FILE, the page it shows")
    }
  }

  func run() throws {
    try runReportingErrors(tool: "clt-plot graph-html") {
      let graph = try AttributionGraphFile.read(input)
      try page.emit(
        try GraphPage(graph: graph, source: input).html(),
        summary: "\(graph.nodes.count) nodes, \(graph.links.count) edges")
      if let screenshot, let output = page.output {
        try PlotOutput.screenshot(page: output, to: screenshot)
        StandardError.line("clt-plot: wrote \(screenshot)")
      }
    }
  }
}
