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

/// The pieces SmolLM2's pre-tokenizer makes; the expected pieces are what Hugging Face `tokenizers`
/// gives for `Sequence[Digits(individual_digits: true), ByteLevel(use_regex: true)]` (read back
/// from its byte-level alphabet), so no model file is needed.
@Suite("SmolLM2 pre-tokenizer")
struct SmolLMPreTokenizerTests {
  @Test(
    "each number character is a piece, and GPT-2's pattern splits the text between them",
    arguments: [
      ("12345", ["1", "2", "3", "4", "5"]),
      ("a  1", ["a", "  ", "1"]),
      ("The year 2024!", ["The", " year", " ", "2", "0", "2", "4", "!"]),
      ("x1y", ["x", "1", "y"]),
      ("Ⅻ½² 𝟘𝟙", ["Ⅻ", "½", "²", " ", "𝟘", "𝟙"]),
      ("don't 3's", ["don", "'t", " ", "3", "'s"]),
      ("a 1 b", ["a", " ", "1", " b"]),
      ("   \n 7", ["   \n ", "7"]),
      ("I'M 4'S", ["I", "'", "M", " ", "4", "'", "S"]),
      ("x\u{3000} 9", ["x", "\u{3000} ", "9"]),
      ("tab\t\t8\n", ["tab", "\t\t", "8", "\n"]),
      ("٣٤ abc١", ["٣", "٤", " abc", "١"]),
      ("", []),
    ] as [(String, [String])])
  func pieces(text: String, expected: [String]) {
    #expect(SmolLMPreTokenizer().pieces(text) == expected, "pieces of \(String(reflecting: text))")
    #expect(PreTokenizer.smolLM.pieces(text) == expected)
  }

  @Test("without numbers, SmolLM2's pieces are GPT-2's")
  func sameAsGPT2WithoutNumbers() {
    let text = "Hello  world, it's\tme!\r\n  don't   stop 😀 ünïcödé \u{3000}end  "
    #expect(PreTokenizer.smolLM.pieces(text) == PreTokenizer.gpt2.pieces(text))
    #expect(PreTokenizer.gpt2.pieces(text) == GPT2PreTokenizer().pieces(text))
  }
}
