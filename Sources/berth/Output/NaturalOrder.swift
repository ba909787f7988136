/// The natural order the Docker CLI sorts names and port lines in (fvbommel/sortorder's
/// NaturalLess): runs of digits compare as numbers, digits sort before other characters, and
/// everything else compares byte by byte.
func naturalLess(_ left: String, _ right: String) -> Bool {
    let a = Array(left.utf8), b = Array(right.utf8)
    var i = 0, j = 0
    func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
    while i < a.count, j < b.count {
        let digitA = isDigit(a[i]), digitB = isDigit(b[j])
        if digitA != digitB { return digitA }
        if !digitA {
            if a[i] != b[j] { return a[i] < b[j] }
            i += 1
            j += 1
            continue
        }
        while i < a.count, a[i] == 0x30 { i += 1 }
        while j < b.count, b[j] == 0x30 { j += 1 }
        let startA = i, startB = j
        while i < a.count, isDigit(a[i]) { i += 1 }
        while j < b.count, isDigit(b[j]) { j += 1 }
        if i - startA != j - startB { return i - startA < j - startB }
        if a[startA..<i] != b[startB..<j] { return a[startA..<i].lexicographicallyPrecedes(b[startB..<j]) }
        // Equal numbers: the one with fewer leading zeros first.
        if startA != startB { return startA < startB }
    }
    return a.count - i < b.count - j || (a.count - i == b.count - j && a.count < b.count)
}
