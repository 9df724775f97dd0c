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
      graph-html writes an interactive page with inline scripts that works offline; dashboard a \
      static page of feature dashboards (top contexts and logit effects). Formats: \
      docs/FORMATS.md.
      """,
    version: "0.1.0",
    subcommands: [
      Heatmap.self, TopFeatures.self, Curves.self, DecoderNorms.self, Correlations.self, PCA.self,
      Importance.self, GraphHTML.self, Dashboard.self,
    ])
}

CLTPlot.main()
