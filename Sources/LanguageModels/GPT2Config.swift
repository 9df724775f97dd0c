import Foundation

/// GPT-2's hyper-parameters, decoded from a Hugging Face `config.json` (the coding keys are the
/// checkpoint's own names), so that every size (small, medium, large, xl, distilgpt2) loads.
public struct GPT2Config: Codable, Sendable, Equatable {
  public var vocabSize: Int
  public var nPositions: Int
  public var nEmbd: Int
  public var nLayer: Int
  public var nHead: Int
  /// MLP width; nil in config.json means 4 · nEmbd.
  public var nInner: Int?
  public var layerNormEpsilon: Float
  public var activationFunction: String
  public var scaleAttnWeights: Bool
  public var scaleAttnByInverseLayerIdx: Bool

  enum CodingKeys: String, CodingKey {
    case vocabSize = "vocab_size"
    case nPositions = "n_positions"
    case nEmbd = "n_embd"
    case nLayer = "n_layer"
    case nHead = "n_head"
    case nInner = "n_inner"
    case layerNormEpsilon = "layer_norm_epsilon"
    case activationFunction = "activation_function"
    case scaleAttnWeights = "scale_attn_weights"
    case scaleAttnByInverseLayerIdx = "scale_attn_by_inverse_layer_idx"
  }

  public init(
    vocabSize: Int = 50257, nPositions: Int = 1024, nEmbd: Int = 768, nLayer: Int = 12, nHead: Int = 12,
    nInner: Int? = nil, layerNormEpsilon: Float = 1e-5, activationFunction: String = "gelu_new",
    scaleAttnWeights: Bool = true, scaleAttnByInverseLayerIdx: Bool = false
  ) {
    self.vocabSize = vocabSize
    self.nPositions = nPositions
    self.nEmbd = nEmbd
    self.nLayer = nLayer
    self.nHead = nHead
    self.nInner = nInner
    self.layerNormEpsilon = layerNormEpsilon
    self.activationFunction = activationFunction
    self.scaleAttnWeights = scaleAttnWeights
    self.scaleAttnByInverseLayerIdx = scaleAttnByInverseLayerIdx
  }

  /// Missing optional keys take GPT-2's defaults, as transformers' GPT2Config does.
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = GPT2Config()
    vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? d.vocabSize
    nPositions = try c.decodeIfPresent(Int.self, forKey: .nPositions) ?? d.nPositions
    nEmbd = try c.decodeIfPresent(Int.self, forKey: .nEmbd) ?? d.nEmbd
    nLayer = try c.decodeIfPresent(Int.self, forKey: .nLayer) ?? d.nLayer
    nHead = try c.decodeIfPresent(Int.self, forKey: .nHead) ?? d.nHead
    nInner = try c.decodeIfPresent(Int.self, forKey: .nInner)
    layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? d.layerNormEpsilon
    activationFunction =
      try c.decodeIfPresent(String.self, forKey: .activationFunction) ?? d.activationFunction
    scaleAttnWeights = try c.decodeIfPresent(Bool.self, forKey: .scaleAttnWeights) ?? true
    scaleAttnByInverseLayerIdx =
      try c.decodeIfPresent(Bool.self, forKey: .scaleAttnByInverseLayerIdx) ?? false
  }

  /// The MLP's hidden width.
  public var mlpWidth: Int { nInner ?? 4 * nEmbd }
  public var headDim: Int { nEmbd / nHead }

  /// Reads and checks `config.json`.
  public static func load(from url: URL) throws -> GPT2Config {
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw LanguageModelError.missingFile(
        path: url.path, hint: "a GPT-2 checkpoint folder holds config.json and model.safetensors")
    }
    let config: GPT2Config
    do {
      config = try JSONDecoder().decode(GPT2Config.self, from: data)
    } catch {
      throw LanguageModelError.invalidConfig(
        path: url.path, detail: "not a valid GPT-2 config.json (\(error))")
    }
    try config.validate(path: url.path)
    return config
  }

  /// Checks the dimensions make sense and the activation is one this implementation computes.
  public func validate(path: String) throws {
    guard vocabSize > 0, nPositions > 0, nEmbd > 0, nLayer > 0, nHead > 0, mlpWidth > 0 else {
      throw LanguageModelError.invalidConfig(path: path, detail: "every dimension must be positive")
    }
    guard nEmbd % nHead == 0 else {
      throw LanguageModelError.invalidConfig(
        path: path, detail: "n_embd \(nEmbd) is not divisible by n_head \(nHead)")
    }
    guard ["gelu_new", "gelu_pytorch_tanh"].contains(activationFunction) else {
      throw LanguageModelError.invalidConfig(
        path: path,
        detail: "activation_function '\(activationFunction)' is not supported (GPT-2 uses gelu_new)")
    }
  }
}
