import Foundation
import Testing

/// `clt-replace --clt`: generation with the replacement model, --keep-error, --compare, --steer and
/// --eval, on a transcoder trained by `gpt2-acts | clt-fit`.
@Suite struct CLTReplacementToolTests {
  func generate(_ extra: [String], prompt: String = "The quick brown fox") throws -> [String: Any] {
    let f = try TrainedCLT.get()
    let r = try ToolHarness.run(
      "clt-replace", f.modelArguments + ["--json", "--max-new-tokens", "12", "--ignore-eos"] + extra + ["-"],
      stdin: prompt)
    #expect(r.status == 0, "\(r.stderr)")
    return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
  }

  @Test("--keep-error generates exactly what the model itself generates; steering by 1 changes nothing")
  func keepErrorAndNeutralSteering() throws {
    let f = try TrainedCLT.get()
    let plain = try generate([])["new_ids"] as! [Int]
    #expect(plain.count == 12)
    #expect(try generate(["--clt", f.clt.path, "--keep-error"])["new_ids"] as! [Int] == plain)
    #expect(
      try generate(["--clt", f.clt.path, "--steer", "0:3*1", "--steer", "1:7*1@4"])["new_ids"] as! [Int]
        == plain)
  }

  @Test("the pure replacement and a strong steering run and change the model")
  func replacementAndSteering() throws {
    let f = try TrainedCLT.get()
    let plain = try generate([])["new_ids"] as! [Int]
    let replaced = try generate(["--clt", f.clt.path])
    #expect((replaced["new_ids"] as! [Int]).count == 12)
    let steered = try generate(["--clt", f.clt.path, "--steer", "1:0=400", "--steer", "0:1=400"])
    #expect(steered["new_ids"] as! [Int] != plain, "switching two features on hard changes the text")
  }

  @Test("--compare --json: both continuations, and per-step top-1 agreement and KL")
  func compare() throws {
    let f = try TrainedCLT.get()
    let object = try generate(["--clt", f.clt.path, "--compare"])
    let original = object["original"] as! [String: Any]
    let replacement = object["replacement"] as! [String: Any]
    #expect(original["new_ids"] as! [Int] == (try generate([])["new_ids"] as! [Int]))
    #expect((replacement["new_ids"] as! [Int]).count == 12)
    let steps = object["steps"] as! [[String: Any]]
    #expect(steps.count == 12)
    #expect(steps.allSatisfy { ($0["kl"] as! Double) >= 0 && $0["top1_agree"] is Bool })
    let agreement = object["top1_agreement"] as! Double
    #expect(abs(agreement - Double(steps.filter { $0["top1_agree"] as! Bool }.count) / 12) < 1e-12)
    let exact = try generate(["--clt", f.clt.path, "--compare", "--keep-error"])
    #expect(exact["top1_agreement"] as? Double == 1 && (exact["kl"] as! Double) < 1e-6)
  }

  @Test("--eval: with the error kept, CE recovered is 1 and KL 0; the pure replacement reports every metric")
  func evaluate() throws {
    let f = try TrainedCLT.get()
    func eval(_ extra: [String]) throws -> [String: Any] {
      let r = try ToolHarness.run(
        "clt-replace",
        f.modelArguments + ["--clt", f.clt.path, "--eval", f.corpus.path, "--context", "16", "--quiet"]
          + extra)
      #expect(r.status == 0, "\(r.stderr)")
      return extra.contains("--json")
        ? try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any] : ["table": r.stdout]
    }
    let exact = try eval(["--keep-error", "--json"])
    // The fraction of CE recovered exists only where ablating the MLPs raises CE; on a random tiny
    // model it may not, and then it is null.
    let raises = (exact["ce_ablated"] as! Double) > (exact["ce_original"] as! Double)
    if raises {
      #expect(abs((exact["fraction_ce_recovered"] as! Double) - 1) < 1e-4, "\(exact)")
    } else {
      #expect(exact["fraction_ce_recovered"] is NSNull, "\(exact)")
    }
    #expect((exact["kl"] as! Double) < 1e-6 && exact["top1_agreement"] as? Double == 1)
    let pure = try eval(["--json"])
    #expect(
      (pure["predictions"] as! Int) == (exact["predictions"] as! Int) && (pure["predictions"] as! Int) > 100)
    #expect(pure["ce_original"] as? Double == exact["ce_original"] as? Double)
    for key in ["ce_replacement", "ce_ablated", "kl", "top1_agreement"]
      + (raises ? ["fraction_ce_recovered"] : [])
    {
      #expect((pure[key] as? Double)?.isFinite == true, "\(key)")
    }
    #expect((pure["nmse"] as! [Double]).count == 2 && (pure["l0"] as! [Double]).allSatisfy { $0 > 0 })
    let budget = try eval(["--json", "--max-tokens", "20"])
    #expect(budget["predictions"] as? Int == 28, "two windows of 16 reach 20 tokens; positions 1-14 predict")
    let table = try eval([])["table"] as! String
    #expect(table.contains("fraction of CE recovered") && table.contains("layer  NMSE"), "\(table)")
  }

  @Test(
    "bad steering, a mismatched transcoder, options without --clt, long prompts and empty text are refused")
  func refusals() throws {
    let f = try TrainedCLT.get()
    let clt = ["--clt", f.clt.path]
    func run(_ args: [String], stdin: String = "Hello") throws -> ToolHarness.Result {
      try ToolHarness.run("clt-replace", f.modelArguments + args + ["-"], stdin: stdin)
    }
    var r = try run(clt + ["--steer", "1:2"])
    #expect(r.status != 0 && r.stderr.contains("LAYER:FEATURE=VALUE"), "\(r.stderr)")
    r = try run(clt + ["--steer", "2:0=1"])
    #expect(r.status != 0 && r.stderr.contains("layers 0..1, not 2"), "\(r.stderr)")
    r = try run(clt + ["--steer", "0:16*2"])
    #expect(r.status != 0 && r.stderr.contains("features 0..15"), "\(r.stderr)")
    r = try run(["--keep-error"])
    #expect(r.status != 0 && r.stderr.contains("clt.h5: no such transcoder; train one"), "\(r.stderr)")
    let other = try TrainedCLT.otherModel(in: f.dir)
    r = try ToolHarness.run(
      "clt-replace", ["--model", other.path, "--tokenizer", f.rankFile.path] + clt + ["-"], stdin: "Hello")
    #expect(
      r.status != 0 && r.stderr.contains(f.clt.path) && r.stderr.contains("model_sha256"), "\(r.stderr)")
    r = try run(clt, stdin: String(repeating: "word ", count: 100))
    #expect(r.status != 0 && r.stderr.contains("context of 64"), "\(r.stderr)")
    r = try run(clt, stdin: "")
    #expect(r.status != 0 && r.stderr.contains("empty"), "\(r.stderr)")
    let empty = f.dir.appendingPathComponent("empty-\(UUID().uuidString).txt")
    try "\n".write(to: empty, atomically: true, encoding: .utf8)
    r = try run(clt + ["--eval", empty.path])
    #expect(r.status != 0 && r.stderr.contains("\(empty.path) is empty"), "\(r.stderr)")
  }
}
