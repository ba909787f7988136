import Foundation

/// Go's number formatting (strconv and encoding/json), on Swift's shortest round-trip digits.
enum GoNumbers {
    /// The shortest decimal digits of `value` (finite, not zero) and the position of the decimal
    /// point: value = 0.d₁d₂… × 10^point.
    static func shortest(_ value: Double) -> (digits: [Character], point: Int) {
        let text = "\(abs(value))"
        let parts = text.split(separator: "e", maxSplits: 1)
        let exponent = parts.count == 2 ? Int(parts[1]) ?? 0 : 0
        let mantissa = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        let integer = Array(mantissa[0])
        var digits = integer + (mantissa.count > 1 ? Array(mantissa[1]) : [])
        var point = integer.count + exponent
        while digits.first == "0" { digits.removeFirst(); point -= 1 }
        while digits.last == "0" { digits.removeLast() }
        return (digits, point)
    }

    /// strconv.FormatFloat(value, 'g', -1, 64), which fmt's %v uses.
    static func shortestG(_ value: Double) -> String {
        if let special = special(value) { return special }
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        let (digits, point) = shortest(value)
        // Shortest 'g' switches to an exponent below 1e-4 and from 1e6 (strconv's eprec of 6).
        let exponent = point - 1
        if exponent < -4 || exponent >= 6 { return sign(value) + exponential(digits, exponent) }
        return sign(value) + fixed(digits, point)
    }

    /// encoding/json's float encoding: fixed notation, exponential below 1e-6 and from 1e21.
    static func jsonFloat(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == 0 { return "0" }
        let (digits, point) = shortest(value)
        let magnitude = abs(value)
        guard magnitude < 1e-6 || magnitude >= 1e21 else { return sign(value) + fixed(digits, point) }
        var text = exponential(digits, point - 1)
        // Go trims a leading zero from a negative two-digit exponent: 1e-07 → 1e-7.
        if let range = text.range(of: "e-0") { text.replaceSubrange(range, with: "e-") }
        return sign(value) + text
    }

    static func special(_ value: Double) -> String? {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        return nil
    }

    private static func sign(_ value: Double) -> String { value.sign == .minus ? "-" : "" }

    private static func exponential(_ digits: [Character], _ exponent: Int) -> String {
        var text = String(digits[0])
        if digits.count > 1 { text += "." + String(digits[1...]) }
        let magnitude = abs(exponent)
        return text + (exponent < 0 ? "e-" : "e+") + (magnitude < 10 ? "0" : "") + String(magnitude)
    }

    private static func fixed(_ digits: [Character], _ point: Int) -> String {
        if point <= 0 { return "0." + String(repeating: "0", count: -point) + String(digits) }
        if point >= digits.count { return String(digits) + String(repeating: "0", count: point - digits.count) }
        return String(digits[..<point]) + "." + String(digits[point...])
    }
}

/// Go's fmt, for the verbs templates use: `printf`, `print`, `println` and the printing of values.
enum GoFormat {
    /// fmt.Sprint's rendering of one value (%v).
    static func value(_ value: TemplateValue) -> String {
        switch value {
        case .missing: return "<no value>"
        case .null: return "<nil>"
        case .nilCollection(let isMap): return isMap ? "map[]" : "[]"
        case .overflow(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let number): return String(number)
        case .float(let number): return GoNumbers.shortestG(number)
        case .string(let text): return text
        case .list(let items): return "[" + items.map(Self.element).joined(separator: " ") + "]"
        case .map(let members):
            return "map[" + TemplateValue.sorted(members).map { "\($0.0):\(element($0.1))" }.joined(separator: " ") + "]"
        case .object(let object): return "{" + object.fields.map { element($0.1) }.joined(separator: " ") + "}"
        }
    }

    /// A value inside a list or map, where a missing value is a nil interface.
    private static func element(_ value: TemplateValue) -> String {
        if case .missing = value { return "<nil>" }
        return Self.value(value)
    }

    /// fmt.Sprint: operands separated by a space when neither side is a string.
    static func sprint(_ values: [TemplateValue]) -> String {
        var out = ""
        for (index, item) in values.enumerated() {
            if index > 0, !isString(values[index - 1]), !isString(item) { out += " " }
            out += element(item)
        }
        return out
    }

