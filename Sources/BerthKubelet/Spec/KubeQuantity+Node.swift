import BerthKubeAPI

/// What the node computes from quantities: limits, requests and downward-API divisors.
extension KubeQuantity {
    /// The quantity an API spelling names; nil for one that does not parse (admission refuses those).
    static func parsing(_ text: String) -> KubeQuantity? {
        try? KubeQuantity(text)
    }

    init(whole value: Int64) {
        self.init(nanos: Int128(value) * 1_000_000_000)
    }

    var isZero: Bool { nanos == 0 }

    /// How many `divisor`s the quantity holds, rounded up, as the downward API reports resources.
    func dividedRoundingUp(by divisor: KubeQuantity) -> Int64 {
        guard divisor.nanos > 0 else { return 0 }
        let (quotient, remainder) = nanos.quotientAndRemainder(dividingBy: divisor.nanos)
        return Int64(clamping: remainder > 0 ? quotient + 1 : quotient)
    }
}
