/// Cuts a stream of documents into the model's input windows.
///
/// Documents are joined as GPT-2 saw them in training, each followed by `<|endoftext|>`; the
/// stream is cut into consecutive chunks of `context - 1` tokens and every window is
/// `[<|endoftext|>] + chunk`, so each starts from the same BOS state. The last, shorter chunk
/// becomes a shorter window (nothing is dropped) when it holds at least one token.
public struct TokenWindows {
  public let context: Int
  public let bos: Int32
  private var pending: [Int32] = []
  private var start = 0

  /// - Parameters:
  ///   - context: tokens per window, BOS included (at least 2).
  ///   - bos: the `<|endoftext|>` id.
  public init(context: Int, bos: Int32) {
    precondition(context >= 2, "a window needs room for BOS and one token")
    self.context = context
    self.bos = bos
  }

  /// Appends a document's ids (without separators) to the stream.
  public mutating func add(document ids: [Int32]) {
    pending.append(contentsOf: ids)
    pending.append(bos)
  }

  /// The next full window, if the stream holds enough tokens.
  public mutating func nextFullWindow() -> [Int32]? {
    let chunk = context - 1
    guard pending.count - start >= chunk else { return nil }
    let window = [bos] + pending[start..<start + chunk]
    start += chunk
    if start > 1 << 16 {  // drop consumed tokens now and then, not on every window
      pending.removeFirst(start)
      start = 0
    }
    return window
  }

  /// The remaining tokens as one shorter window, once the input has ended.
  public mutating func finalWindow() -> [Int32]? {
    guard pending.count > start else { return nil }
    let window = [bos] + pending[start...]
    pending.removeAll()
    start = 0
    return window
  }
}
