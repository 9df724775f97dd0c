import ActivationShards
import CLTFormat
import Foundation
import LanguageModels
import Testing
import Transcoder

/// `clt-attrib` run as a user runs it, on a random checkpoint and a random transcoder.
@Suite struct CLTAttribToolTests {
  let dir: URL
  let model: URL
  let rankFile: URL
  let clt: URL

  init() throws {
    (dir, model, rankFile) = try ToolHarness.makeWorkspace("attrib")
    clt = dir.appendingPathComponent("clt.h5")
    try Self.writeTranscoder(to: clt, model: model)
  }

  /// A random transcoder for the workspace checkpoint, with thresholds low enough that features fire.
  static func writeTranscoder(
    to url: URL, model: URL, dModel: Int? = nil, architecture: String = "gpt2", features: Int = 32,
    seed: UInt64 = 3
  ) throws {
    let gpt2 = try GPT2Model(directory: model)
    let info = gpt2.description
    let d = dModel ?? info.dModel
    let shards = ShardMetadata(
      architecture: architecture, model: info.name, modelSHA256: info.sha256, nLayers: info.nLayers,
      dModel: d,
      context: 16, inputTap: info.inputTap, outputTap: info.outputTap, createdBy: "test")
    let transcoder = CrossLayerTranscoder(
      nLayers: info.nLayers, dModel: d, features: features, seed: seed, initialThreshold: 0.2)
    let file = CLTFile(
      transcoder: transcoder,
      normalizer: ActivationNormalizer(
        inputScales: [Float](repeating: 1, count: info.nLayers),
        outputScales: [Float](repeating: 1, count: info.nLayers)),
      frequencies: [[Float]](repeating: [Float](repeating: 0.1, count: features), count: info.nLayers),
      metadata: CLTFileMetadata(
        shards: shards, features: features,
        configuration: TrainingConfiguration(features: features, steps: 1),
        tokensSeen: 0, steps: 0, createdBy: "test"))
    try file.write(to: url)
  }

  var base: [String] { ["--model", model.path, "--tokenizer", rankFile.path, "--clt", clt.path] }

  static let dotPath = "/usr/bin/dot"

