import Foundation
import Tensors
import Testing
@testable import YAMLCoding

private enum Protocol: String, Decodable, CaseIterable {
    case dynamixel2
    case feetechSTS = "feetech-sts"
}

/// Two numbers written `[lo, hi]`; any other count is an error thrown from `init(from:)`.
private struct Limits: Decodable, Equatable {
    var lo: Double, hi: Double
    init(lo: Double, hi: Double) { self.lo = lo; self.hi = hi }
    init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        guard c.count == 2 else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath, debugDescription: "expected 2 numbers, found \(c.count ?? 0)"))
        }
        lo = try c.decode(Double.self)
        hi = try c.decode(Double.self)
    }
}

private struct Joint: Decodable, Equatable {
    var name: String
    var id: UInt8
    var limits_deg: Limits
    var inverted: Bool?
}

private struct Robot: Decodable, Equatable {
    var name: String
    var bus: Bus
    var joints: [Joint]
    var rate_hz: Double
    var notes: String?
    struct Bus: Decodable, Equatable {
        var `protocol`: Protocol
        var baud: Int
    }
}

private let robotYAML = """
    name: arm
    bus:
      protocol: feetech-sts
      baud: 1_000_000
    rate_hz: 100
    joints:
      - name: pan
        id: 1
        limits_deg: [-110, 110.5]
      - {name: lift, id: 0x02, limits_deg: [-90, 90], inverted: yes}
    """

private func expectError<T: Decodable>(
    _ type: T.Type, _ yaml: String, strict: Bool = true, _ expected: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        let value = try YAMLDecoder().decode(type, from: yaml, file: "test.yaml", strict: strict)
        Issue.record("expected an error, decoded \(value)", sourceLocation: sourceLocation)
    } catch {
        #expect(error.description == expected, sourceLocation: sourceLocation)
    }
}

