import ActivationShards
import HDF5
import Transcoder

/// The root attributes of clt.h5: how the transcoder was trained and on what model's
/// activations, so that a file can be judged and reproduced on its own.
public struct CLTFileMetadata: Sendable, Equatable {
  /// The clt.h5 layout this code writes and reads; attribute `format_version`.
  public static let formatVersion: Int64 = 2
  /// The layout of a transcoder with a skip connection (`W_skip_{l}`): version 2 plus those
  /// datasets. A file with them says 3, so that a build which reads only 2 refuses it instead of
  /// dropping the skip term without a word.
  public static let skipFormatVersion: Int64 = 3

  public var nLayers: Int
  public var dModel: Int
  public var features: Int
  /// "jumprelu", "topk" or "batchtopk" (`CLTActivationFunction`).
  public var activation: String
  /// The run's hyper-parameters (λ is its final value).
  public var configuration: TrainingConfiguration
  /// Tokens trained on and steps taken.
  public var tokensSeen: Int
  public var steps: Int
  /// The source model, copied from the shards: architecture, model, model_sha256, input_tap, output_tap.
  public var architecture: String
  public var model: String
  public var modelSHA256: String
  public var inputTap: String
  public var outputTap: String
  /// Tool and version, e.g. "clt-fit 0.1.0".
  public var createdBy: String

  public init(
    shards: ShardMetadata, features: Int, configuration: TrainingConfiguration, tokensSeen: Int, steps: Int,
    createdBy: String
  ) {
    nLayers = shards.nLayers
    dModel = shards.dModel
    self.features = features
    activation = configuration.activation.rawValue
    self.configuration = configuration
    self.tokensSeen = tokensSeen
    self.steps = steps
    architecture = shards.architecture
    model = shards.model
    modelSHA256 = shards.modelSHA256
    inputTap = shards.inputTap
    outputTap = shards.outputTap
    self.createdBy = createdBy
  }

  func write(to file: HDF5File) throws {
    let c = configuration
    try file.setAttribute("format_version", c.skipConnection ? Self.skipFormatVersion : Self.formatVersion)
    try file.setAttribute("n_layers", Int64(nLayers))
    try file.setAttribute("d_model", Int64(dModel))
    try file.setAttribute("features", Int64(features))
    try file.setAttribute("activation", activation)
    try file.setAttribute("lambda", Double(c.coefficients.sparsity))
    try file.setAttribute("tanh_scale", Double(c.coefficients.tanhScale))
    try file.setAttribute("preact_lambda", Double(c.coefficients.preActivation))
    try file.setAttribute("bandwidth", Double(c.coefficients.bandwidth))
    try file.setAttribute("auxk_coefficient", Double(c.coefficients.auxiliary))
    try file.setAttribute("auxk_k", Int64(c.auxK))
    try file.setAttribute("learning_rate", Double(c.learningRate))
    try file.setAttribute("warmup_steps", Int64(c.warmupSteps))
    try file.setAttribute("decay_fraction", c.decayFraction)
    try file.setAttribute("gradient_clip", Double(c.gradientClip))
    try file.setAttribute("clip_previous_norm", Int64(c.clipByPreviousNorm ? 1 : 0))
    try file.setAttribute("batch", Int64(c.batch))
    try file.setAttribute("planned_steps", Int64(c.steps))
    try file.setAttribute("shuffle_rows", Int64(c.shuffleRows))
    try file.setAttribute("k", Int64(c.k))
    try file.setAttribute("initial_l0", c.initialL0)
    try file.setAttribute("dead_window", Int64(c.deadWindow))
    try file.setAttribute("layer_weight_exponent", c.layerWeightExponent)
    try file.setAttribute("outlier_factor", c.outlierFactor)
    try file.setAttribute("seed", Int64(bitPattern: c.seed))
    try file.setAttribute("initialization", c.initialization.rawValue)
    try file.setAttribute("steps", Int64(steps))
    try file.setAttribute("tokens_seen", Int64(tokensSeen))
    try file.setAttribute("architecture", architecture)
    try file.setAttribute("model", model)
    try file.setAttribute("model_sha256", modelSHA256)
    try file.setAttribute("input_tap", inputTap)
    try file.setAttribute("output_tap", outputTap)
    try file.setAttribute("created_by", createdBy)
  }

