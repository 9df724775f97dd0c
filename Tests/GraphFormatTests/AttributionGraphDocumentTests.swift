import Foundation
import GraphFormat
import Testing

@Suite("The attribution-graph document")
struct AttributionGraphDocumentTests {
  /// A graph of a feature, an error and a logit node, with links whose weights are not whole (the
  /// streamed links print a Double as Swift does, the encoder a whole one without ".0").
  static func document() -> AttributionGraphDocument {
    var metadata = AttributionGraphDocument.Metadata()
    metadata.schemaVersion = AttributionGraphDocument.schemaVersion
    metadata.prompt = "a/b \"c\""
    metadata.nLayers = 2
    metadata.completenessScore = 0.8125
    var feature = AttributionGraphDocument.Node()
    feature.nodeID = "0_3_1"
    feature.featureType = AttributionGraphDocument.Node.FeatureType.feature.rawValue
    feature.layer = "0"
    feature.featureIndex = 3
    feature.ctxIdx = 1
    feature.activation = 1.5
    feature.influence = 0.25
    var error = AttributionGraphDocument.Node()
    error.nodeID = "1_-1_1"
    error.featureType = AttributionGraphDocument.Node.FeatureType.error.rawValue
    error.layer = "1"
    error.ctxIdx = 1
    var logit = AttributionGraphDocument.Node()
    logit.nodeID = "3_7_1"
    logit.featureType = AttributionGraphDocument.Node.FeatureType.logit.rawValue
    logit.tokenProb = 0.5
    let links = [
      AttributionGraphDocument.Link(source: "0_3_1", target: "3_7_1", weight: 0.375),
      AttributionGraphDocument.Link(source: "1_-1_1", target: "3_7_1", weight: -1.25e-7),
      AttributionGraphDocument.Link(source: "odd \"id\"", target: "3_7_1", weight: 2.5),
    ]
    return AttributionGraphDocument(
      links: links, metadata: metadata, nodes: [feature, error, logit],
      qParams: AttributionGraphDocument.QueryParameters())
  }

  static func streamed(_ document: AttributionGraphDocument) throws -> Data {
    var data = Data()
    try AttributionGraphDocument.stream(
      metadata: document.metadata, nodes: document.nodes, qParams: document.qParams,
      to: { data.append($0) }, links: { emit in for link in document.links { try emit(link) } })
    return data
  }

  @Test("streaming writes the bytes JSONEncoder writes for the whole document, and they decode to it")
  func streamingMatchesEncoder() throws {
    let document = Self.document()
    let streamed = try Self.streamed(document)
    let encoded = try AttributionGraphDocument.encoder().encode(document)
    #expect(
      String(decoding: streamed, as: UTF8.self) == String(decoding: encoded, as: UTF8.self),
      "the streamed links, metadata, nodes and qParams are one document in sorted key order")
    #expect(try AttributionGraphDocument.decode(streamed) == document, "what is written reads back")
  }

  @Test("a node's influence and activation are written as null when it has none, as circuit-tracer requires")
  func explicitNulls() throws {
    let text = String(decoding: try Self.streamed(Self.document()), as: UTF8.self)
    let errorNode =
      #"{"activation":null,"ctx_idx":1,"feature_type":"mlp reconstruction error","influence":null,"#
      + #""layer":"1","node_id":"1_-1_1"}"#
    #expect(text.contains(errorNode), "the error node's activation and influence are null: \(text)")
  }

  @Test("a layer given as a number reads as its text; metadata and qParams may be missing")
  func lenientReading() throws {
    let json = #"{"links":[],"nodes":[{"node_id":"0_1_0","layer":0,"ctx_idx":0}]}"#
    let document = try AttributionGraphDocument.decode(Data(json.utf8))
    #expect(document.nodes.first?.layer == "0")
    #expect(document.metadata == AttributionGraphDocument.Metadata() && document.qParams == nil)
  }

  @Test(
    "a damaged document is described in one line naming the field at fault",
    arguments: [
      ("{\"links\":[", "not valid JSON; expected clt-attrib --format json"),
      ("[1]", "not a JSON object; expected clt-attrib --format json"),
      ("{\"links\":[]}", "missing list \"nodes\""),
      ("{\"links\":[],\"nodes\":[{\"ctx_idx\":\"x\"}]}", "nodes[0].ctx_idx: expected a whole number"),
      ("{\"links\":[{\"source\":\"a\",\"weight\":1}],\"nodes\":[]}", "links[0].target is missing"),
    ])
  func damaged(json: String, reason: String) throws {
    #expect(throws: AttributionGraphDocumentError(reason: reason)) {
      try AttributionGraphDocument.decode(Data(json.utf8))
    }
  }
}
