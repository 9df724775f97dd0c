/// Central differences of a reference function of the flattened parameters, compared with an
/// analytic gradient group by group (`TranscoderTests.Layout` gives the groups' ranges).
struct FiniteDifferences {
  /// Coordinates compared, and those skipped because the step changed `evaluate`'s discrete part.
  var checked = 0
  var skipped = 0
  /// Coordinates whose numeric derivative was not zero.
  var nonzero = 0
  /// Per group, the largest |analytic − numeric| / max(1, |numeric|).
  var worst: [(name: String, error: Double)] = []

  /// `evaluate(p)` returns the value and what it selected (a JumpReLU mask, a top-k choice): where
  /// a step of ±delta changes that, the function has no derivative there and the coordinate is
  /// skipped.
  init(
    parameters p: [Double], analytic: [Double], groups: [(name: String, range: Range<Int>)],
    delta: Double = 1e-4, evaluate: ([Double]) -> (value: Double, selection: [Bool])
  ) {
    for (name, range) in groups {
      var largest: Double = 0
      for index in range {
        var plus = p
        var minus = p
        plus[index] += delta
        minus[index] -= delta
        let (up, down) = (evaluate(plus), evaluate(minus))
        guard up.selection == down.selection else {
          skipped += 1
          continue
        }
        let numeric = (up.value - down.value) / (2 * delta)
        if numeric != 0 { nonzero += 1 }
        largest = max(largest, abs(analytic[index] - numeric) / max(1, abs(numeric)))
        checked += 1
      }
      worst.append((name, largest))
    }
  }
}