  /// Reads the root attributes, checking the format version and that the sizes are positive and
  /// fit the file. A shard is recognised first, since its own format_version would otherwise read
  /// as a version of this format.
  init(file: HDF5File) throws {
    if ShardMetadata.describes(file) { throw CLTFileError.shardGiven(path: file.filePath) }
    let version = try file.int64Attribute("format_version")
    guard version == Self.formatVersion || version == Self.skipFormatVersion else {
      throw CLTFileError.unsupportedTranscoder(
        path: file.filePath,
        reason:
          "format_version is \(version); this build reads \(Self.formatVersion) and \(Self.skipFormatVersion)"
      )
    }
    func int(_ name: String) throws -> Int { Int(try file.int64Attribute(name)) }
    func float(_ name: String) throws -> Float { Float(try file.doubleAttribute(name)) }
    var c = TrainingConfiguration(
      features: try int("features"), batch: try int("batch"), steps: try int("planned_steps"),
      learningRate: try float("learning_rate"), warmupSteps: try int("warmup_steps"),
      decayFraction: try file.doubleAttribute("decay_fraction"),
      coefficients: CLTLossCoefficients(
        sparsity: try float("lambda"), tanhScale: try float("tanh_scale"),
        preActivation: try float("preact_lambda"), bandwidth: try float("bandwidth")),
      gradientClip: try float("gradient_clip"), deadWindow: try int("dead_window"),
      shuffleRows: try int("shuffle_rows"), k: try int("k"), initialL0: try file.doubleAttribute("initial_l0")
    )
    c.seed = UInt64(bitPattern: try file.int64Attribute("seed"))
    c.skipConnection = version == Self.skipFormatVersion
    // Files written before AuxK have neither attribute: they were trained without it.
    if try file.hasAttribute("auxk_coefficient") { c.coefficients.auxiliary = try float("auxk_coefficient") }
    if try file.hasAttribute("auxk_k") { c.auxK = try int("auxk_k") }
    // Files written before it clipped each step by its own norm.
    if try file.hasAttribute("clip_previous_norm") {
      c.clipByPreviousNorm = try int("clip_previous_norm") != 0
    }
    // Files written before the layer weights were trained with every layer weighted alike.
    if try file.hasAttribute("layer_weight_exponent") {
      c.layerWeightExponent = try file.doubleAttribute("layer_weight_exponent")
    }
    // Files written before outlier tokens were set apart let every token set the scales.
    if try file.hasAttribute("outlier_factor") {
      c.outlierFactor = try file.doubleAttribute("outlier_factor")
    }
    // Files written before the features were seeded from tokens started from random values.
    c.initialization = .random
    if try file.hasAttribute("initialization") {
      let name = try file.stringAttribute("initialization")
      guard let initialization = FeatureInitialization(rawValue: name) else {
        throw CLTFileError.unsupportedTranscoder(
          path: file.filePath, reason: "initialization '\(name)' is not one of tokens, random")
      }
      c.initialization = initialization
    }
    nLayers = try int("n_layers")
    dModel = try int("d_model")
    features = c.features
    activation = try file.stringAttribute("activation")
    guard let kind = CLTActivationFunction(rawValue: activation) else {
      throw CLTFileError.unsupportedTranscoder(
        path: file.filePath, reason: "activation '\(activation)' is not one of jumprelu, topk, batchtopk")
    }
    c.activation = kind
    configuration = c
    tokensSeen = try int("tokens_seen")
    steps = try int("steps")
    architecture = try file.stringAttribute("architecture")
    model = try file.stringAttribute("model")
    modelSHA256 = try file.stringAttribute("model_sha256")
    inputTap = try file.stringAttribute("input_tap")
    outputTap = try file.stringAttribute("output_tap")
    createdBy = try file.stringAttribute("created_by")
    try checkSizes(file)
  }

  /// The sizes come from the file and size every buffer a reader allocates: they must be positive,
  /// and the float32 encoders and decoders they describe ((L + L(L+1)/2) matrices of F × d) must be
  /// in the file, or a damaged attribute would ask for terabytes.
  private func checkSizes(_ file: HDF5File) throws {
    guard nLayers > 0, dModel > 0, features > 0 else {
      throw CLTFileError.unsupportedTranscoder(
        path: file.filePath,
        reason: "n_layers \(nLayers), d_model \(dModel) and features \(features) must all be positive")
    }
    if configuration.activation == .topK && configuration.k < 1 {
      throw CLTFileError.unsupportedTranscoder(
        path: file.filePath, reason: "a topk transcoder has k \(configuration.k); k must be at least 1")
    }
    // L(L+3)/2 matrices (L encoders, L(L+1)/2 decoders); an L beyond 2^31 is damage on its own.
    let matrices = nLayers < 1 << 31 ? nLayers * (nLayers + 3) / 2 : Int.max
    let bytes = [matrices, features, dModel, MemoryLayout<Float>.size].reduce(Int?(1)) { total, factor in
      total.flatMap { total in
        let (product, overflow) = total.multipliedReportingOverflow(by: factor)
        return overflow ? nil : product
      }
    }
    if let fileBytes = file.sizeOnDisk, bytes.map({ $0 > fileBytes }) ?? true {
      throw CLTFileError.unsupportedTranscoder(
        path: file.filePath,
        reason: "its attributes describe \(nLayers) layers of \(features) features of width \(dModel), "
          + "more weights than the file's \(fileBytes) bytes hold; the file is truncated or damaged")
    }
  }
}
