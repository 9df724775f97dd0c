import CLTFormat
import Foundation

/// One trained CLT of an experiment (results/NAME/VARIANT/) and what the pipeline measured on it.
public struct VariantResults {
  public let name: String
  public let folder: URL
  /// The clt.h5's attributes and the held-out evaluation clt-fit stored in it.
  public let metadata: CLTFileMetadata
  public let heldOut: CLTEvaluation?
  /// `clt-replace --eval --json` (eval.json).
  let replacement: JSONFile?
  /// `clt-replace --compare --json` (generation.json).
  let generation: JSONFile?
  /// The last line of clt-fit's --log.
  let lastStep: JSONFile?
  /// graphs/graph-N.json with their prompts, in prompt order.
  let graphs: [(index: Int, graph: JSONFile)]
  /// Pictures under the variant's folder, relative to the experiment folder.
  public let pictures: [String]

  init(name: String, folder: URL) throws {
    self.name = name
    self.folder = folder
    let clt = folder.appendingPathComponent("clt.h5")
    do {
      (metadata, heldOut) = try CLTFile.summary(url: clt)
    } catch {
      throw ReportError.unreadable(path: clt.path, reason: error.localizedDescription)
    }
    replacement = try JSONFile.load(folder.appendingPathComponent("eval.json"))
    generation = try JSONFile.load(folder.appendingPathComponent("generation.json"))
    lastStep = JSONFile.lastLine(of: folder.appendingPathComponent("metrics.jsonl"))
    let graphFolder = folder.appendingPathComponent("graphs")
    let graphFiles = (try? FileManager.default.contentsOfDirectory(atPath: graphFolder.path)) ?? []
    let transcoder = metadata
    graphs = try graphFiles.compactMap { file -> (Int, JSONFile)? in
      guard file.hasPrefix("graph-"), file.hasSuffix(".json"),
        let index = Int(file.dropFirst("graph-".count).dropLast(".json".count))
      else { return nil }
      let url = graphFolder.appendingPathComponent(file)
      let graph = try JSONFile(url: url)
      try Self.check(graph, at: url, madeWith: transcoder, at: clt)
      return (index, graph)
    }.sorted { $0.0 < $1.0 }
    pictures = Self.pictures(in: folder, variant: name)
  }

  /// Throws `ReportError.mismatchedGraph` when the graph's metadata records another model or shape
  /// (`TranscoderIdentity`) than the variant's clt.h5: its scores do not belong in this variant's row.
  static func check(_ graph: JSONFile, at url: URL, madeWith metadata: CLTFileMetadata, at clt: URL) throws {
    guard let recorded = graph.child("metadata") else { return }
    let identity = TranscoderIdentity(
      model: recorded.string("scan"), modelSHA256: recorded.string("model_sha256"),
      nLayers: recorded.number("n_layers").map { Int($0) },
      features: recorded.number("transcoder_features").map { Int($0) })
    if let reason = identity.mismatch(with: metadata, file: url.path, cltPath: clt.path) {
      throw ReportError.mismatchedGraph(reason)
    }
  }

  /// SVG and PNG files under pictures/ and graphs/ (a graph's SVG rendering), sorted, as paths
  /// relative to the experiment folder; a PNG with an SVG of the same name is left out.
  static func pictures(in folder: URL, variant: String) -> [String] {
    var found: [String] = []
    for sub in ["pictures", "graphs"] {
      let dir = folder.appendingPathComponent(sub)
      let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
      for file in files where file.hasSuffix(".svg") || file.hasSuffix(".png") {
        if file.hasSuffix(".png"), files.contains(String(file.dropLast(4)) + ".svg") { continue }
        found.append("\(variant)/\(sub)/\(file)")
      }
    }
    return found
  }
}
