/// A report as a list of blocks, rendered to Markdown (`markdown`) and to a self-contained HTML
/// page (`html`) from the same content, so REPORT.md and REPORT.html never disagree.
public struct ReportDocument: Sendable, Equatable {
  public enum Block: Sendable, Equatable {
    case heading(level: Int, text: String)
    case paragraph(String)
    /// A header row, then the rows; cells are plain text.
    case table(header: [String], rows: [[String]])
    /// An image or SVG picture by relative path, with its caption.
    case image(path: String, caption: String)
    /// Preformatted text (generated continuations, commands).
    case code(String)
    /// Links to files beside the report (the interactive graph pages), as a list.
    case links([(path: String, text: String)])

    public static func == (a: Block, b: Block) -> Bool {
      switch (a, b) {
      case (.heading(let l1, let t1), .heading(let l2, let t2)): return l1 == l2 && t1 == t2
      case (.paragraph(let x), .paragraph(let y)), (.code(let x), .code(let y)): return x == y
      case (.table(let h1, let r1), .table(let h2, let r2)): return h1 == h2 && r1 == r2
      case (.image(let p1, let c1), .image(let p2, let c2)): return p1 == p2 && c1 == c2
      case (.links(let x), .links(let y)):
        return x.map(\.path) == y.map(\.path) && x.map(\.text) == y.map(\.text)
      default: return false
      }
    }
  }

  public var title: String
  public var blocks: [Block] = []

  public init(title: String) { self.title = title }

  public mutating func add(_ block: Block) { blocks.append(block) }

  // MARK: - Markdown

  /// GitHub-flavoured Markdown: pipe tables, images by relative path.
  public var markdown: String {
    var out = "# \(title)\n"
    for block in blocks {
      out += "\n"
      switch block {
      case .heading(let level, let text):
        out += String(repeating: "#", count: min(6, level + 1)) + " \(text)\n"
      case .paragraph(let text):
        out += text + "\n"
      case .table(let header, let rows):
        func row(_ cells: [String]) -> String {
          "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n"
        }
        out += row(header) + row(header.map { _ in "---" }) + rows.map(row).joined()
      case .image(let path, let caption):
        out += "![\(caption)](\(path))\n\n*\(caption)*\n"
      case .code(let text):
        out += "```\n\(text)\n```\n"
      case .links(let links):
        out += links.map { "- [\($0.text)](\($0.path))\n" }.joined()
      }
    }
    return out
  }

  // MARK: - HTML

  /// One HTML page with no external references but the pictures beside it.
  public var html: String {
    var out = """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>\(Self.escape(title))</title>
      <style>
      body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}
      table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}
      th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
      figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}pre{background:#f6f6f6;padding:.5em;white-space:pre-wrap}
      </style></head><body>
      <h1>\(Self.escape(title))</h1>

      """
    for block in blocks {
      switch block {
      case .heading(let level, let text):
        let tag = "h\(min(6, level + 1))"
        out += "<\(tag)>\(Self.escape(text))</\(tag)>\n"
      case .paragraph(let text):
        out += "<p>\(Self.escape(text))</p>\n"
      case .table(let header, let rows):
        out += "<table><tr>" + header.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr>\n"
        for row in rows { out += "<tr>" + row.map { "<td>\(Self.escape($0))</td>" }.joined() + "</tr>\n" }
        out += "</table>\n"
      case .image(let path, let caption):
        out +=
          "<figure><img src=\"\(Self.escape(path))\" alt=\"\(Self.escape(caption))\">"
          + "<figcaption>\(Self.escape(caption))</figcaption></figure>\n"
      case .code(let text):
        out += "<pre>\(Self.escape(text))</pre>\n"
      case .links(let links):
        out +=
          "<ul>"
          + links.map { "<li><a href=\"\(Self.escape($0.path))\">\(Self.escape($0.text))</a></li>" }.joined()
          + "</ul>\n"
      }
    }
    return out + "</body></html>\n"
  }

  /// Escapes the five characters that matter in HTML text and attribute values.
  public static func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for character in text {
      switch character {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&#39;"
      default: out.append(character)
      }
    }
    return out
  }
}
