import Testing

@testable import Tokenizers

/// The pieces GPT-2's regex makes, for the corners the scanner has to get right.
@Suite("GPT-2 pre-tokenizer")
struct PreTokenizerTests {
  @Test(
    "pieces follow the GPT-2 pattern",
    arguments: [
      ("Hello world", ["Hello", " world"]),
      ("don't I'M it'S", ["don", "'t", " I", "'", "M", " it", "'", "S"]),
      ("we're you've I'll he'd 'ss", ["we", "'re", " you", "'ve", " I", "'ll", " he", "'d", " '", "ss"]),
      ("a  b", ["a", " ", " b"]),
      ("a   \n  b", ["a", "   \n ", " b"]),
      ("a\n\nb", ["a", "\n", "\n", "b"]),
      ("a\tb", ["a", "\t", "b"]),
      ("end   ", ["end", "   "]),
      (" 123 4x", [" 123", " 4", "x"]),
      ("x!!! ?y", ["x", "!!!", " ?", "y"]),
      ("é e\u{301}", ["é", " e", "\u{301}"]),
      ("a\u{00A0}b", ["a", "\u{00A0}", "b"]),
      ("a \u{3000}b", ["a", " ", "\u{3000}", "b"]),
      ("a\u{2028}\u{2028}b", ["a", "\u{2028}", "\u{2028}", "b"]),
      ("r\r\nx", ["r", "\r", "\n", "x"]),
      ("Ⅻ½² 😀👍🏽", ["Ⅻ½²", " 😀👍🏽"]),
      ("\u{200B}a", ["\u{200B}", "a"]),
    ] as [(String, [String])])
  func pieces(text: String, expected: [String]) {
    #expect(GPT2PreTokenizer().pieces(text) == expected, "pieces of \(String(reflecting: text))")
  }

  @Test("every scalar falls in the class the regex gives it")
  func classes() {
    #expect(GPT2PreTokenizer.classify("a") == .letter)
    #expect(GPT2PreTokenizer.classify("ʰ") == .letter, "modifier letters are \\p{L}")
    #expect(GPT2PreTokenizer.classify("中") == .letter)
    #expect(GPT2PreTokenizer.classify("٣") == .number)
    #expect(GPT2PreTokenizer.classify("Ⅻ") == .number, "letter numbers are \\p{N}")
    #expect(GPT2PreTokenizer.classify("\u{0085}") == .whitespace, "NEL is White_Space")
    #expect(GPT2PreTokenizer.classify("\u{200B}") == .other, "zero-width space is not White_Space")
    #expect(GPT2PreTokenizer.classify("\u{301}") == .other, "combining marks are neither letters nor numbers")
  }
}
