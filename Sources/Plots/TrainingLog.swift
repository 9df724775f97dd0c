import Foundation

/// The metrics lines `clt-fit --log` writes, one per logged step (`StepMetrics.jsonLine`): what the
/// training curves plot.
public struct TrainingLog: Sendable {
  public struct Entry: Sendable {
    public var step: Int
    public var tokens: Int
    public var meanNMSE: Double
    public var meanL0: Double
    /// Per layer.
    public var nmse: [Double]
    public var l0: [Double]
    public var deadFraction: [Double]

    /// The dead fraction averaged over layers.
    public var meanDeadFraction: Double {
      deadFraction.isEmpty ? .nan : deadFraction.reduce(0, +) / Double(deadFraction.count)
    }
  }

  public var entries: [Entry]

  /// The number of layers (the longest per-layer list).
  public var layers: Int { entries.map(\.nmse.count).max() ?? 0 }

  public init(entries: [Entry]) { self.entries = entries }

  /// Reads a metrics file; `null`, `nan` and `inf` values become NaN (gaps in the curves).
  public static func read(_ path: String) throws -> TrainingLog {
    let entries = try JSONLines.objects(path, nonFinite: true).map { line, object -> Entry in
      func number(_ key: String) throws -> Double {
        guard let value = object[key] else {
          throw PlotError.badLine(
            file: path, line: line, reason: "missing field \"\(key)\" (is this a clt-fit --log file?)")
        }
        if value is NSNull { return .nan }
        guard let n = value as? NSNumber else {
          throw PlotError.badLine(file: path, line: line, reason: "field \"\(key)\" is not a number")
        }
        return n.doubleValue
      }
      func list(_ key: String) throws -> [Double] {
        guard let value = object[key] as? [Any] else {
          throw PlotError.badLine(
            file: path, line: line, reason: "missing list \"\(key)\" (is this a clt-fit --log file?)")
        }
        return value.map { ($0 as? NSNumber)?.doubleValue ?? .nan }
      }
      func integer(_ key: String) throws -> Int {
        let value = try number(key)
        guard value.isFinite && abs(value) < 1e18 else {
          throw PlotError.badLine(file: path, line: line, reason: "field \"\(key)\" is not a whole number")
        }
        return Int(value)
      }
      return Entry(
        step: try integer("step"), tokens: try integer("tokens"), meanNMSE: try number("mean_nmse"),
        meanL0: try number("mean_l0"), nmse: try list("nmse"), l0: try list("l0"),
        deadFraction: try list("dead_fraction"))
    }
    guard !entries.isEmpty else { throw PlotError.emptyInput(file: path, what: "metrics lines") }
    return TrainingLog(entries: entries)
  }
}
