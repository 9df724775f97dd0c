import ArgumentParser

// The checks a tool's `validate()` makes of its numeric options. Each throws a `ValidationError`
// that names the option, what it must be and what was given ("--features must be at least 1,
// got -5"), so ArgumentParser prints one line and exits with status 64 before any work starts.
// A nil value (an optional option not given) passes every check.
//
// A negative number only reaches these checks when its option is declared with
// `parsing: .unconditional`: otherwise ArgumentParser takes `-5` for a flag and reports a
// missing value.

/// Throws unless `value` is at least `minimum`; `because` says where the bound comes from
/// ("BOS and one token", "--batch").
public func require<T: BinaryInteger>(
  _ value: T?, atLeast minimum: T, _ option: String, because reason: String? = nil
) throws {
  guard let value, value < minimum else { return }
  throw ValidationError("\(option) must be at least \(minimum)\(note(reason)), got \(value)")
}

/// Throws unless `value` is at most `maximum`; `because` says where the bound comes from.
public func require<T: BinaryInteger>(
  _ value: T?, atMost maximum: T, _ option: String, because reason: String? = nil
) throws {
  guard let value, value > maximum else { return }
  throw ValidationError("\(option) must be at most \(maximum)\(note(reason)), got \(value)")
}

/// Throws unless `value` is a finite number (not inf or nan) within the bounds given: greater than
/// `above`, at least `atLeast`, at most `atMost`.
public func requireFinite<T: BinaryFloatingPoint & LosslessStringConvertible>(
  _ value: T?, _ option: String, above lower: T? = nil, atLeast minimum: T? = nil, atMost maximum: T? = nil
) throws {
  guard let value else { return }
  guard value.isFinite else { throw ValidationError("\(option) must be a finite number, got \(value)") }
  if let lower, value <= lower {
    throw ValidationError("\(option) must be greater than \(format(lower)), got \(value)")
  }
  if let minimum, value < minimum {
    throw ValidationError("\(option) must be at least \(format(minimum)), got \(value)")
  }
  if let maximum, value > maximum {
    throw ValidationError("\(option) must be at most \(format(maximum)), got \(value)")
  }
}

/// " (reason)", or nothing.
private func note(_ reason: String?) -> String { reason.map { " (\($0))" } ?? "" }

/// A bound as a user would write it: 0 rather than 0.0.
private func format<T: BinaryFloatingPoint & LosslessStringConvertible>(_ bound: T) -> String {
  bound == bound.rounded() && abs(bound) < 1e15 ? String(Int64(bound)) : String(bound)
}
