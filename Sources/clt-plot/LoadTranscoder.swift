import CLTFormat
import Foundation
import Plots

/// Reads a clt.h5, naming it in the error when it cannot.
func loadTranscoder(_ path: String) throws -> CLTFile {
  guard FileManager.default.fileExists(atPath: path) else {
    throw PlotError.unreadable(file: path, reason: "no such file; give the clt.h5 clt-fit wrote")
  }
  return try CLTFile.load(url: URL(fileURLWithPath: path))
}