  @Test(
    "the default DOT output renders with Graphviz without warnings, and stderr reports the scores",
    .enabled(if: FileManager.default.fileExists(atPath: dotPath), "needs graphviz (apt-get install graphviz)")
  )
  func dotRenders() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try ToolHarness.run("clt-attrib", base + ["-"], stdin: "The \"quick\" brown\\fox\njumps")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.hasPrefix("digraph attribution {"))
    #expect(r.stderr.contains("completeness") && r.stderr.contains("replacement"), "\(r.stderr)")
    let dotFile = dir.appendingPathComponent("graph.dot")
    try r.stdout.write(to: dotFile, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.dotPath)
    process.arguments = ["-Tsvg", "-o", dir.appendingPathComponent("graph.svg").path, dotFile.path]
    let err = Pipe()
    process.standardError = err
    try process.run()
    let warnings = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0 && warnings.isEmpty, "dot said: \(warnings)")
  }

  @Test("--dot-max-edges draws the strongest edges only, and only the nodes they join (logits kept)")
  func dotEdgeCap() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let args = base + ["--node-threshold", "1", "--edge-threshold", "1", "--dot-all"]
    let prompt = "Once upon a time in"
    let full = try ToolHarness.run("clt-attrib", args + ["--dot-max-edges", "0", "-"], stdin: prompt)
    let capped = try ToolHarness.run("clt-attrib", args + ["--dot-max-edges", "3", "-"], stdin: prompt)
    #expect(full.status == 0 && capped.status == 0, "\(full.stderr)\(capped.stderr)")
    func edges(_ dot: String) -> [(String, String, Double)] {
      dot.split(separator: "\n").filter { $0.contains("penwidth=") && $0.contains(" -> ") }.map { line in
        let parts = line.split(separator: "\"")
        let tooltip = line.components(separatedBy: "tooltip=\"")[1].prefix { $0 != "\"" }
        return (String(parts[1]), String(parts[3]), abs(Double(tooltip)!))
      }
    }
    func declared(_ dot: String) -> Set<String> {
      Set(
        dot.split(separator: "\n").filter {
          $0.hasPrefix("  \"") && $0.contains(" [") && !$0.contains(" -> ")
        }
        .map { String($0.split(separator: "\"")[1]) })
    }
    let all = edges(full.stdout)
    let drawn = edges(capped.stdout)
    #expect(all.count > 3, "the test graph needs more than 3 edges")
    #expect(drawn.count == 3)
    let third = all.map(\.2).sorted(by: >)[2]
    #expect(drawn.allSatisfy { $0.2 >= third * 0.999 }, "the drawn edges are the largest")
    let nodes = declared(capped.stdout).filter { !$0.hasPrefix("rank_") }
    let joined = Set(drawn.flatMap { [$0.0, $0.1] })
    #expect(joined.isSubset(of: nodes))
    #expect(
      nodes.subtracting(joined).allSatisfy {
        capped.stdout.contains("\"\($0)\" [shape=box, fillcolor=\"#fbe6b8\"")
      })
    #expect(capped.stdout.contains("strongest 3 of \(all.count) edges"))
    #expect(!full.stdout.contains("strongest"))
  }

  @Test(
    "the default DOT draws --dot-max-nodes nodes labelled by logit effects, or by clt-encode --index's index")
  func labelledView() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let prompt = "Once upon a time in a land far away"
    let args = base + ["--node-threshold", "1", "--edge-threshold", "1", "--dot-max-nodes", "6", "-"]
    func featureLabels(_ dot: String) -> [String] {
      dot.split(separator: "\n").filter { $0.contains("style=\"rounded,filled") }.map {
        // The label and what follows it (a quoted token's quotes are escaped in DOT).
        $0.components(separatedBy: "label=\"")[1]
      }
    }
    let plain = try ToolHarness.run("clt-attrib", args, stdin: prompt)
    #expect(plain.status == 0, "\(plain.stderr)")
    let drawn = plain.stdout.split(separator: "\n").filter {
      $0.hasPrefix("  n") && $0.dropFirst(3).first?.isNumber == true && !$0.contains(" -> ")
    }
    let inner = drawn.filter { !$0.contains("#e3f2d9") && !$0.contains("#fbe6b8") }
    #expect(!inner.isEmpty && inner.count <= 6, "at most 6 feature or error nodes: \(inner)")
    #expect(plain.stdout.contains("kept features and errors in \(inner.count) nodes"))
    #expect(featureLabels(plain.stdout).allSatisfy { $0.contains("\\n→ ") }, "logit-effect labels")
    /// The JSON's feature labels (`clerp`) and where it says they come from.
    func jsonLabels() throws -> (source: String?, clerps: [String]) {
      let r = try ToolHarness.run("clt-attrib", base + ["--format", "json", "-"], stdin: prompt)
      let graph = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
      let nodes = (graph["nodes"] as! [[String: Any]]).filter {
        $0["feature_type"] as? String == "cross layer transcoder"
      }
      let metadata = graph["metadata"] as! [String: Any]
      #expect(metadata["embedding_nodes"] as? String == "token")
      #expect(
        nodes.allSatisfy { ($0["label_group"] as? String) != nil }, "every labelled feature has its group")
      return (metadata["feature_labels"] as? String, nodes.map { $0["clerp"] as! String })
    }
    let unlabelled = try jsonLabels()
    #expect(unlabelled.source == "logit effects" && !unlabelled.clerps.isEmpty)
    #expect(unlabelled.clerps.allSatisfy { $0.hasPrefix("→ ") })

    let text = dir.appendingPathComponent("text.txt")
    try String(repeating: "Once upon a time in a land far away there lived a king. ", count: 20)
      .write(to: text, atomically: true, encoding: .utf8)
    let encode = try ToolHarness.run(
      "clt-encode",
      ["--model", model.path, "--tokenizer", rankFile.path, "--clt", clt.path, "--index", text.path])
    #expect(encode.status == 0 && encode.stdout.isEmpty, "\(encode.stderr)")
    let indexURL = dir.appendingPathComponent("clt.index.json")
    let index = try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as! [String: Any]
    #expect(index["tokens"] as? Int ?? 0 > 200 && (index["layers"] as? [Any])?.count == 2)
    let labelled = try ToolHarness.run("clt-attrib", args, stdin: prompt)
    #expect(labelled.status == 0 && !labelled.stderr.contains("left aside"), "\(labelled.stderr)")
    // A feature that fired on the text is labelled with the tokens it fired on, quoted.
    #expect(
      featureLabels(labelled.stdout).contains { $0.contains("\\n\\\"") }, "\(featureLabels(labelled.stdout))")
    let indexed = try jsonLabels()
    #expect(indexed.source == "index" && indexed.clerps.contains { $0.hasPrefix("\"") })

    // Another CLT of the same shape at the same path: the index no longer applies.
    try Self.writeTranscoder(to: clt, model: model, seed: 4)
    let stale = try ToolHarness.run("clt-attrib", args, stdin: prompt)
    #expect(stale.status == 0)
    #expect(stale.stderr.contains("clt.index.json is left aside: it was built for another clt.h5"))
    #expect(featureLabels(stale.stdout).allSatisfy { $0.contains("\\n→ ") })
  }

  @Test("--timing prints one JSON line: the prompt's tokens, seconds without loading, peak memory")
  func timingLine() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try ToolHarness.run(
      "clt-attrib", base + ["--timing", "--quiet", "-"], stdin: "Once upon a time in")
    #expect(r.status == 0, "\(r.stderr)")
    let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
    #expect(lines.count == 1, "\(r.stderr)")
    let line = try JSONSerialization.jsonObject(with: Data((lines.first ?? "").utf8)) as! [String: Any]
    #expect(line["side"] as? String == "swift" && line["bench"] as? String == "attrib")
    #expect(line["tokens"] as? Int == 6, "<|endoftext|> and the prompt's 5 tokens")
    let (seconds, load, rss) = (
      line["seconds"] as! Double, line["load_seconds"] as! Double, line["max_rss_mb"] as! Double
    )
    #expect(seconds > 0 && load > 0 && rss > 1 && rss < 100_000)
  }

  @Test("--format json writes nodes with unique ids, links between them and the scores")
  func jsonGraph() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try ToolHarness.run(
      "clt-attrib", base + ["--format", "json", "--target", " the", "-"], stdin: "Once upon a time in")
    #expect(r.status == 0, "\(r.stderr)")
    let root = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    let metadata = root["metadata"] as! [String: Any]
    let completeness = metadata["completeness_score"] as! Double
    #expect(completeness >= 0 && completeness <= 1)
    #expect((metadata["prompt_tokens"] as! [String]).joined() == "<|endoftext|>Once upon a time in")
    let nodes = root["nodes"] as! [[String: Any]]
    let ids = nodes.map { $0["node_id"] as! String }
    #expect(Set(ids).count == ids.count, "node ids are unique")
    let logits = nodes.filter { $0["feature_type"] as? String == "logit" }
    #expect(logits.count == 1 && logits[0]["is_target_logit"] as? Bool == true)
    #expect(nodes.filter { $0["feature_type"] as? String == "embedding" }.count == 6)
    for link in root["links"] as! [[String: Any]] {
      #expect(ids.contains(link["source"] as! String) && ids.contains(link["target"] as! String))
    }
    // The <|endoftext|> position is held constant: no features or errors there.
    let atFirst = nodes.filter { $0["ctx_idx"] as? Int == 0 }.map { $0["feature_type"] as! String }
    #expect(atFirst == ["embedding"], "\(atFirst)")
  }

  @Test("--no-bos attributes the prompt as it is: no <|endoftext|>, features at its first position")
  func noBOS() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try ToolHarness.run(
      "clt-attrib", base + ["--format", "json", "--no-bos", "--node-threshold", "1", "-"],
      stdin: "Once upon a time in")
    #expect(r.status == 0, "\(r.stderr)")
    let root = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    let metadata = root["metadata"] as! [String: Any]
    #expect((metadata["prompt_tokens"] as! [String]).joined() == "Once upon a time in")
    let nodes = root["nodes"] as! [[String: Any]]
    let atFirst = Set(nodes.filter { $0["ctx_idx"] as? Int == 0 }.map { $0["feature_type"] as! String })
    #expect(
      atFirst.contains("cross layer transcoder") && atFirst.contains("mlp reconstruction error"), "\(atFirst)"
    )
  }

  @Test(
    "--format json has the fields and id formats of circuit-tracer's graph files (frontend/graph_models.py)")
  func jsonMatchesCircuitTracer() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try ToolHarness.run(
      "clt-attrib", base + ["--format", "json", "--node-threshold", "1", "-"], stdin: "Once upon a time in")
    #expect(r.status == 0, "\(r.stderr)")
    let root = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    let metadata = root["metadata"] as! [String: Any]
    for key in ["slug", "scan", "prompt"] { #expect(metadata[key] is String, "metadata.\(key)") }
    #expect(metadata["transcoder_list"] as? [String] == [] && metadata["schema_version"] as? Int == 1)
    #expect(metadata["node_threshold"] as? Double == 1)
    let q = root["qParams"] as! [String: Any]
    #expect(
      q["clickedId"] as? String == "" && q["sg_pos"] as? String == "" && q["linkType"] as? String == "both")
    let nodes = root["nodes"] as! [[String: Any]]
    var kinds: Set<String> = []
    for node in nodes {
      let kind = node["feature_type"] as! String
      kinds.insert(kind)
      let (id, js, layer) = (
        node["node_id"] as! String, node["jsNodeId"] as! String, node["layer"] as! String
      )
      let feature = node["feature"] as! Int
      let pos = node["ctx_idx"] as! Int
      #expect(node["run_idx"] as? Int == 0 && node["reverse_ctx_idx"] as? Int == 0)
      switch kind {
      case "cross layer transcoder":
        let l = Int(layer)!
        let i = node["feature_index"] as! Int
        #expect(id == "\(l)_\(i)_\(pos)" && js == "\(l)_\(i)-0")
        #expect(feature == (l + i) * (l + i + 1) / 2 + i, "the Cantor pairing of layer and index")
        #expect(node["activation"] is Double)
      case "mlp reconstruction error":
        #expect(id == "\(layer)_-1_\(pos)" && js == "\(layer)_-1-\(pos)" && feature == -1)
      case "embedding":
        let token = node["token_id"] as! Int
        #expect(layer == "E" && id == "E_\(token)_\(pos)" && js == "E_\(token)-\(pos)" && feature == pos)
      default:
        #expect(kind == "logit" && layer == "3", "logits sit at layer n_layers + 1")
        #expect(id == "3_\(feature)_\(pos)" && js == "L_\(feature)-\(pos)" && node["influence"] is NSNull)
        continue
      }
      let influence = node["influence"] as! Double
      #expect(influence > 0 && influence <= 1 + 1e-9, "cumulative influence lies in (0, 1]")
    }
    #expect(
      kinds.contains("embedding") && kinds.contains("logit") && kinds.contains("mlp reconstruction error"))
    let targets = nodes.filter { $0["is_target_logit"] as? Bool == true }
    #expect(targets.count == 1, "only the first logit is the target, as circuit-tracer marks it")
  }

  @Test("bad inputs are refused with a one-line error: empty, too long, unknown target, mismatched CLT")
  func badInputs() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    var r = try ToolHarness.run("clt-attrib", base + ["-"], stdin: "")
    #expect(r.status != 0 && r.stderr.contains("empty"), "\(r.stderr)")
    r = try ToolHarness.run("clt-attrib", base + ["-"], stdin: String(repeating: "word ", count: 100))
    #expect(r.status != 0 && r.stderr.contains("context of 64"), "\(r.stderr)")
    r = try ToolHarness.run("clt-attrib", base + ["--target", "Xyzzyplugh", "-"], stdin: "Hello there")
    #expect(r.status != 0 && r.stderr.contains("--target") && r.stderr.contains("not a token"), "\(r.stderr)")
    let wide = dir.appendingPathComponent("wide.h5")
    try Self.writeTranscoder(to: wide, model: model, dModel: 24)
    r = try ToolHarness.run(
      "clt-attrib", ["--model", model.path, "--tokenizer", rankFile.path, "--clt", wide.path, "-"],
      stdin: "Hi")
    #expect(r.status != 0 && r.stderr.contains("does not fit"), "\(r.stderr)")
    let llama = dir.appendingPathComponent("llama.h5")
    try Self.writeTranscoder(to: llama, model: model, architecture: "llama")
    r = try ToolHarness.run(
      "clt-attrib", ["--model", model.path, "--tokenizer", rankFile.path, "--clt", llama.path, "-"],
      stdin: "Hi")
    #expect(r.status != 0 && r.stderr.contains("'llama'"), "\(r.stderr)")
    r = try ToolHarness.run("clt-attrib", base + ["--node-threshold", "1.5", "-"], stdin: "Hi")
    #expect(r.status != 0 && r.stderr.contains("--node-threshold"), "\(r.stderr)")
    // Text where the prompt file belongs: the error says the argument is a file and how to pipe.
    r = try ToolHarness.run("clt-attrib", base + ["The capital of France is"])
    #expect(r.status == 1 && r.stderr.contains("no such file") && r.stderr.contains("echo"), "\(r.stderr)")
  }

  @Test("--help lists the options and --version prints the version")
  func help() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try ToolHarness.run("clt-attrib", ["--help"])
    #expect(r.status == 0 && r.stdout.contains("USAGE: clt-attrib"))
    for option in [
      "--model", "--tokenizer", "--clt", "--target", "--max-feature-nodes", "--node-threshold",
      "--edge-threshold",
      "--batch-size", "--format", "--threads",
    ] {
      #expect(r.stdout.contains(option), "--help lacks \(option)")
    }
    #expect(try ToolHarness.run("clt-attrib", ["--version"]).stdout == "0.1.0\n")
  }
}
