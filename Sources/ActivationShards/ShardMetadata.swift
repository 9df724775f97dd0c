import HDF5

/// What a shard holds and how it was produced, stored as root attributes of every shard.
///
/// A shard must be usable on its own, months later: it names the model (and its checkpoint
/// hash), the shapes, the element type and exactly where the activations were tapped.
public struct ShardMetadata: Sendable, Equatable {
  /// Model family, e.g. "gpt2"; attribute `architecture`.
  public var architecture: String
  /// Model name, e.g. "gpt2" or "gpt2-medium"; attribute `model`.
  public var model: String
  /// SHA-256 (hex) of the checkpoint file the activations came from; attribute `model_sha256`.
  public var modelSHA256: String
  /// Number of transformer layers, the second dimension of `mlp_in`/`mlp_out`.
  public var nLayers: Int
  /// Residual width, the third dimension of `mlp_in`/`mlp_out`.
  public var dModel: Int
  /// Tokens per window fed to the model; attribute `context`.
  public var context: Int
  /// Element type of `mlp_in`/`mlp_out`; attribute `dtype` ("f16" or "f32").
  public var dtype: ShardDType
  /// Where MLP inputs were read, e.g. "ln_2 output (MLP input)"; attribute `input_tap`.
  public var inputTap: String
  /// Where MLP outputs were read, e.g. "MLP output before the residual add"; `output_tap`.
  public var outputTap: String
  /// Tool and version that wrote the shard, e.g. "gpt2-acts 0.1.0"; attribute `created_by`.
  public var createdBy: String
  /// Rows the whole run that wrote this shard writes, all shards together, when the writer knew
  /// it ahead (gpt2-acts tokenises its corpus first); attribute `planned_rows`, absent otherwise.
  /// It lets a consumer reading shards from a pipe plan one pass over data it has not seen yet.
  public var plannedRows: Int?

  public init(
    architecture: String, model: String, modelSHA256: String, nLayers: Int, dModel: Int,
    context: Int, dtype: ShardDType = .f16, inputTap: String, outputTap: String,
    createdBy: String
  ) {
    self.architecture = architecture
    self.model = model
    self.modelSHA256 = modelSHA256
    self.nLayers = nLayers
    self.dModel = dModel
    self.context = context
    self.dtype = dtype
    self.inputTap = inputTap
    self.outputTap = outputTap
    self.createdBy = createdBy
  }

  /// The shard format this code writes and reads; attribute `format_version`.
  public static let formatVersion: Int64 = 1

  /// Writes every field, and `format_version`, as root attributes of `file`.
  func write(to file: HDF5File) throws {
    try file.setAttribute("format_version", Self.formatVersion)
    try file.setAttribute("architecture", architecture)
    try file.setAttribute("model", model)
    try file.setAttribute("model_sha256", modelSHA256)
    try file.setAttribute("n_layers", Int64(nLayers))
    try file.setAttribute("d_model", Int64(dModel))
    try file.setAttribute("context", Int64(context))
    try file.setAttribute("dtype", dtype.rawValue)
    try file.setAttribute("input_tap", inputTap)
    try file.setAttribute("output_tap", outputTap)
    try file.setAttribute("created_by", createdBy)
    if let plannedRows { try file.setAttribute("planned_rows", Int64(plannedRows)) }
  }

  /// Whether `file`'s root attributes are a shard's (`context` and `dtype`, which a clt.h5 lacks),
  /// so that a reader of another format can say that it was given a shard.
  public static func describes(_ file: HDF5File) -> Bool {
    ["context", "dtype"].allSatisfy { (try? file.hasAttribute($0)) == true }
  }

  /// Reads the root attributes of a shard, checking the format version, the dtype and the sizes.
  /// A clt.h5 is recognised first (by its `features`, which a shard lacks), since its own
  /// format_version would otherwise read as a version of the shard format.
  init(file: HDF5File) throws {
    if !Self.describes(file), (try? file.hasAttribute("features")) == true {
      throw ShardError.transcoderGiven(path: file.filePath)
    }
    let version = try file.int64Attribute("format_version")
    guard version == Self.formatVersion else {
      throw ShardError.unsupportedFormat(
        path: file.filePath,
        reason: "format_version is \(version); this build reads version \(Self.formatVersion)")
    }
    let dtypeText = try file.stringAttribute("dtype")
    guard let dtype = ShardDType(rawValue: dtypeText) else {
      throw ShardError.unsupportedFormat(
        path: file.filePath, reason: "dtype '\(dtypeText)' is neither 'f16' nor 'f32'")
    }
    self.init(
      architecture: try file.stringAttribute("architecture"),
      model: try file.stringAttribute("model"),
      modelSHA256: try file.stringAttribute("model_sha256"),
      nLayers: Int(try file.int64Attribute("n_layers")),
      dModel: Int(try file.int64Attribute("d_model")),
      context: Int(try file.int64Attribute("context")),
      dtype: dtype,
      inputTap: try file.stringAttribute("input_tap"),
      outputTap: try file.stringAttribute("output_tap"),
      createdBy: try file.stringAttribute("created_by"))
    guard nLayers > 0, dModel > 0, context > 0 else {
      throw ShardError.unsupportedFormat(
        path: file.filePath,
        reason: "n_layers \(nLayers), d_model \(dModel) and context \(context) must all be positive")
    }
    if try file.hasAttribute("planned_rows") { plannedRows = Int(try file.int64Attribute("planned_rows")) }
  }
}
