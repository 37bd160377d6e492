/// How plain scalars are read as booleans and numbers.
///
/// Resolution is driven by the type being decoded, so `name: no` stays the string "no" for a `String`
/// field. Booleans accept YAML 1.2 core `true`/`false` (three capitalisations) and, because the target is
/// known to be a boolean, YAML 1.1's `yes`/`no`/`on`/`off`. Integers accept decimal, `0x` hex, `0o` octal,
/// `0b` binary and `_` digit separators (`1_000_000`). Floats accept decimal and exponent forms, `.inf`,
/// `-.inf` and `.nan`. Quoted scalars are strings and never resolve to a bool or a number.
enum ScalarResolution {
    enum IntegerResult<T> {
        case value(T)
        case outOfRange
        case notAnInteger
    }

    static func bool(_ text: String) -> Bool? {
        switch text {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: return nil
        }
    }

    static func integer<T: FixedWidthInteger>(_ text: String, as: T.Type) -> IntegerResult<T> {
        var s = Substring(text.filter { $0 != "_" })
        var sign = ""
        if let first = s.first, first == "+" || first == "-" {
            if first == "-" { sign = "-" }
            s = s.dropFirst()
        }
        var radix = 10
        if s.count > 2, s.first == "0" {
            switch s.dropFirst().first {
            case "x", "X": radix = 16
            case "o", "O": radix = 8
            case "b", "B": radix = 2
            default: break
            }
            if radix != 10 { s = s.dropFirst(2) }
        }
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.hexDigitValue.map { $0 < radix } ?? false) }) else {
            return .notAnInteger
        }
        guard let v = T(sign + s, radix: radix) else { return .outOfRange }
        return .value(v)
    }

    /// A float, or nil when the text is not a number; `overflowed` is set when a finite literal does not fit.
    static func floatingPoint<T: BinaryFloatingPoint & LosslessStringConvertible>(
        _ text: String, as: T.Type, overflowed: inout Bool
    ) -> T? {
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        let s = text.filter { $0 != "_" }
        if case .value(let i) = integer(s, as: Int64.self) { return T(i) }
        guard !s.isEmpty,
            s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "." || $0 == "e" || $0 == "E" || $0 == "+" || $0 == "-") }),
            s.contains(where: { $0.isNumber }),
            let v = T(s)
        else { return nil }
        if v.isInfinite { overflowed = true }
        return v
    }
}
