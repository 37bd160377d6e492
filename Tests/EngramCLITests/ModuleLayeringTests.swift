import EngramTestSupport
import Foundation
import Testing

/// The module table of docs/modules.md: each module's row, in order (lowest first), with the modules it may import.
struct ModuleTable {
    /// Module names in the table's order.
    var order: [String] = []
    /// Allowed imports per module.
    var allowed: [String: Set<String>] = [:]

    /// Reads the rows `| `Module` | `A`, `B` | ... |` of a markdown table; "—" (or nothing) allows no import.
    init(markdown: String) {
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, cells[0].isEmpty, let module = Self.names(in: cells[1]).first,
                  cells[1] == "`\(module)`" else { continue }
            order.append(module)
            allowed[module] = Set(Self.names(in: cells[2]))
        }
    }

    /// The backticked names in a cell.
    static func names(in cell: String) -> [String] {
        cell.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
    }

    /// Every arrow the table draws that does not point to a module listed earlier (the graph must go one way).
    func upwardArrows() -> [String] {
        var seen: Set<String> = []
        var wrong: [String] = []
        for module in order {
            for target in allowed[module, default: []].sorted() where !seen.contains(target) {
                wrong.append("docs/modules.md: \(module) may import \(target), which is not listed above it")
            }
            seen.insert(module)
        }
        return wrong
    }

    /// One line per `import` in `files` (module, file, source text) of a package module the table does not allow.
    func violations(files: [(module: String, path: String, text: String)], packageModules: Set<String>) -> [String] {
        var wrong: [String] = []
        for file in files {
            for (n, line) in file.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                guard let imported = Self.importedModule(line), packageModules.contains(imported), imported != file.module else { continue }
                guard let allowed = allowed[file.module] else {
                    wrong.append("\(file.path):\(n + 1): module \(file.module) has no row in docs/modules.md")
                    continue
                }
                if !allowed.contains(imported) {
                    wrong.append("\(file.path):\(n + 1): \(file.module) imports \(imported), an arrow docs/modules.md does not allow")
                }
            }
        }
        return wrong
    }

    /// The module an `import` line names (`import X`, `@testable import X`, `@preconcurrency import X`,
    /// `import struct X.Y`), or nil for any other line.
    static func importedModule(_ line: Substring) -> String? {
        guard let c = line.first, c == "i" || c == "@" else { return nil }  // top level only, not text in a string
        var words = line.split(separator: " ").map(String.init)
        while let first = words.first, first.hasPrefix("@") { words.removeFirst() }
        guard words.first == "import", words.count >= 2 else { return nil }
        let path = ["struct", "class", "enum", "protocol", "func", "var", "let", "typealias"].contains(words[1]) && words.count >= 3
            ? words[2] : words[1]
        return path.split(separator: ".").first.map(String.init)
    }
}

@Suite struct ModuleLayeringTests {
    static let root = SharedData.repositoryRoot

    @Test func everyImportUnderSourcesIsAnArrowOfTheModuleTable() throws {
        let table = ModuleTable(markdown: try String(contentsOfFile: Self.root + "/docs/modules.md", encoding: .utf8))
        let fm = FileManager.default
        let modules = try fm.contentsOfDirectory(atPath: Self.root + "/Sources").filter { !$0.hasPrefix(".") }.sorted()
        #expect(modules.count > 10)
        for module in modules {
            #expect(table.allowed[module] != nil, "Sources/\(module) has no row in docs/modules.md")
        }
        var files: [(module: String, path: String, text: String)] = []
        for module in modules {
            let dir = Self.root + "/Sources/" + module
            for relative in fm.subpaths(atPath: dir) ?? [] where relative.hasSuffix(".swift") {
                let path = "Sources/\(module)/\(relative)"
                files.append((module, path, try String(contentsOfFile: dir + "/" + relative, encoding: .utf8)))
            }
        }
        #expect(files.count > 100)
        let violations = table.violations(files: files, packageModules: Set(modules))
        #expect(violations.isEmpty, "\(violations.joined(separator: "\n"))")
        #expect(table.upwardArrows().isEmpty, "\(table.upwardArrows().joined(separator: "\n"))")
    }

    @Test func whatShipsDoesNotLinkTraining() throws {
        let table = ModuleTable(markdown: try String(contentsOfFile: Self.root + "/docs/modules.md", encoding: .utf8))
        for module in ["Tensors", "PhaseChange", "Spiking", "Kinematics", "Trajectories", "Adaptation", "ServoBus", "Robot", "Control"] {
            #expect(table.allowed[module]?.contains("MetaLearning") == false, "\(module) may import MetaLearning")
        }
    }

    @Test func aForbiddenOrUpwardArrowIsReportedWithItsFileAndLine() {
        let table = ModuleTable(markdown: """
            | Module | May import | What |
            |---|---|---|
            | `Low` | — | bottom |
            | `High` | `Low`, `Later` | top |
            | `Later` | `Low` | after |
            """)
        #expect(table.order == ["Low", "High", "Later"])
        #expect(table.allowed["Low"] == [])
        let files: [(module: String, path: String, text: String)] = [
            ("Low", "Sources/Low/a.swift", "import Foundation\n@preconcurrency import High\n"),
            ("High", "Sources/High/b.swift", "@testable import Low\nimport struct Later.Thing\nimport Glibc\n"),
            ("Stray", "Sources/Stray/c.swift", "import Low\n"),
        ]
        let wrong = table.violations(files: files, packageModules: ["Low", "High", "Later", "Stray"])
        #expect(wrong == [
            "Sources/Low/a.swift:2: Low imports High, an arrow docs/modules.md does not allow",
            "Sources/Stray/c.swift:1: module Stray has no row in docs/modules.md",
        ])
        #expect(table.upwardArrows() == ["docs/modules.md: High may import Later, which is not listed above it"])
    }
}
