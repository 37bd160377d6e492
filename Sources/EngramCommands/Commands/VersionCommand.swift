/// `engram version`: prints the version (also `engram --version`).
enum VersionCommand: EngramCommand {
    static let name = "version"
    static let abstract = "Print the version"
    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        print("engram \(Help.version)")
        return 0
    }
}
