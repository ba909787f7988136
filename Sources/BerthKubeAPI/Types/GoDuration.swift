/// Durations in the text form Kubernetes' Go code gives them (Metrics API windows, the kubelet's
/// event messages).
extension Duration {
    /// As Go's `time.Duration.String()` writes it: `10.5s`, `1m0.25s`, `750ms`, `0s`.
    public var goDescription: String {
        let (seconds, attoseconds) = components
        var nanos = Int128(seconds) * 1_000_000_000 + Int128(attoseconds / 1_000_000_000)
        if nanos == 0 { return "0s" }
        let sign = nanos < 0 ? "-" : ""
        if nanos < 0 { nanos = -nanos }
        func fraction(_ value: Int128, _ digits: Int) -> String {
            // `value` in units of 10^-digits, with trailing zeros of the fraction removed.
            var unit = Int128(1)
            for _ in 0..<digits { unit *= 10 }
            let whole = value / unit
            var rest = String(value % unit)
            rest = String(repeating: "0", count: digits - rest.count) + rest
            while rest.hasSuffix("0") { rest.removeLast() }
            return rest.isEmpty ? "\(whole)" : "\(whole).\(rest)"
        }
        if nanos < 1000 { return "\(sign)\(nanos)ns" }
        if nanos < 1_000_000 { return "\(sign)\(fraction(nanos, 3))µs" }
        if nanos < 1_000_000_000 { return "\(sign)\(fraction(nanos, 6))ms" }
        let hours = nanos / 3_600_000_000_000
        let minutes = nanos / 60_000_000_000 % 60
        let secondsPart = fraction(nanos % 60_000_000_000, 9) + "s"
        if hours > 0 { return "\(sign)\(hours)h\(minutes)m\(secondsPart)" }
        if minutes > 0 { return "\(sign)\(minutes)m\(secondsPart)" }
        return sign + secondsPart
    }
}