    /// fmt.Sprintln: operands always separated by a space, then a newline.
    static func sprintln(_ values: [TemplateValue]) -> String {
        values.map(element).joined(separator: " ") + "\n"
    }

    private static func isString(_ value: TemplateValue) -> Bool {
        if case .string = value { return true }
        return false
    }

    private struct Spec {
        var minus = false, plus = false, sharp = false, space = false, zero = false
        var width: Int?
        var precision: Int?
    }

    /// fmt.Sprintf.
    static func sprintf(_ format: String, _ arguments: [TemplateValue]) -> String {
        let characters = Array(format)
        var out = ""
        var position = 0
        var next = 0
        while position < characters.count {
            let character = characters[position]
            position += 1
            guard character == "%" else { out.append(character); continue }
            var spec = Spec()
            flags: while position < characters.count {
                switch characters[position] {
                case "-": spec.minus = true; spec.zero = false
                case "+": spec.plus = true
                case "#": spec.sharp = true
                case " ": spec.space = true
                case "0": spec.zero = !spec.minus
                default: break flags
                }
                position += 1
            }
            func number() -> Int? {
                if position < characters.count, characters[position] == "*" {
                    position += 1
                    guard next < arguments.count, case .int(let value) = arguments[next] else {
                        next += 1
                        out += "%!(BADWIDTH)"
                        return nil
                    }
                    next += 1
                    return value
                }
                var digits = ""
                while position < characters.count, let digit = characters[position].wholeNumberValue,
                      characters[position].isASCII {
                    digits.append(String(digit))
                    position += 1
                }
                return Int(digits)
            }
            spec.width = number()
            if let width = spec.width, width < 0 { spec.minus = true; spec.width = -width }
            // fmt refuses widths and precisions beyond a million.
            if let width = spec.width, width > 1_000_000 { out += "%!(BADWIDTH)"; spec.width = nil }
            if position < characters.count, characters[position] == "." {
                position += 1
                spec.precision = number() ?? 0
                if let precision = spec.precision, precision > 1_000_000 || precision < 0 { out += "%!(BADPREC)"; spec.precision = nil }
            }
            guard position < characters.count else { out += "%!(NOVERB)"; break }
            let verb = characters[position]
            position += 1
            if verb == "%" { out += "%"; continue }
            guard next < arguments.count else { out += "%!\(verb)(MISSING)"; continue }
            out += formatted(arguments[next], verb: verb, spec: spec)
            next += 1
        }
        if next < arguments.count {
            out += "%!(EXTRA " + arguments[next...].map { "\($0.goType)=\(element($0))" }.joined(separator: ", ") + ")"
        }
        return out
    }

    private static func formatted(_ argument: TemplateValue, verb: Character, spec: Spec) -> String {
        if verb == "T" { return pad(argument.goType, spec) }
        switch argument {
        case .nilCollection(let isMap):
            return formatted(isMap ? .map([]) : .list([]), verb: verb, spec: spec)
        case .missing, .null:
            return verb == "v" ? pad("<nil>", spec) : "%!\(verb)(<nil>)"
        case .bool(let flag):
            guard verb == "v" || verb == "t" else { return bad(verb, argument) }
            return pad(flag ? "true" : "false", spec)
        case .int(let number):
            return integer(number, verb: verb, spec: spec) ?? bad(verb, argument)
        case .float(let number):
            return float(number, verb: verb, spec: spec) ?? bad(verb, argument)
        case .string(let text):
            return string(text, verb: verb, spec: spec) ?? bad(verb, argument)
        case .list(let items):
            if verb == "v" || verb == "s" || verb == "d" || verb == "q" || verb == "x" || verb == "f" {
                return "[" + items.map { formatted($0, verb: verb, spec: spec) }.joined(separator: " ") + "]"
            }
            return bad(verb, argument)
        case .map(let members):
            return "map[" + TemplateValue.sorted(members).map {
                "\(formatted(.string($0.0), verb: verb, spec: spec)):\(formatted($0.1, verb: verb, spec: spec))"
            }.joined(separator: " ") + "]"
        case .object, .overflow:
            return pad(value(argument), spec)
        }
    }

    private static func bad(_ verb: Character, _ argument: TemplateValue) -> String {
        "%!\(verb)(\(argument.goType)=\(element(argument)))"
    }

