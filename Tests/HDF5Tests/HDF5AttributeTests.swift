import Foundation
import HDF5
import Testing

@Suite struct HDF5AttributeTests {
  @Test("string, Int64 and Double attributes round-trip on the root and on datasets")
  func attributesRoundTrip() throws {
    let dir = try TemporaryDirectory()
    let path = dir.path("attrs.h5")
    do {
      let file = try HDF5File.create(path: path)
      try file.setAttribute("model", "gpt2 — small ✓")
      try file.setAttribute("n_layers", Int64(12))
      try file.setAttribute("scale", 0.125)
      try file.setAttribute("n_layers", Int64(-7))  // replaced, not duplicated
      let dataset = try file.createDataset("d", elementType: .int32, shape: [1])
      try dataset.setAttribute("unit", "tokens")
      try dataset.setAttribute("big", Int64.max)
      try dataset.setAttribute("ratio", -1e300)
      try file.close()
    }
    let file = try HDF5File(path: path)
    #expect(try file.stringAttribute("model") == "gpt2 — small ✓", "UTF-8 string round-trips")
    #expect(try file.int64Attribute("n_layers") == -7, "a rewritten attribute holds the new value")
    #expect(try file.doubleAttribute("scale") == 0.125, "double round-trips")
    let dataset = try file.openDataset("d")
    #expect(try dataset.stringAttribute("unit") == "tokens", "dataset string attribute")
    #expect(try dataset.int64Attribute("big") == Int64.max, "full Int64 range")
    #expect(try dataset.doubleAttribute("ratio") == -1e300, "full Double range")
    #expect(try file.hasAttribute("scale") && !file.hasAttribute("absent"), "hasAttribute")
  }

  @Test("a missing or wrongly typed attribute is a named error")
  func attributeErrors() throws {
    let dir = try TemporaryDirectory()
    let path = dir.path("attrs.h5")
    let file = try HDF5File.create(path: path)
    try file.setAttribute("model", "gpt2")
    #expect(
      throws: HDF5Error.notFound(path: path, kind: "attribute", name: "context"),
      "missing attribute is named"
    ) {
      _ = try file.int64Attribute("context")
    }
    #expect(
      throws: HDF5Error.typeMismatch(
        path: path, name: "model", expected: "an integer", found: "a string"),
      "a string is not silently read as a number"
    ) {
      _ = try file.int64Attribute("model")
    }
  }
}
