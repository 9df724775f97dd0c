import CLTFormat
import Foundation
import LanguageModels
import ModelFormats
import Testing

/// `clt-convert` run as a user runs it: a clt.h5 out to circuit-tracer's layout and back.
@Suite struct CLTConvertToolTests {
  let dir: URL
  let model: URL
  let clt: URL

  init() throws {
    (dir, model, _) = try ToolHarness.makeWorkspace("convert")
    clt = dir.appendingPathComponent("clt.h5")
    try CLTAttribToolTests.writeTranscoder(to: clt, model: model, features: 8)
  }

  @Test("export then import gives back the transcoder, with the model's metadata")
  func exportImport() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let folder = dir.appendingPathComponent("ct").path
    let export = try ToolHarness.run("clt-convert", ["export", clt.path, "-o", folder])
    #expect(export.status == 0 && export.stdout == folder + "\n", "\(export.stderr)")
    let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    #expect(
      names == [
        "W_dec_0.safetensors", "W_dec_1.safetensors", "W_enc_0.safetensors", "W_enc_1.safetensors",
        "config.yaml",
      ])
    let back = dir.appendingPathComponent("back.h5")
    let imported = try ToolHarness.run(
      "clt-convert", ["import", folder, "-o", back.path, "--model", model.path])
    #expect(imported.status == 0, "\(imported.stderr)")
    let (a, b) = (try CLTFile.load(url: clt), try CLTFile.load(url: back))
    #expect(b.metadata.modelSHA256 == a.metadata.modelSHA256 && b.metadata.inputTap == a.metadata.inputTap)
    #expect(b.metadata.createdBy == "clt-convert 0.1.0")
    for l in 0..<2 {
      #expect(b.transcoder.encoderWeights[l].array == a.transcoder.encoderWeights[l].array)
      #expect(b.transcoder.decoder(from: 0, to: l).array == a.transcoder.decoder(from: 0, to: l).array)
      let thresholds = zip(a.transcoder.logThresholds[l].array, b.transcoder.logThresholds[l].array)
      #expect(thresholds.allSatisfy { abs($0 - $1) < 1e-5 })
    }
  }

  @Test("errors are one line naming the file: an existing output, a residual-stream CLT, another model")
  func errors() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let folder = dir.appendingPathComponent("ct").path
    #expect(try ToolHarness.run("clt-convert", ["export", clt.path, "-o", folder]).status == 0)
    let again = try ToolHarness.run("clt-convert", ["export", clt.path, "-o", folder])
    #expect(again.status != 0 && again.stderr.contains("\(folder) already exists"), "\(again.stderr)")
    #expect(try ToolHarness.run("clt-convert", ["export", clt.path, "-o", folder, "--force"]).status == 0)

    let config = URL(fileURLWithPath: folder).appendingPathComponent("config.yaml")
    let text = try String(contentsOf: config, encoding: .utf8)
    try text.replacingOccurrences(of: "\"mlp.hook_in\"", with: "hook_resid_mid")
      .write(to: config, atomically: true, encoding: .utf8)
    let back = dir.appendingPathComponent("back.h5").path
    let refused = try ToolHarness.run("clt-convert", ["import", folder, "-o", back, "--model", model.path])
    #expect(refused.status != 0, "\(refused.stdout)")
    #expect(
      refused.stderr.hasPrefix("clt-convert: error: \(config.path): feature_input_hook is 'hook_resid_mid'"),
      "\(refused.stderr)")
    #expect(!FileManager.default.fileExists(atPath: back), "nothing is written on failure")

    try text.write(to: config, atomically: true, encoding: .utf8)
    let other = try TrainedCLT.otherModel(in: dir)
    let mismatch = try ToolHarness.run("clt-convert", ["import", folder, "-o", back, "--model", other.path])
    #expect(mismatch.status != 0 && mismatch.stderr.contains("cltkit_model_sha256"), "\(mismatch.stderr)")
  }

  @Test("--help names the subcommands, and each subcommand's options")
  func help() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try ToolHarness.run("clt-convert", ["--help"])
    #expect(r.status == 0 && r.stdout.contains("USAGE: clt-convert") && r.stdout.contains("export"))
    #expect(r.stdout.contains("import") && r.stdout.contains("hook_resid_mid"), "\(r.stdout)")
    let i = try ToolHarness.run("clt-convert", ["import", "--help"])
    #expect(i.stdout.contains("--model") && i.stdout.contains("--output"), "\(i.stdout)")
    let e = try ToolHarness.run("clt-convert", ["export", "--help"])
    #expect(e.stdout.contains("--model-name") && e.stdout.contains("--force"), "\(e.stdout)")
    #expect(try ToolHarness.run("clt-convert", ["--version"]).stdout == "0.1.0\n")
  }
}