    private static func integer(_ number: Int, verb: Character, spec: Spec) -> String? {
        let magnitude = number.magnitude
        var digits: String
        var prefix = ""
        switch verb {
        case "d", "v": digits = String(magnitude)
        case "x": digits = String(magnitude, radix: 16); if spec.sharp { prefix = "0x" }
        case "X": digits = String(magnitude, radix: 16).uppercased(); if spec.sharp { prefix = "0X" }
        case "o": digits = String(magnitude, radix: 8); if spec.sharp { prefix = "0" }
        case "O": digits = String(magnitude, radix: 8); prefix = "0o"
        case "b": digits = String(magnitude, radix: 2)
        case "c": return pad(String(Character(Unicode.Scalar(UInt32(exactly: number) ?? 0xFFFD) ?? "\u{FFFD}")), spec)
        case "q":
            let scalar = Unicode.Scalar(UInt32(exactly: number) ?? 0xFFFD) ?? "\u{FFFD}"
            let quoted = goQuoted(String(Character(scalar)))
            let inner = quoted.dropFirst().dropLast().replacingOccurrences(of: "\\\"", with: "\"")
            return pad("'" + (inner == "'" ? "\\'" : inner) + "'", spec)
        case "U":
            var hex = String(UInt64(bitPattern: Int64(number)), radix: 16).uppercased()
            hex = String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            return pad("U+" + hex, spec)
        default: return nil
        }
        if let precision = spec.precision {
            digits = precision == 0 && number == 0 ? "" : String(repeating: "0", count: max(0, precision - digits.count)) + digits
        }
        let sign = number < 0 ? "-" : spec.plus ? "+" : spec.space ? " " : ""
        return padNumber(sign: sign + prefix, digits: digits, spec: spec, zeroAllowed: spec.precision == nil)
    }

    private static func float(_ number: Double, verb: Character, spec: Spec) -> String? {
        let sign = number.sign == .minus ? "-" : spec.plus ? "+" : spec.space ? " " : ""
        let magnitude = abs(number)
        var body: String
        guard "vgGfFeE".contains(verb) else { return nil }
        // Go writes infinities with their sign always: +Inf, -Inf.
        if number.isNaN { return pad((spec.plus ? "+" : spec.space ? " " : "") + "NaN", spec) }
        if number.isInfinite { return pad(number < 0 ? "-Inf" : "+Inf", spec) }
        switch verb {
        case "v", "g", "G":
            if let precision = spec.precision {
                body = String(format: "%.\(precision)\(verb == "G" ? "G" : "g")", magnitude)
            } else {
                body = GoNumbers.shortestG(magnitude)
                if verb == "G" { body = body.uppercased() }
            }
        case "f", "F": body = String(format: "%.\(spec.precision ?? 6)f", magnitude)
        default: body = String(format: "%.\(spec.precision ?? 6)\(verb)", magnitude)
        }
        return padNumber(sign: sign, digits: body, spec: spec, zeroAllowed: true)
    }

    private static func string(_ text: String, verb: Character, spec: Spec) -> String? {
        switch verb {
        case "s", "v":
            let cut = spec.precision.map { String(text.unicodeScalars.prefix($0)) } ?? text
            return pad(cut, spec)
        case "q": return pad(goQuoted(text), spec)
        case "x", "X":
            let hex = text.utf8.map { byte -> String in
                let digits = String(byte, radix: 16)
                return (byte < 16 ? "0" : "") + digits
            }
            let joined = hex.joined(separator: spec.space ? " " : "")
            return pad(verb == "X" ? joined.uppercased() : joined, spec)
        default: return nil
        }
    }

    /// Pads to the width with spaces (left, or right with `-`).
    private static func pad(_ text: String, _ spec: Spec) -> String {
        guard let width = spec.width else { return text }
        let count = text.unicodeScalars.count
        guard count < width else { return text }
        let padding = String(repeating: " ", count: width - count)
        return spec.minus ? text + padding : padding + text
    }

    /// Pads a number, with zeros after the sign when `0` is given.
    private static func padNumber(sign: String, digits: String, spec: Spec, zeroAllowed: Bool) -> String {
        if spec.zero, zeroAllowed, !spec.minus, let width = spec.width {
            let count = sign.count + digits.count
            if count < width { return sign + String(repeating: "0", count: width - count) + digits }
        }
        return pad(sign + digits, spec)
    }
}
