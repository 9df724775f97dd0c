import Foundation

/// What one experiment's pipeline left in results/NAME/: its variants (each a folder with a
/// clt.h5), the stage timings and the provenance record.
public struct ExperimentResults {
  public let name: String
  public let folder: URL
  public let variants: [VariantResults]
  /// Seconds per pipeline stage, in the order they ran (timings.tsv: seconds, tab, target).
  public let timings: [(stage: String, seconds: Double)]
  let provenance: JSONFile?

  public init(folder: URL) throws {
    self.folder = folder
    name = folder.lastPathComponent
    let entries = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    variants = try entries.compactMap { entry in
      let sub = folder.appendingPathComponent(entry)
      guard FileManager.default.fileExists(atPath: sub.appendingPathComponent("clt.h5").path) else {
        return nil
      }
      return try VariantResults(name: entry, folder: sub)
    }
    guard !variants.isEmpty else { throw ReportError.noResults(path: folder.path) }
    provenance = try JSONFile.load(folder.appendingPathComponent("provenance.json"))
    let timingText =
      (try? String(contentsOf: folder.appendingPathComponent("timings.tsv"), encoding: .utf8)) ?? ""
    timings = timingText.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: "\t", maxSplits: 1)
      guard fields.count == 2, let seconds = Double(fields[0]) else { return nil }
      return (String(fields[1]), seconds)
    }
  }

  /// The provenance record flattened to key/value rows ("inputs.model.sha256" → value).
  public var provenanceRows: [(key: String, value: String)] {
    guard let provenance else { return [] }
    var rows: [(String, String)] = []
    func walk(_ value: Any, _ key: String) {
      if let object = value as? [String: Any] {
        for name in object.keys.sorted() { walk(object[name]!, key.isEmpty ? name : "\(key).\(name)") }
      } else if let list = value as? [Any] {
        rows.append((key, list.map { "\($0)" }.joined(separator: ", ")))
      } else {
        rows.append((key, "\(value)"))
      }
    }
    walk(provenance.object, "")
    return rows
  }
}
