import Foundation
import OutputFiles

/// Where pictures go: files written atomically (a temporary name in the same folder, then a
/// rename, as clt.h5 and the shards are), so a reader never sees half a picture; PNG copies made by
/// programs Debian ships (`rsvg-convert` for SVG, headless Chromium for the graph page).
public enum PlotOutput {
  /// Writes `text` to `path` atomically (a special file, such as /dev/null, is written in place).
  public static func write(_ text: String, to path: String) throws {
    try OutputTarget(path: path).write(Data(text.utf8))
  }

  /// The first executable named `name` on $PATH (or in /usr/bin), if any.
  public static func program(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for folder in path.split(separator: ":") + ["/usr/bin"] {
      let candidate = "\(folder)/\(name)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }

  /// Headless Chromium, as Debian's `chromium` package installs it.
  public static var chromium: String? { program("chromium") ?? program("chromium-browser") }

  /// Renders the SVG file `svg` to the PNG `png` with librsvg's `rsvg-convert`, atomically.
  public static func png(fromSVG svg: String, to png: String) throws {
    guard let rsvg = program("rsvg-convert") else {
      throw PlotError.externalTool(
        name: "rsvg-convert", reason: "not installed; apt-get install librsvg2-bin, or leave out --png")
    }
    try OutputTarget(path: png).write { temporary in
      try run(rsvg, ["--background-color", "white", "-o", temporary.path, svg], name: "rsvg-convert")
    }
  }

  /// A screenshot of the HTML file `page` by headless Chromium, `width` × `height` pixels.
  public static func screenshot(page: String, to png: String, width: Int = 1600, height: Int = 1000) throws {
    guard let chromium else {
      throw PlotError.externalTool(name: "chromium", reason: "not installed; apt-get install chromium")
    }
    let profile = FileManager.default.temporaryDirectory.appendingPathComponent(
      "clt-plot-chromium-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: profile) }
    try OutputTarget(path: png).write { temporary in
      // Chromium names a screenshot by its extension.
      let shot = temporary.appendingPathExtension("png")
      defer { unlink(shot.path) }
      try run(
        chromium,
        headlessArguments(profile: profile) + [
          "--screenshot=\(shot.path)", "--window-size=\(width),\(height)", "--hide-scrollbars",
          URL(fileURLWithPath: page).absoluteString,
        ], name: "chromium")
      guard Foundation.rename(shot.path, temporary.path) == 0 else {
        throw PlotError.outputFailed(path: png, reason: String(cString: strerror(errno)))
      }
    }
  }

  /// The flags that let Chromium run headless in a container, as root and without a GPU, with a
  /// throw-away profile and no network.
  public static func headlessArguments(profile: URL) -> [String] {
    [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
      "--disable-extensions", "--disable-background-networking", "--user-data-dir=\(profile.path)",
    ]
  }

  /// Runs a program, failing with its stderr when it fails. Returns its stdout.
  @discardableResult
  public static func run(_ path: String, _ arguments: [String], name: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch {
      throw PlotError.externalTool(name: name, reason: "cannot start (\(error.localizedDescription))")
    }
    let collector = Collector()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
      collector.data = err.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    let output = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      let message = String(decoding: collector.data, as: UTF8.self).split(separator: "\n").suffix(3)
        .joined(separator: " ")
      throw PlotError.externalTool(
        name: name, reason: "failed (exit \(process.terminationStatus)): \(message)")
    }
    return String(decoding: output, as: UTF8.self)
  }

  /// Holds what the stderr reader collected; the DispatchGroup orders the access.
  final class Collector: @unchecked Sendable { var data = Data() }
}
