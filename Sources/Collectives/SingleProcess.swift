import Foundation

/// The group of one: what a process launched without mpirun trains with. Every reduction over one
/// rank leaves the values as they are, so each collective returns at once and the training loop
/// runs exactly as it did before there were several processes.
public final class SingleProcess: Communicator {
  public init() {}

  public var rank: Int { 0 }
  public var size: Int { 1 }
  public func sum(_ values: UnsafeMutablePointer<Float>, count: Int) {}
  public func sum(_ values: UnsafeMutablePointer<Double>, count: Int) {}
  public func sum(_ values: UnsafeMutablePointer<Int64>, count: Int) {}
  public func minimum(_ values: UnsafeMutablePointer<Int64>, count: Int) {}
  public func maximum(_ values: UnsafeMutablePointer<Int64>, count: Int) {}
  public func maximum(_ values: UnsafeMutablePointer<UInt8>, count: Int) {}

  public func gather(_ local: UnsafePointer<Float>, count: Int, into gathered: UnsafeMutablePointer<Float>) {
    gathered.update(from: local, count: count)
  }

  public func collect(_ local: UnsafePointer<Float>, count: Int, into gathered: UnsafeMutablePointer<Float>?)
  {
    gathered?.update(from: local, count: count)
  }

  public func abort(code: Int32) -> Never { exit(code) }
}
