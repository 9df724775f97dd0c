import Foundation

/// A linear map from data values (the domain) to picture coordinates (the range), with "nice"
/// ticks: multiples of 1, 2 or 5 times a power of ten, as most plotting libraries choose them.
public struct LinearScale: Sendable {
  public var domain: (Double, Double)
  public var range: (Double, Double)

  public init(domain: (Double, Double), range: (Double, Double)) {
    var (lo, hi) = domain
    if !lo.isFinite || !hi.isFinite { (lo, hi) = (0, 1) }
    if lo == hi { (lo, hi) = lo == 0 ? (0, 1) : (lo - abs(lo) * 0.5, hi + abs(hi) * 0.5) }
    self.domain = (lo, hi)
    self.range = range
  }

  /// The domain of `values` (finite ones), widened to nice tick values; `includeZero` for bars and
  /// for quantities whose zero matters.
  public static func niceDomain(_ values: [Double], includeZero: Bool = false) -> (Double, Double) {
    let finite = values.filter(\.isFinite)
    guard var lo = finite.min(), var hi = finite.max() else { return (0, 1) }
    if includeZero { (lo, hi) = (min(lo, 0), max(hi, 0)) }
    if lo == hi { return lo == 0 ? (0, 1) : (min(lo, 0), max(hi, 0)) }
    let step = niceStep((hi - lo) / 5)
    return ((lo / step).rounded(.down) * step, (hi / step).rounded(.up) * step)
  }

  /// The nice step (1, 2 or 5 × 10^k) nearest above `raw`.
  static func niceStep(_ raw: Double) -> Double {
    guard raw > 0 && raw.isFinite else { return 1 }
    let power = pow(10, (log10(raw)).rounded(.down))
    let fraction = raw / power
    let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
    return nice * power
  }

  public func map(_ value: Double) -> Double {
    let t = (value - domain.0) / (domain.1 - domain.0)
    return range.0 + t * (range.1 - range.0)
  }

  /// About `count` nice ticks inside the domain.
  public func ticks(_ count: Int) -> [Double] {
    let (lo, hi) = (min(domain.0, domain.1), max(domain.0, domain.1))
    let step = Self.niceStep((hi - lo) / Double(max(count, 1)))
    var ticks: [Double] = []
    var tick = (lo / step).rounded(.up) * step
    while tick <= hi + step * 1e-9 && ticks.count < 50 {
      ticks.append(abs(tick) < step * 1e-9 ? 0 : tick)
      tick += step
    }
    return ticks
  }
}
