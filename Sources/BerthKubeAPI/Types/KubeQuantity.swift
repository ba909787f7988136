/// A Kubernetes resource quantity (`500m`, `128Mi`, `1.5Gi`, `1e3`): an exact number with the
/// spelling family it was written in. The apiserver stores quantities in canonical form
/// (`1.5Gi` becomes `1536Mi`, `0.5` becomes `500m`); `canonical` is that form.
public struct KubeQuantity: Sendable, Hashable, CustomStringConvertible {
    /// How the quantity is spelled: binary (`Ki`…`Ei`), decimal SI (`n`…`E`), or a decimal exponent (`e3`).
    public enum Format: Sendable, Hashable {
        case binarySI, decimalSI, decimalExponent
    }

    /// The value in units of 10⁻⁹ (the finest precision Kubernetes keeps; finer values round up).
    public let nanos: Int128
    public let format: Format

    /// The apiserver's error for a spelling that is not a quantity.
    public static let syntaxMessage = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

    public enum ParseError: Error, Equatable {
        /// Not a quantity at all.
        case syntax
        /// A known shape but a suffix or exponent Kubernetes does not accept.
        case suffix
        case tooLarge
    }

    public init(nanos: Int128, format: Format = .decimalSI) {
        self.nanos = nanos
        self.format = format
    }

    public init(_ text: String) throws(ParseError) {
        let scalars = Array(text.unicodeScalars)
        var index = 0
        var negative = false
        if index < scalars.count, scalars[index] == "+" || scalars[index] == "-" {
            negative = scalars[index] == "-"
            index += 1
        }
        var digits: [Int128] = []
        var fractionCount = 0
        var seenPoint = false
        while index < scalars.count, scalars[index] == "." || ("0"..."9").contains(scalars[index]) {
            if scalars[index] == "." {
                guard !seenPoint else { throw .syntax }
                seenPoint = true
            } else {
                digits.append(Int128(scalars[index].value - 48))
                if seenPoint { fractionCount += 1 }
            }
            index += 1
        }
        guard !digits.isEmpty else { throw .syntax }
        let suffix = String(String.UnicodeScalarView(scalars[index...]))
        let decimalSuffixes = ["": 0, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18]
        let binarySuffixes = ["Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60]
        var tens = 9 - fractionCount
        var twos = 0
        if let exponent = decimalSuffixes[suffix] {
            tens += exponent
            format = .decimalSI
        } else if let exponent = binarySuffixes[suffix] {
            twos = exponent
            format = .binarySI
        } else if let first = suffix.first, first == "e" || first == "E", let exponent = Int(suffix.dropFirst()), abs(exponent) < 100 {
            tens += exponent
            format = .decimalExponent
        } else {
            throw suffix.unicodeScalars.allSatisfy({ "eEinumkKMGTP+-0123456789".unicodeScalars.contains($0) }) ? .suffix : .syntax
        }
        // digits × 2^twos × 10^tens in nanos; a remainder below one nano rounds up.
        var value = Int128(0)
        for digit in digits { value = try Self.checked(value * 10 + digit) }
        for _ in 0..<twos { value = try Self.checked(value * 2) }
        if tens >= 0 {
            for _ in 0..<tens { value = try Self.checked(value * 10) }
        } else {
            var divisor = Int128(1)
            for _ in 0..<(-tens) where divisor <= value { divisor *= 10 }
            value = value % divisor == 0 ? value / divisor : value / divisor + 1
        }
        nanos = negative ? -value : value
    }

    private static let limit = Int128(1) << 100

    private static func checked(_ value: Int128) throws(ParseError) -> Int128 {
        guard value < limit else { throw .tooLarge }
        return value
    }

    /// The value rounded up to a whole number (bytes, for memory and storage).
    public var value: Int64 {
        let whole = nanos / 1_000_000_000
        let rounded = nanos % 1_000_000_000 > 0 ? whole + 1 : whole
        return Int64(clamping: rounded)
    }

    /// The value in thousandths, rounded up (millicores, for CPU).
    public var milliValue: Int64 {
        let whole = nanos / 1_000_000
        let rounded = nanos % 1_000_000 > 0 ? whole + 1 : whole
        return Int64(clamping: rounded)
    }

    public var description: String { canonical }

    /// The apiserver's spelling: binary quantities of at least 1024 whole units keep the largest
    /// binary suffix that divides them; everything else is written with the largest power of a
    /// thousand (SI suffix, or `eN` for exponent spellings) that leaves a whole mantissa.
    public var canonical: String {
        if nanos == 0 { return "0" }
        let sign = nanos < 0 ? "-" : ""
        let magnitude = nanos.magnitude
        if format == .binarySI, magnitude % 1_000_000_000 == 0, magnitude / 1_000_000_000 >= 1024 {
            var units = magnitude / 1_000_000_000
            var power = 0
            while power < 6, units % 1024 == 0 {
                units /= 1024
                power += 1
            }
            return "\(sign)\(units)\(["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power])"
        }
        var mantissa = magnitude
        var exponent = -9
        while exponent < 18, mantissa % 1000 == 0 {
            mantissa /= 1000
            exponent += 3
        }
        let suffix: String
        if format == .decimalExponent {
            suffix = exponent == 0 ? "" : "e\(exponent)"
        } else {
            suffix = [-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"][exponent] ?? ""
        }
        return "\(sign)\(mantissa)\(suffix)"
    }
}
