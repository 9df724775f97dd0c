import Foundation
import Testing
import Tokenizers

/// `clt-encode` run as a user runs it, on a transcoder trained by `gpt2-acts | clt-fit`.
@Suite struct CLTEncodeTests {
  @Test("one JSON line per token: doc, pos, token_id, token, and features sorted by activation")
  func jsonLinesPerToken() throws {
    let f = try TrainedCLT.get()
    let input = "The fox jumps.\n<|endoftext|>\nA lazy dog sleeps\n"
    let r = try ToolHarness.run("clt-encode", f.modelArguments + ["--clt", f.clt.path, "-"], stdin: input)
    #expect(r.status == 0, "\(r.stderr)")
    let lines = try TrainedCLT.jsonLines(r.stdout)
    let tokenizer = try BPETokenizer.gpt2(rankFile: f.rankFile)
    let docs = [tokenizer.encode("The fox jumps."), tokenizer.encode("A lazy dog sleeps")]
    #expect(lines.count == docs[0].count + docs[1].count)
    var k = 0
    var active = 0
    for (d, ids) in docs.enumerated() {
      for (p, id) in ids.enumerated() {
        let line = lines[k]
        #expect(line["doc"] as? Int == d && line["pos"] as? Int == p && line["token_id"] as? Int == Int(id))
        #expect(line["token"] as? String == tokenizer.decode([id]))
        let features = line["features"] as! [[String: Any]]
        let activations = features.map { $0["activation"] as! Double }
        #expect(activations == activations.sorted(by: >), "strongest first")
        #expect(features.allSatisfy { ($0["layer"] as! Int) < 2 && ($0["feature"] as! Int) < 16 })
        active += features.count
        k += 1
      }
    }
    #expect(active > 0, "a trained transcoder has features that fire")
    #expect(Array(r.stdout.utf8.prefix(9)) == Array("{\"doc\": 0".utf8), "keys in the documented order")
  }

  @Test("--top, --layers and --min-activation keep only the features asked for")
  func filters() throws {
    let f = try TrainedCLT.get()
    let base = f.modelArguments + ["--clt", f.clt.path, f.corpus.path]
    let all = try TrainedCLT.jsonLines(try ToolHarness.run("clt-encode", base).stdout)
    let r = try ToolHarness.run(
      "clt-encode", base + ["--top", "2", "--layers", "1", "--min-activation", "0.05"])
    #expect(r.status == 0, "\(r.stderr)")
    let filtered = try TrainedCLT.jsonLines(r.stdout)
    #expect(filtered.count == all.count)
    for (a, b) in zip(all, filtered) {
      let expected = (a["features"] as! [[String: Any]]).filter {
        $0["layer"] as! Int == 1 && $0["activation"] as! Double >= 0.05
      }.prefix(2).map { $0["feature"] as! Int }
      #expect((b["features"] as! [[String: Any]]).map { $0["feature"] as! Int } == expected)
    }
  }

  @Test("output streams: a document's lines arrive before the input has ended")
  func streams() throws {
    let f = try TrainedCLT.get()
    let process = Process()
    process.executableURL = ToolHarness.binDirectory.appendingPathComponent("clt-encode")
    process.arguments = f.modelArguments + ["--clt", f.clt.path, "-"]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    input.fileHandleForWriting.write(Data("First document here.\n<|endoftext|>\n".utf8))
    var received = Data()
    let deadline = Date().addingTimeInterval(60)
    while !received.contains(UInt8(ascii: "\n")) && Date() < deadline {
      received.append(output.fileHandleForReading.availableData)
    }
    #expect(
      String(decoding: received, as: UTF8.self).hasPrefix("{\"doc\": 0, \"pos\": 0"), "stdin still open")
    input.fileHandleForWriting.write(Data("Second.\n".utf8))
    try input.fileHandleForWriting.close()
    received.append(output.fileHandleForReading.readDataToEndOfFile())
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    #expect(String(decoding: received, as: UTF8.self).contains("{\"doc\": 1, \"pos\": 0"))
  }

  @Test("a transcoder of another model, unknown layers, a missing clt.h5 and empty input are refused clearly")
  func refusals() throws {
    let f = try TrainedCLT.get()
    let other = try TrainedCLT.otherModel(in: f.dir)
    var r = try ToolHarness.run(
      "clt-encode", ["--model", other.path, "--tokenizer", f.rankFile.path, "--clt", f.clt.path, "-"],
      stdin: "text")
    #expect(r.status != 0 && r.stderr.contains("clt-encode: error: \(f.clt.path)"), "\(r.stderr)")
    #expect(r.stderr.contains("model_sha256") && r.stderr.contains("--model"), "\(r.stderr)")
    r = try ToolHarness.run(
      "clt-encode", f.modelArguments + ["--clt", f.clt.path, "--layers", "0,5", "-"], stdin: "x")
    #expect(r.status != 0 && r.stderr.contains("layers 0..1, not 5"), "\(r.stderr)")
    r = try ToolHarness.run(
      "clt-encode", f.modelArguments + ["--clt", f.clt.path, "--layers", "1-", "-"], stdin: "x")
    #expect(r.status != 0 && r.stderr.contains("--layers"), "\(r.stderr)")
    r = try ToolHarness.run(
      "clt-encode", f.modelArguments + ["--clt", "/nonexistent/clt.h5", "-"], stdin: "x")
    #expect(r.status != 0 && r.stderr.contains("/nonexistent/clt.h5: no such transcoder"), "\(r.stderr)")
    r = try ToolHarness.run("clt-encode", f.modelArguments + ["--clt", f.clt.path, "-"], stdin: "\n\n")
    #expect(r.status != 0 && r.stderr.contains("empty"), "\(r.stderr)")
  }
}
