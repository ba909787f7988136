import Foundation

/// A resource quantity as the API spells it (`500m`, `128Mi`, `1.5Gi`, `2e3`), read exactly as a
/// decimal number; what the node computes from limits, requests and downward-API divisors.
struct ResourceQuantity: Sendable, Equatable, Comparable {
    let value: Decimal

    init(_ value: Decimal) {
        self.value = value
    }

    init?(_ text: String) {
        let text = text.trimmingCharacters(in: .whitespaces)
        let numberEnd = text.firstIndex { !($0.isNumber || $0 == "." || $0 == "+" || $0 == "-") } ?? text.endIndex
        let number = String(text[..<numberEnd])
        let suffix = String(text[numberEnd...])
        guard !number.isEmpty, let base = Decimal(string: number, locale: Locale(identifier: "en_US_POSIX")) else { return nil }
        let binary: [String: Int] = ["Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60]
        let decimal: [String: Int] = ["n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18]
        if let power = binary[suffix] {
            value = base * Self.power(2, power)
        } else if let exponent = decimal[suffix] {
            value = base * Self.power(10, exponent)
        } else if let first = suffix.first, first == "e" || first == "E", let exponent = Int(suffix.dropFirst()) {
            value = base * Self.power(10, exponent)
        } else {
            return nil
        }
    }

    private static func power(_ base: Int, _ exponent: Int) -> Decimal {
        exponent >= 0 ? pow(Decimal(base), exponent) : 1 / pow(Decimal(base), -exponent)
    }

    static func < (lhs: ResourceQuantity, rhs: ResourceQuantity) -> Bool { lhs.value < rhs.value }

    var isZero: Bool { value == 0 }

    /// The value in thousandths, rounded up (CPU in millicores).
    var milliValue: Int64 { Self.ceiling(value * 1000) }

    /// The value, rounded up (memory in bytes).
    var integerValue: Int64 { Self.ceiling(value) }

    /// How many `divisor`s the value holds, rounded up, as the downward API reports resources.
    func dividedRoundingUp(by divisor: ResourceQuantity) -> Int64 {
        divisor.isZero ? 0 : Self.ceiling(value / divisor.value)
    }

    static func ceiling(_ value: Decimal) -> Int64 {
        var input = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &input, 0, .up)
        return NSDecimalNumber(decimal: rounded).int64Value
    }
}
