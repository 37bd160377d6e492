import Foundation
import Adaptation
import Robot
import Spiking
import Trajectories

/// A robot's whole arm as the learning modules see it: every joint (gripper included) with its limits and
/// top speed, the whole-arm controller architecture, its meta-training family and the evaluation generator.
/// docs/whole-arm.md describes the method.
public enum WholeArm {
    /// Trial (segment) length of the shipped whole-arm controllers: 125 ticks, 1.25 s at 100 Hz.
    public static let segmentSteps = 125
    /// Ticks at the start of each segment shared with the previous one (the hand-over): 25, 0.25 s.
    public static let handOverSteps = 25
    /// Longest demonstration a whole-arm run takes (s).
    public static let maximumSeconds = 30.0

    /// Limits, top speeds and grippers of every joint of `robot` (limits narrowed by `calibration`).
    public static func motionLimits(for robot: RobotDescription, calibration: Calibration? = nil) -> ArmMotionLimits {
        ArmMotionLimits(jointLimits: robot.jointLimitsRadians(calibration: calibration),
                        maxSpeeds: robot.joints.map(\.maxSpeedRadiansPerSecond),
                        isGripper: robot.joints.map { $0.name.lowercased().contains("gripper") },
                        stepSeconds: RunSession.stepSeconds)
    }

    /// The architecture of a whole-arm controller for `robot`: one readout per joint, the joint-space code.
    public static func architecture(for robot: RobotDescription) -> ControllerArchitecture {
        .wholeArm(jointLimits: robot.jointLimitsRadians(), steps: segmentSteps, handOverSteps: handOverSteps)
    }

    /// The meta-training family for `robot`'s whole arm.
    public static func taskFamily(for robot: RobotDescription, steps: Int = segmentSteps) -> WholeArmTaskFamily {
        WholeArmTaskFamily(kinematics: robot.forwardKinematics, limits: motionLimits(for: robot), home: robot.homeRadians, steps: steps)
    }

    /// The evaluation generator for `robot`'s whole arm.
    public static func demonstrations(for robot: RobotDescription) -> DemonstrationGenerator {
        DemonstrationGenerator(kinematics: robot.forwardKinematics, limits: motionLimits(for: robot))
    }
}

extension WholeArm {
    /// Whether the trajectory file at `path` is a whole-arm demonstration for `robot`: it has a position
    /// column for every joint (as `engram record` writes). False when the file cannot be read (the loader
    /// that follows says why).
    public static func coversEveryJoint(fileAt path: String, robot: RobotDescription) -> Bool {
        guard let file = try? TrajectoryFile(contentsOfFile: path) else { return false }
        return robot.joints.allSatisfy { file.joints.contains($0.name) }
    }

    /// Reads a whole-arm demonstration: a trajectory CSV with a position column for every joint of `robot`
    /// (and no others), 1 tick to `maximumSeconds` long. Its own time base is kept: rows at another rate than
    /// `rateHz` are interpolated onto the robot's ticks over the same duration, never stretched. Every row
    /// must lie inside the joints' limits (narrowed by `calibration`) and every step under the joints' top
    /// speeds. The first row is the pose the run starts from and the target has one step per further row, so
    /// the run lasts exactly as many ticks as the file has rows. Errors name the file, the joint and the row.
    public static func loadTarget(fromFileAt path: String, robot: RobotDescription, calibration: Calibration?, rateHz: Double) throws(RunSessionError) -> WholeArmTarget {
        var file: TrajectoryFile
        do { file = try TrajectoryFile(contentsOfFile: path) } catch { throw RunSessionError("\(error)") }
        for name in file.joints where robot.jointIndex(named: name) == nil {
            throw RunSessionError("\(path): column '\(name).pos' is not a joint of \(robot.name) (\(robot.joints.map(\.name).joined(separator: ", "))); rename or remove it")
        }
        for joint in robot.joints where !file.joints.contains(joint.name) {
            throw RunSessionError("\(path): missing column '\(joint.name).pos'; a whole-arm demonstration has every joint of \(robot.name) (\(robot.joints.map(\.name).joined(separator: ", ")))")
        }
        guard file.rows >= 2 else { throw RunSessionError("\(path): has \(file.rows) row\(file.rows == 1 ? "" : "s"); a demonstration needs at least 2 (the start pose, then one per tick); record one with 'engram record'") }
        let period = 1 / rateHz
        let span = file.rows > 1 ? file.time[file.rows - 1] - file.time[0] : 0
        let most = Int((maximumSeconds * rateHz).rounded())
        guard span <= maximumSeconds + period / 2, file.rows <= most + 1 else {
            throw RunSessionError("\(path): lasts \(String(format: "%.2f", span)) s in \(file.rows) rows; a whole-arm demonstration lasts at most \(Int(maximumSeconds)) s (\(most) ticks at \(Int(rateHz)) Hz): cut it into parts")
        }
        if file.rows > 1 {
            // Keep the demonstration's own duration; only its sample rate becomes the robot's.
            let ticks = Int((span / period).rounded()) + 1
            if ticks != file.rows || abs(span / Double(file.rows - 1) - period) > 1e-6 * period {
                file = file.resampled(rows: ticks, stepSeconds: period)
            }
        }
        let n = robot.joints.count
        let columns = robot.joints.map { j in file.joints.firstIndex(of: j.name)! }
        let limits = robot.jointLimitsRadians(calibration: calibration)
        var angles = [Double](repeating: 0, count: file.rows * n)
        let stride = file.joints.count
        for row in 0..<file.rows {
            for (j, c) in columns.enumerated() {
                let q = file.positions[row * stride + c]
                let name = robot.joints[j].name
                guard q.isFinite else { throw RunSessionError("\(path): row \(row + 1): \(name).pos is \(q); give a finite angle in radians") }
                guard limits[j].contains(q) else {
                    throw RunSessionError(String(format: "%@: row %d (t = %.2f s): %@ at %.1f° is outside its limits [%.1f°, %.1f°]; keep the demonstration inside the joint's range",
                                                 path, row + 1, file.time[row], name, q * 180 / .pi, limits[j].lowerBound * 180 / .pi, limits[j].upperBound * 180 / .pi))
                }
                if row > 0 {
                    let speed = abs(q - angles[(row - 1) * n + j]) / period
                    let top = robot.joints[j].maxSpeedRadiansPerSecond
                    guard speed <= top * (1 + 1e-9) else {
                        throw RunSessionError(String(format: "%@: row %d (t = %.2f s): %@ moves at %.0f°/s, over its top speed of %.0f°/s (max_speed_deg_s in robot.yaml); slow the demonstration down",
                                                     path, row + 1, file.time[row], name, speed * 180 / .pi, top * 180 / .pi))
                    }
                }
                angles[row * n + j] = q
            }
        }
        // Row 0 is the pose the run starts from (tick 0 measures it); rows 1… are the goals of the ticks, so the
        // run lasts as many ticks as the file has rows.
        let start = Array(angles[0..<n])
        let trajectory = TargetTrajectory(angles: Array(angles[n...]), joints: n, from: start, stepSeconds: RunSession.stepSeconds, kinematics: robot.forwardKinematics)
        return WholeArmTarget(trajectory: trajectory, startAngles: start)
    }
}
