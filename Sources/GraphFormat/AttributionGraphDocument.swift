import Foundation

/// An attribution graph as JSON, in the layout of circuit-tracer's graph files (the one Neuronpedia's
/// graph viewer reads): `links`, `metadata`, `nodes`, `qParams` (docs/FORMATS.md, "Attribution graph
/// JSON"). clt-attrib writes it (`GraphJSONWriter`) and clt-plot reads it (`AttributionGraphFile`),
/// so the keys are spelled here once. Every field a graph made elsewhere may lack is optional: what
/// a reader needs of it is the reader's to check.
public struct AttributionGraphDocument: Codable, Sendable, Equatable {
  /// The schema's version, `metadata.schema_version`.
  public static let schemaVersion = 1

  public var links: [Link]
  /// Empty when the file has none.
  public var metadata: Metadata
  public var nodes: [Node]
  /// The viewer's initial state; nil when the file has none or one of another shape.
  public var qParams: QueryParameters?

  /// The top-level keys, in the sorted order the file has them.
  enum CodingKeys: String, CodingKey {
    case links, metadata, nodes, qParams
  }

  public init(links: [Link], metadata: Metadata, nodes: [Node], qParams: QueryParameters?) {
    self.links = links
    self.metadata = metadata
    self.nodes = nodes
    self.qParams = qParams
  }

  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    links = try container.decode([Link].self, forKey: .links)
    metadata = try container.decodeIfPresent(Metadata.self, forKey: .metadata) ?? Metadata()
    nodes = try container.decode([Node].self, forKey: .nodes)
    // The viewer's state, which nothing here reads: one another writer shaped otherwise (or left
    // partial, as a hand-written graph may have) does not stop the graph being read.
    qParams = (try? container.decodeIfPresent(QueryParameters.self, forKey: .qParams)) ?? nil
  }

  /// An edge: the direct effect `weight` of node `source` on node `target`'s input (node ids).
  public struct Link: Codable, Sendable, Equatable {
    public var source: String
    public var target: String
    public var weight: Double

    public init(source: String, target: String, weight: Double) {
      self.source = source
      self.target = target
      self.weight = weight
    }
  }

  /// circuit-tracer's `QParams`: the viewer's initial state.
  public struct QueryParameters: Codable, Sendable, Equatable {
    public var pinnedIds: [String]
    public var supernodes: [[String]]
    public var linkType: String
    public var clickedId: String
    public var sgPos: String

    enum CodingKeys: String, CodingKey {
      case pinnedIds, supernodes, linkType, clickedId
      case sgPos = "sg_pos"
    }

    /// Nothing pinned or clicked, links of both directions shown: what circuit-tracer writes.
    public init() {
      pinnedIds = []
      supernodes = []
      linkType = "both"
      clickedId = ""
      sgPos = ""
    }
  }
}
