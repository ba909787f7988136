extension StringProtocol {
    /// Without leading and trailing spaces and tabs (Unicode `Zs` and tab: what Foundation's
    /// `.whitespaces` set holds). Pure Swift: Foundation's `trimmingCharacters(in:)` goes through
    /// NSString, whose first use costs runtime reflection on every parse.
    func trimmingSpaces() -> String {
        let isSpace = { (character: Character) in character.isWhitespace && !character.isNewline }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }

    /// Without leading and trailing whitespace, line breaks included.
    func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else {
            return ""
        }
        return String(self[first...last])
    }
}
