import Kernels
import Transcoder

/// Per layer the sums a step's metrics are made of (`CLTTrainer`'s NMSE, explained variance, L0
/// and firing counts), kept as sums so that the processes of a run can add theirs up
/// (`TrainingMode.combine`) before the ratios are taken.
struct BatchSums {
  /// Per layer, 2d + 3 values: [Σ‖y‖², Σy (d), Σ‖ŷ − y‖², Σ(ŷ − y) (d), active pairs].
  var layers: [[Double]]
  /// Per layer and feature, the tokens it fired on.
  var firing: [[Int64]]
  let dModel: Int

  /// Where in a layer's sums its count of active (token, feature) pairs sits.
  var activePairsIndex: Int { 2 * dModel + 2 }

  /// This process's sums over its rows and features: `targets` y[l] (N, d), the activations of
  /// the same step.
  init(_ act: CLTActivations, targets: [FloatBuffer], dModel d: Int) {
    let n = act.tokens
    dModel = d
    layers = []
    firing = []
    for l in 0..<act.nLayers {
      let y = targets[l].pointer
      var sums = [Double](repeating: 0, count: d)
      var squares: Double = 0
      for t in 0..<n {
        for j in 0..<d {
          let v = Double(y[t * d + j])
          sums[j] += v
          squares += v * v
        }
      }
      var layer = [squares] + sums + [act.squaredErrors[l]] + act.residualSums[l]
      layer.append(Double(act.activeCount(layer: l)))
      layers.append(layer)
      firing.append(act.firingCounts[l].map(Int64.init))
    }
  }
}
