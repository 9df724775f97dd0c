import Foundation

extension AttributionGraphDocument {
  /// The JSON as clt-attrib writes it: keys sorted, slashes unescaped.
  public static func encoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
  }

  /// Writes a document to `sink` in consecutive UTF-8 chunks of about a megabyte, taking its links
  /// one by one from `links` (which calls the closure it is given once per link): a long prompt's
  /// graph keeps millions of links, which are formatted as they come rather than held. Keys are in
  /// sorted order, as `encoder()` writes them (links first); a link's weight is written as Swift
  /// prints a Double ("1.0" where the encoder writes "1"; "nan", which is not JSON, for a weight
  /// that is not finite).
  public static func stream(
    metadata: Metadata, nodes: [Node], qParams: QueryParameters?, to sink: (Data) throws -> Void,
    links: ((Link) throws -> Void) throws -> Void
  ) throws {
    let encoder = encoder()
    try sink(Data("{\"\(CodingKeys.links.stringValue)\":[".utf8))
    var chunk = ""
    var first = true
    // `links` calls back into `sink` only while it runs, which is all the escape amounts to.
    try withoutActuallyEscaping(sink) { sink in
      try links { link in
        if !first { chunk += "," }
        first = false
        try link.appendJSON(to: &chunk, encoder: encoder)
        if chunk.utf8.count >= 1 << 20 {
          try sink(Data(chunk.utf8))
          chunk = ""
        }
      }
    }
    try sink(Data((chunk + "],\"\(CodingKeys.metadata.stringValue)\":").utf8))
    try sink(try encoder.encode(metadata))
    try sink(Data(",\"\(CodingKeys.nodes.stringValue)\":".utf8))
    try sink(try encoder.encode(nodes))
    if let qParams {
      try sink(Data(",\"\(CodingKeys.qParams.stringValue)\":".utf8))
      try sink(try encoder.encode(qParams))
    }
    try sink(Data("}".utf8))
  }

  /// Decodes a document, describing what is wrong in one line when it cannot.
  public static func decode(_ data: Data) throws -> AttributionGraphDocument {
    do {
      return try JSONDecoder().decode(AttributionGraphDocument.self, from: data)
    } catch let error as DecodingError {
      throw AttributionGraphDocumentError(error)
    }
  }
}

extension AttributionGraphDocument.Link {
  /// Appends the link as `encoder` would write it, without an encoder per link where nothing in it
  /// needs escaping (node ids are digits, letters, '_' and '-'). The weight is written as Swift
  /// prints a Double, which a JSON reader reads as the same number.
  func appendJSON(to text: inout String, encoder: JSONEncoder) throws {
    func plain(_ s: String) -> Bool { s.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C } }
    guard plain(source), plain(target) else {
      text += String(decoding: try encoder.encode(self), as: UTF8.self)
      return
    }
    text += "{\"source\":\"\(source)\",\"target\":\"\(target)\",\"weight\":\(weight)}"
  }
}
