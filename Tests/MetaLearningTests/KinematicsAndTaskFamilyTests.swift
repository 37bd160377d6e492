import Adaptation
import Foundation
import Kinematics
import Testing
import EngramTestSupport
import MetaLearning
import Tensors

/// Scorbot forward kinematics at known angles, the task family and the loss.
struct KinematicsAndTaskFamilyTests {
    let k = ScorbotKinematics()

    @Test func scorbotForwardKinematicsAtKnownAngles() {
        // Golden values from the closed form of paper-model.md §2.3 evaluated in Python (float64).
        let cases: [([Double], SIMD3<Double>)] = [
            ([0, 0, 0, 0], SIMD3(0.92, -0.033, 0.3585)),    // arm stretched: a1+a2+a3+a4 = 0.92 m, y = d2+d3
            ([0.5, -0.3, 0, 0], SIMD3(0.757454465247537, -0.451402559909736, 0.101397420204635)),
            ([-1.2, 1.0, 0, 0], SIMD3(0.219206152915617, 0.472761242958004, 1.09057975678287)),
        ]
        for (q, expected) in cases {
            let p = k.position(q)
            for c in 0..<3 { #expect(isClose(p[c], expected[c], absolute: 1e-12), "FK(\(q))[\(c)] = \(p[c]), expected \(expected[c])") }
        }
        // The base turns the arm about the vertical axis: radius and height stay.
        let a = k.position([0, 0.4, 0, 0]), b = k.position([1.1, 0.4, 0, 0])
        #expect(isClose((a.x * a.x + a.y * a.y).squareRoot(), (b.x * b.x + b.y * b.y).squareRoot(), absolute: 1e-12))
        #expect(isClose(a.z, b.z, absolute: 1e-12))
    }

    @Test func hannWindowIsPeriodicAndNormalised() {
        let w = TaskFamily<ScorbotKinematics>.paperScorbot.window
        #expect(w.count == 120)
        #expect(w[0] == 0)
        #expect(isClose(w.reduce(0, +), 1, absolute: 1e-12))
        #expect(isClose(w[60], 1.0 / 60, absolute: 1e-12), "periodic Hann peaks at L/2 with value 1, sum L/2")
    }

    @Test func smoothingPadsWithZerosInFrontAndAReflectionAtTheEnd() {
        var f = TaskFamily<ScorbotKinematics>.paperScorbot
        f.windowLength = 4   // periodic Hann(4) = [0, .5, 1, .5] → normalised [0, .25, .5, .25]
        let raw: [Double] = [1, 2, 3, 4, 5, 6]
        // padded = [0,0,0, 1,2,3,4,5,6, 6,5,4]; out[i] = Σ_k padded[2 + i + k]·w[k].
        // The window's zero tap meets padded[2 + i], so out[i] = 0.25·padded[3+i] + 0.5·padded[4+i] + 0.25·padded[5+i].
        let expected: [Double] = [0.25 * 1 + 0.5 * 2 + 0.25 * 3, 0.25 * 2 + 0.5 * 3 + 0.25 * 4, 0.25 * 3 + 0.5 * 4 + 0.25 * 5,
                                  0.25 * 4 + 0.5 * 5 + 0.25 * 6, 0.25 * 5 + 0.5 * 6 + 0.25 * 6, 0.25 * 6 + 0.5 * 6 + 0.25 * 5]
        let out = f.smooth(raw)
        for i in 0..<6 { #expect(isClose(out[i], expected[i], absolute: 1e-12), "sample \(i): \(out[i]) vs \(expected[i])") }
    }

    @Test func sampledTasksAreSeededClippedAndWithinLimits() {
        let f = TaskFamily<ScorbotKinematics>.paperScorbot
        var r1 = RandomSource(seed: 42), r2 = RandomSource(seed: 42)
        let a = f.sample(&r1), b = f.sample(&r2)
        #expect(a == b)
        #expect(a.steps == 249 && a.joints == 2)
        var maxSpeed = 0.0
        for _ in 0..<50 {
            let t = f.sample(&r1)
            maxSpeed = max(maxSpeed, t.angularVelocity.map(abs).max()!)
            #expect(t.angularVelocity.allSatisfy { abs($0) <= Double.pi })
            for s in 0..<t.steps {
                #expect(abs(t.angles[2 * s]) <= 130 * Double.pi / 180 + 1e-12)
                #expect(abs(t.angles[2 * s + 1]) <= 70 * Double.pi / 180 + 1e-12)
                let p = k.position([t.angles[2 * s], t.angles[2 * s + 1], 0, 0])
                #expect(p == t.endEffector[s])
            }
        }
        #expect(maxSpeed > 0.05, "the walks move")
        // Angles are the integral of ω at 10 ms per step where no limit is hit.
        let first = a.angularVelocity[0] * 0.01
        #expect(isClose(a.angles[0], first, absolute: 1e-15))
    }

    @Test func lossOfThePerfectOutputIsZeroAndOfZeroOutputIsTheTargetEnergy() {
        let f = TaskFamily<ScorbotKinematics>.paperScorbot
        // A target that stays inside the joint limits: ω small.
        let omega = (0..<(2 * 249)).map { i in 0.3 * sin(Double(i) * 0.01) }
        let target = f.trajectory(angularVelocity: omega)
        let loss = TrajectoryLoss(family: f)
        let perfect = loss.evaluate(output: omega.map(Float.init), target: target)
        #expect(perfect.total < 1e-12, "loss \(perfect.total)")
        let zero = loss.evaluate(output: [Float](repeating: 0, count: 2 * 249), target: target)
        let velocityEnergy = omega.reduce(0) { $0 + $1 * $1 } / Double(omega.count)
        let home = k.position([0, 0, 0, 0])
        let positionError = target.endEffector.reduce(0) { $0 + ((home - $1) * (home - $1)).sum() } / Double(3 * 249)
        #expect(isClose(zero.total, 0.5 * velocityEnergy + 0.5 * positionError, relative: 1e-12))
        #expect(isClose(zero.velocity, velocityEnergy, relative: 1e-12))
    }
}

/// The analytic Scorbot Jacobian against central finite differences of the closed form.
struct ScorbotJacobianTests {
    struct FiniteDifferenceScorbot: ForwardKinematics {
        var jointCount: Int { 4 }
        func position(_ q: [Double]) -> SIMD3<Double> { ScorbotKinematics().position(q) }
    }

    @Test func analyticJacobianMatchesFiniteDifferences() {
        var rng = RandomSource(seed: 12)
        for _ in 0..<20 {
            let q = (0..<4).map { _ in rng.uniform(-1.5, 1.5) }
            let analytic = ScorbotKinematics().jacobian(q)
            let numeric = FiniteDifferenceScorbot().jacobian(q)
            #expect(analytic.count == 4)
            for j in 0..<4 {
                for c in 0..<3 {
                    #expect(abs(analytic[j][c] - numeric[j][c]) < 1e-8, "∂\(["x", "y", "z"][c])/∂q\(j + 1) at \(q): \(analytic[j][c]) vs \(numeric[j][c])")
                }
            }
        }
    }
}