@Suite struct YAMLDecoderTests {
    @Test func decodesNestedStructs() throws {
        let robot = try YAMLDecoder().decode(Robot.self, from: robotYAML)
        #expect(robot.name == "arm")
        #expect(robot.bus == .init(protocol: .feetechSTS, baud: 1_000_000))
        #expect(robot.rate_hz == 100)
        #expect(robot.notes == nil)
        #expect(robot.joints == [
            Joint(name: "pan", id: 1, limits_deg: Limits(lo: -110, hi: 110.5), inverted: nil),
            Joint(name: "lift", id: 2, limits_deg: Limits(lo: -90, hi: 90), inverted: true),
        ])
    }

    @Test func resolvesScalarsByTargetType() throws {
        struct S: Decodable {
            var a: String, b: String, c: Int, d: Double, e: Double, f: Bool, g: Bool, h: String?, i: Int?, j: Float
            var k: [Double], l: String, m: Int8
        }
        let s = try YAMLDecoder().decode(S.self, from: """
            a: no
            b: "true"
            c: -0o17
            d: .inf
            e: 2.5e-3
            f: False
            g: on
            h: ~
            i:
            j: -.INF
            k: [1, 0x10, 1_0.5, -3e2]
            l: 'it''s'
            m: -128
            """)
        #expect(s.a == "no")  // a String field keeps the text; YAML 1.1's "no" is not forced to a bool
        #expect(s.b == "true")
        #expect(s.c == -15)
        #expect(s.d == .infinity)
        #expect(s.e == 0.0025)  // exact: both sides parse the same decimal literal
        #expect(s.f == false && s.g == true)
        #expect(s.h == nil && s.i == nil)
        #expect(s.j == -.infinity)
        #expect(s.k == [1, 16, 10.5, -300])
        #expect(s.l == "it's")
        #expect(s.m == -128)
        let nan = try YAMLDecoder().decode([Double].self, from: "[.nan]")
        #expect(nan[0].isNaN)
    }

    @Test func quotedNullIsAString() throws {
        let v = try YAMLDecoder().decode([String?].self, from: "['null', null, \"~\", !!str ~]")
        #expect(v == ["null", nil, "~", "~"])
    }

    @Test func anchorsAliasesAndMergeKeys() throws {
        struct Servo: Decodable, Equatable { var model: String; var gain: Double; var id: Int }
        let servos = try YAMLDecoder().decode([String: Servo].self, from: """
            defaults: &xl430
              model: xl430-w250
              gain: 800
              id: 0
            shoulder:
              <<: *xl430
              id: 2
            elbow:
              <<: *xl430
              gain: 640
              id: 3
            copy: *xl430
            """)
        #expect(servos["shoulder"] == Servo(model: "xl430-w250", gain: 800, id: 2))
        #expect(servos["elbow"] == Servo(model: "xl430-w250", gain: 640, id: 3))
        #expect(servos["copy"] == Servo(model: "xl430-w250", gain: 800, id: 0))
        let list = try YAMLDecoder().decode([[Int]].self, from: "- &p [1, 2]\n- *p\n")
        #expect(list == [[1, 2], [1, 2]])
    }

    @Test func emptyDocumentDecodesAsNull() throws {
        let v = try YAMLDecoder().decode(Int?.self, from: "")
        #expect(v == nil)
    }

    // MARK: Errors, each with its line and column

    @Test func typeMismatchNamesPlaceAndShape() {
        expectError(Robot.self, robotYAML.replacingOccurrences(of: "rate_hz: 100", with: "rate_hz: fast"),
                    "test.yaml:5:10: rate_hz: expected a number, found 'fast'")
        expectError(Robot.self, robotYAML.replacingOccurrences(of: "id: 1", with: "id: [1]"),
                    "test.yaml:8:9: joints[0].id: expected an integer, found a sequence of 1 item")
        expectError(Robot.self, robotYAML.replacingOccurrences(of: "bus:\n  protocol: feetech-sts\n  baud: 1_000_000", with: "bus: usb"),
                    "test.yaml:2:6: bus: expected a mapping, found 'usb'")
    }

    @Test func quotedNumberIsNotANumber() {
        expectError([Int].self, "[1, \"2\"]", "test.yaml:1:5: [1]: expected an integer, found the quoted string \"2\"")
        expectError([Bool].self, "- 'true'", "test.yaml:1:3: [0]: expected a boolean (true or false), found the quoted string \"true\"")
    }

    @Test func customErrorFromInitGetsPosition() {
        expectError(Robot.self, robotYAML.replacingOccurrences(of: "[-90, 90]", with: "[-90, 0, 90]"),
                    "test.yaml:10:40: joints[1].limits_deg: expected 2 numbers, found 3")
    }

    @Test func missingKeySuggestsTheTypo() {
        expectError(Robot.self, robotYAML.replacingOccurrences(of: "baud:", with: "baudrate:"),
                    "test.yaml:3:3: bus: missing key 'baud' (found 'baudrate': did you mean 'baud'?)")
        expectError(Robot.self, robotYAML.replacingOccurrences(of: "name: arm\n", with: ""),
                    "test.yaml:1:1: missing key 'name'; add it")
    }

    @Test func unknownKeyInStrictMode() throws {
        let yaml = robotYAML.replacingOccurrences(of: "inverted: yes", with: "invertd: yes")
        expectError(Robot.self, yaml, "test.yaml:10:51: joints[1].invertd: unknown key 'invertd'; did you mean 'inverted'?")
        // Not strict: ignored.
        let robot = try YAMLDecoder().decode(Robot.self, from: yaml, strict: false)
        #expect(robot.joints[1].inverted == nil)
        expectError(Robot.self, robotYAML + "\ncolour: red\n", "test.yaml:11:1: colour: unknown key 'colour'; remove it or check the spelling")
    }

    @Test func badEnumValueListsAllowedValues() {
        expectError(Robot.self, robotYAML.replacingOccurrences(of: "feetech-sts", with: "feetech"),
                    "test.yaml:3:13: bus.protocol: invalid value 'feetech'; did you mean 'feetech-sts'? (allowed: dynamixel2, feetech-sts)")
        expectError(Robot.self, robotYAML.replacingOccurrences(of: "feetech-sts", with: "can"),
                    "test.yaml:3:13: bus.protocol: invalid value 'can' (allowed: dynamixel2, feetech-sts)")
    }

    @Test func outOfRangeInteger() {
        expectError(Robot.self, robotYAML.replacingOccurrences(of: "id: 1", with: "id: 300"),
                    "test.yaml:8:9: joints[0].id: 300 is out of range for UInt8 (0...255)")
        expectError([Float].self, "[1e60]", "test.yaml:1:2: [0]: 1e60 is out of range for Float")
    }

    @Test func duplicateKey() {
        expectError([String: Int].self, "a: 1\nb: 2\na: 3\n", "test.yaml:3:1: a: duplicate key 'a' (first defined at 1:1); keep only one")
    }

    @Test func undefinedAlias() {
        expectError([Int].self, "- 1\n- *nothing\n", "test.yaml:2:3: [1]: alias '*nothing' refers to no anchor '&nothing' defined before it")
    }

    @Test func sequenceTooShort() {
        struct Pair: Decodable {
            var a: Int, b: Int
            init(from decoder: Decoder) throws {
                var c = try decoder.unkeyedContainer()
                a = try c.decode(Int.self)
                b = try c.decode(Int.self)
            }
        }
        expectError([String: Pair].self, "p: [1]\n", "test.yaml:1:4: p: expected more items, the sequence has only 1")
    }

    @Test func syntaxErrorsCarryLibYAMLPosition() {
        expectError([String: Int].self, "a: 1\n b: 2\n", "test.yaml:2:3: YAML syntax error: mapping values are not allowed in this context")
        expectError([Int].self, "[1, 2\n", "test.yaml:2:1: [2]: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 1)")
        expectError([String: String].self, "a: \"open\n", "test.yaml:2:1: a: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar at line 1, column 4)")
        expectError([String].self, "- a\n\t- b\n", "test.yaml:2:1: [0]: YAML syntax error: found a tab character that violates indentation (while scanning a plain scalar at line 1, column 3)")
    }

    @Test func missingFileSaysSo() {
        do {
            _ = try YAMLDecoder().decode([Int].self, fromFileAt: "/nonexistent/robot.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "/nonexistent/robot.yaml: cannot read the file: no such file")
        }
    }

    @Test func decodesFromFileWithPathInErrors() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("engram-yaml-\(getpid()).yaml").path
        try "- 1\n- x\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try YAMLDecoder().decode([Int].self, fromFileAt: path)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "\(path):2:3: [1]: expected an integer, found 'x'")
        }
    }

    @Test func secondDocumentIsAnError() {
        expectError([Int].self, "[1]\n---\n[2]\n", "test.yaml:2:1: a second YAML document starts here; Engram reads one document per file, so remove the '---' and what follows (or split the file)")
        #expect((try? YAMLDecoder().decode([Int].self, from: "---\n[1]\n...\n")) == [1])
    }

    @Test func integerEnumsListAllowedValues() {
        enum Mode: Int, Decodable, CaseIterable { case position = 3, velocity = 1, pwm = 16 }
        expectError([Mode].self, "[3, 4]", "test.yaml:1:5: [1]: invalid value '4' (allowed: 3, 1, 16)")
        #expect((try? YAMLDecoder().decode([Mode].self, from: "[16, 1]")) == [.pwm, .velocity])
    }

    @Test func negativeIntoUnsignedIsOutOfRange() {
        expectError([String: UInt16].self, "baud: -1", "test.yaml:1:7: baud: -1 is out of range for UInt16 (0...65535)")
    }

    @Test func lenientDecoderIgnoresUnknownKeys() throws {
        struct S: Decodable, Equatable { var a: Int }
        let lenient = YAMLDecoder(rejectsUnknownKeys: false)
        #expect(try lenient.decode(S.self, from: "a: 1\nb: 2") == S(a: 1))
        // A call can still ask for strictness.
        #expect(throws: YAMLError.self) { try lenient.decode(S.self, from: "a: 1\nb: 2", strict: true) }
    }

    @Test func optionalNestedStructAbsentOrNull() throws {
        struct Inner: Decodable, Equatable { var x: Int }
        struct Outer: Decodable, Equatable { var inner: Inner?; var y: Int }
        #expect(try YAMLDecoder().decode(Outer.self, from: "y: 1") == Outer(inner: nil, y: 1))
        #expect(try YAMLDecoder().decode(Outer.self, from: "inner: ~\ny: 1") == Outer(inner: nil, y: 1))
        #expect(try YAMLDecoder().decode(Outer.self, from: "inner: {x: 5}\ny: 1") == Outer(inner: Inner(x: 5), y: 1))
        expectError(Outer.self, "inner: 5\ny: 1", "test.yaml:1:8: inner: expected a mapping, found '5'")
    }

    @Test func nonScalarKeyIsAnError() {
        expectError([String: Int].self, "? [a]\n: 1\n", "test.yaml:1:3: expected a scalar key, found a sequence of 1 item")
    }

    @Test func garbageNeverCrashesAndAlwaysHasAPosition() {
        // Seeded mutations of a valid file: every outcome is a value or a positioned YAMLError.
        var rng = RandomSource(seed: 42)
        let alphabet = Array("abc:-[]{},&*!|>'\"#%@`?~ \n\t0123456789.")
        let base = Array(robotYAML)
        var errors = 0
        for _ in 0..<400 {
            var text = base
            for _ in 0..<(1 + rng.int(below: 4)) {
                let i = rng.int(below: text.count)
                switch rng.int(below: 3) {
                case 0: text[i] = alphabet[rng.int(below: alphabet.count)]
                case 1: text.insert(alphabet[rng.int(below: alphabet.count)], at: i)
                default: text.remove(at: i)
                }
            }
            do {
                _ = try YAMLDecoder().decode(Robot.self, from: String(text), file: "fuzz.yaml")
            } catch {
                errors += 1
                #expect(error.file == "fuzz.yaml")
                if let mark = error.mark {
                    #expect(mark.line >= 1 && mark.column >= 1)
                } else {
                    Issue.record("error without a position: \(error)")
                }
            }
        }
        #expect(errors > 100, "mutations should usually break the file (\(errors) of 400 did)")
    }

    @Test func closestMatch() {
        #expect(YAMLError.closestMatch(to: "baudrate", among: ["baud", "protocol"]) == "baud")
        #expect(YAMLError.closestMatch(to: "xyz", among: ["baud", "protocol"]) == nil)
        #expect(YAMLError.editDistance("kitten", "sitting") == 3)
        #expect(YAMLError.editDistance("lfit", "lift") == 1)  // a swap is one edit
        #expect(YAMLError.closestMatch(to: "4", among: ["3", "16"]) == nil)  // no guesses for one-character values
    }

    /// Issue 19 item 7: a 10 KB file nested 5,000 deep overflowed the stack (SIGSEGV). Nesting is bounded.
    @Test func nestingIsBounded() throws {
        let deep = "joints: " + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000) + "\n"
        do {
            _ = try YAMLNode.parse(deep, file: "robot.yaml")
            Issue.record("accepted 5,000 levels")
        } catch {
            #expect(error.description.hasPrefix("robot.yaml:1:"), "\(error)")
            #expect(error.description.contains("nesting deeper than 64 levels of mappings and sequences"), "\(error)")
        }
        let blockDeep = (0..<200).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n") + " 1\n"
        #expect(throws: YAMLError.self) { try YAMLNode.parse(blockDeep, file: "deep.yaml") }
        let fine = "a: " + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "\n"
        _ = try YAMLNode.parse(fine, file: "fine.yaml")
    }
}
