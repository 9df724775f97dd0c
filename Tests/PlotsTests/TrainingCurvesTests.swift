import Foundation
import Plots
import Testing

/// Training curves from clt-fit --log lines.
@Suite struct TrainingCurvesTests {
  @Test("one polyline per series (3 means + one per layer), each with a point per log line")
  func curves() throws {
    let dir = try PlotFixtures.directory("curves")
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try PlotFixtures.write(PlotFixtures.metricsLines(7), "metrics.jsonl", in: dir)
    let log = try TrainingLog.read(path)
    #expect(log.entries.count == 7 && log.layers == 3)
    let svg = try SVGInspector(TrainingCurves(log: log, source: path).svg())
    svg.expectPicture()
    let lines = svg.all("polyline", className: "series")
    #expect(lines.count == 3 + 3)
    #expect(
      lines.map { $0.attributes["data-series"] ?? "" }
        == ["mean NMSE", "mean L0", "dead fraction", "layer 0", "layer 1", "layer 2"])
    for line in lines {
      let points = (line.attributes["points"] ?? "").split(separator: " ")
      #expect(points.count == 7, "\(line.attributes["data-series"] ?? "") has a point per log line")
    }
    #expect(svg.all("text", className: "axis-title").contains { $0.text == "tokens seen" })
    #expect(svg.all("text", className: "chart-title").count == 4)
  }

  @Test("nan and inf in a log line are gaps, not errors; a line of another format is named")
  func nonFinite() throws {
    let dir = try PlotFixtures.directory("curves-nan")
    defer { try? FileManager.default.removeItem(at: dir) }
    let text = PlotFixtures.metricsLines(3).replacingOccurrences(
      of: "\"mean_nmse\": 0.5,", with: "\"mean_nmse\": nan,")
    #expect(text.contains("nan"))
    let path = try PlotFixtures.write(text, "metrics.jsonl", in: dir)
    let log = try TrainingLog.read(path)
    #expect(log.entries[1].meanNMSE.isNaN)
    let svg = try SVGInspector(TrainingCurves(log: log, x: .step, source: path).svg())
    let mean = svg.all("polyline", className: "series")[0]
    #expect((mean.attributes["points"] ?? "").split(separator: " ").count == 2)
    let other = try PlotFixtures.write("{\"doc\": 0}\n", "other.jsonl", in: dir)
    #expect(throws: PlotError.self) { try TrainingLog.read(other) }
    do {
      _ = try TrainingLog.read(other)
    } catch {
      #expect(error.localizedDescription.hasPrefix("\(other):1: missing field"))
    }
  }

  @Test("nice ticks are 1, 2 or 5 times a power of ten, and labels are short")
  func ticks() {
    let ticks = LinearScale(domain: (0, 0.93), range: (0, 100)).ticks(5)
    #expect(ticks.first == 0 && ticks.count == 5, "\(ticks)")
    for (a, b) in zip(ticks, ticks.dropFirst()) { #expect(abs(b - a - 0.2) < 1e-9) }
    let domain = LinearScale.niceDomain([0.13, 0.87])
    #expect(abs(domain.0) < 1e-12 && abs(domain.1 - 1) < 1e-12, "\(domain)")
    #expect(Axis.label(1_500_000) == "1.5M" && Axis.label(20_000) == "20k" && Axis.label(0.25) == "0.25")
  }
}
