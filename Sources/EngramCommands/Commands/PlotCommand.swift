import Foundation
import Control
import Kinematics
import MetaLearning
import Robot
import Trajectories

/// `engram plot`: draws trajectory files as an SVG.
enum PlotCommand: EngramCommand {
    static let name = "plot"
    static let abstract = "Plot trajectory CSV files (joint angles over time, end-effector path) as SVG"
    static let discussion = """
        Each file's measured positions (<joint>.pos) become one solid series (the first file green, then
        purple, orange, brown, ...: never the blue of targets or the red of before-update runs, as in the
        demo and run plots); a file that also has commanded goals (<joint>.goal) adds a dotted series in
        its colour. The end-effector path is drawn in a top view
        (x–y) and a side view (x–z) from the file's ee.x/ee.y/ee.z columns, or by forward kinematics of
        the robot named with --robot or in the file's '# robot:' metadata line.

        Example: engram plot target.csv run.csv -o run.svg
        """
    static let out = CommonOptions.out("svg", "Where to write the SVG", required: true).alsoSpelled("--output")
    static let robot = CommonOptions.robot("Robot for the end-effector path by forward kinematics: a name from Robots/ or a folder with robot.yaml",
                                           defaultNote: "the file's '# robot:' line")
    static let title = Option<String>("--title", "text", "Title at the top", defaultNote: "the file names")

    static let options: [OptionSpec] = [out.spec, robot.spec, title.spec]
    static let positionals = [PositionalSpec(name: "file.csv", abstract: "Trajectory files to plot", repeating: true)]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let output = try arguments.required(Self.out)
        var series: [PlotSeries] = []
        for (run, path) in arguments.positionals.enumerated() {
            let file: TrajectoryFile
            do { file = try TrajectoryFile(contentsOfFile: path) } catch { throw RuntimeError("\(error)") }
            for note in file.notes { printError("note: \(path): \(note)") }
            let robotDirectory = arguments[Self.robot]?.directory
                ?? file.metadata.first { $0.key == "robot" }.flatMap { ResourceLocator.robotDirectory($0.value) }
            var kinematics: (any ForwardKinematics, RobotDescription)? = nil
            if let dir = robotDirectory {
                do {
                    let robot = try RobotDescription.load(fromFileAt: dir)
                    kinematics = (robot.forwardKinematics, robot)
                } catch { throw RuntimeError("\(error)") }
            }
            let label = (path as NSString).lastPathComponent
            series.append(PlotCommand.series(file, values: file.positions, label: label + " (measured)", kinematics: kinematics, role: .measured, run: run))
            if let goals = file.goals {
                series.append(PlotCommand.series(file, values: goals, label: label + " (goal)", kinematics: kinematics, role: .goal, run: run))
            }
        }
        let title = arguments[Self.title] ?? arguments.positionals.map { ($0 as NSString).lastPathComponent }.joined(separator: " vs ")
        let svg = TrajectoryPlot.svg(series, title: title)
        do { try svg.write(toFile: output, atomically: true, encoding: .utf8) } catch {
            throw RuntimeError("\(output): cannot write the SVG (\(error.localizedDescription)); check the folder exists")
        }
        print("wrote \(output) (\(series.count) series)")
        return 0
    }

    /// One plot series from a file's position-like columns (`values`, rows × joints).
    static func series(_ file: TrajectoryFile, values: [Double], label: String, kinematics: (any ForwardKinematics, RobotDescription)?,
                       role: PlotRole, run: Int) -> PlotSeries {
        let n = file.joints.count
        let joints = file.joints.enumerated().map { j, name in (name: name, radians: (0..<file.rows).map { values[$0 * n + j] }) }
        var ee: [SIMD3<Double>] = []
        if values == file.positions, let e = file.endEffector {
            ee = e
        } else if let (fk, robot) = kinematics {
            var q = robot.homeRadians
            let map = file.joints.map { robot.jointIndex(named: $0) }
            ee = (0..<file.rows).map { k in
                for j in 0..<n { if let i = map[j] { q[i] = values[k * n + j] } }
                return fk.position(q)
            }
        }
        return PlotSeries(label: label, time: file.time, joints: joints, endEffector: ee, role: role, run: run)
    }
}
