import Foundation
import Kinematics
import MetaLearning
import Spiking
import Tensors
import Trajectories

/// An independent Float64 port of the ideal inner loop (paper-model.md §2.1–2.5), written as plain
/// scalar loops with explicit eligibility traces: the yardstick for the Float32 implementation.
struct ReferenceInnerLoop64 {
    let a: ControllerArchitecture
    let wInT: [Double], wRecT: [Double], wOutT: [Double]
    let wInL: [Double], wRecL: [Double], wOutL: [Double]

    init(_ a: ControllerArchitecture, _ w: ControllerWeights) {
        self.a = a
        func d(_ m: Matrix) -> [Double] { m.storage.map(Double.init) }
        wInT = d(w.traineeInput); wRecT = d(w.traineeRecurrent); wOutT = d(w.traineeReadout)
        wInL = d(w.lsgInput); wRecL = d(w.lsgRecurrent); wOutL = d(w.lsgReadout)
    }

    struct Trial { var spikes: [[Bool]]; var psi: [[Double]]; var out: [[Double]] }

    /// Runs one population over `x` (per step, a 0/1 vector of inputs).
    func run(x: [[Double]], wIn: [Double], wRec: [Double], wOut: [Double], n: Int, outputs: Int,
             p: LIFParameters, adaptive: Int = 0, beta: Double = 0, rho: Double = 0) -> Trial {
        let nIn = x[0].count
        let alpha = exp(-1 / p.tauMembraneMs), kappa = exp(-1 / p.tauOutputMs), thr = p.threshold
        var v = [Double](repeating: 0, count: n), z = v, r = v, b = v, y = [Double](repeating: 0, count: outputs)
        var trial = Trial(spikes: [], psi: [], out: [])
        for xt in x {
            var zNew = [Double](repeating: 0, count: n), psi = zNew
            for j in 0..<n {
                var current = 0.0
                for i in 0..<nIn where xt[i] != 0 { current += xt[i] * wIn[i * n + j] }
                for i in 0..<n where z[i] != 0 && i != j { current += wRec[i * n + j] }
                var threshold = thr
                if j >= n - adaptive {
                    b[j] = rho * b[j] + z[j]
                    threshold = thr + beta * b[j]
                }
                v[j] = alpha * v[j] + current - threshold * z[j]
                let refractory = r[j] > 0.1
                zNew[j] = (!refractory && (v[j] - threshold) / thr > 0) ? 1 : 0
                psi[j] = refractory ? 0 : max(p.dampening * (1 - abs((v[j] - threshold) / thr)), 0) / thr
            }
            for j in 0..<n { r[j] = min(max(r[j] + Double(p.refractorySteps) * zNew[j] - 1, 0), Double(p.refractorySteps)) }
            z = zNew
            for o in 0..<outputs {
                var s = kappa * y[o]
                for j in 0..<n where z[j] != 0 { s += wOut[j * outputs + o] }
                y[o] = s
            }
            trial.spikes.append(z.map { $0 != 0 })
            trial.psi.append(psi)
            trial.out.append(y)
        }
        return trial
    }

    func loss(_ out: [[Double]], _ target: TargetTrajectory, _ k: ScorbotKinematics) -> Double {
        var vel = 0.0, pos = 0.0, q = [0.0, 0.0, 0.0, 0.0], sum = [0.0, 0.0]
        for t in 0..<target.steps {
            for j in 0..<2 {
                let d = out[t][j] - target.angularVelocity[t * 2 + j]
                vel += d * d
                sum[j] += out[t][j]
                q[j] = 0.01 * sum[j]
            }
            let e = k.position(q) - target.endEffector[t]
            pos += (e * e).sum()
        }
        return 0.5 * vel / Double(2 * target.steps) + 0.5 * pos / Double(3 * target.steps)
    }

    /// (loss before, loss after, fraction of W_in changed, trial-2 spike count, trial-2 output steps × 2).
    func adapt(_ target: TargetTrajectory) -> (before: Double, after: Double, changedIn: Double, spikes: Int, output: [Double]) {
        let n = a.traineeNeurons, nIn = a.clockInputs, steps = a.steps
        let clock = ClockInput.paper
        let x = (0..<steps).map { t -> [Double] in
            var v = [Double](repeating: 0, count: nIn)
            if let k = clock.spikingNeuron(at: t) { v[k] = 1 }
            return v
        }
        let t1 = run(x: x, wIn: wInT, wRec: wRecT, wOut: wOutT, n: n, outputs: 2, p: a.trainee)
        let code = TargetCode(bits: a.codeBits)
        let lsgX = (0..<steps).map { t -> [Double] in
            var v = [Double](repeating: 0, count: a.lsgInputs)
            for i in 0..<nIn { v[i] = x[t][i] }
            let e = target.endEffector[t]
            for (c, value) in [e.x, e.y, e.z].enumerated() {
                let bits = code.code(value)
                for bit in 0..<a.codeBits where (bits >> UInt64(bit)) & 1 == 1 { v[nIn + c * a.codeBits + bit] = 1 }
            }
            return v
        }
        let lsg = run(x: lsgX, wIn: wInL, wRec: wRecL, wOut: wOutL, n: a.lsgNeurons, outputs: n, p: a.lsg,
                      adaptive: a.lsgAdaptation.count, beta: a.lsgAdaptation.beta, rho: exp(-1 / a.lsgAdaptation.tauMs))
        let alpha = exp(-1 / a.trainee.tauMembraneMs), eta = a.innerLearningRate
        var eIn = [Double](repeating: 0, count: nIn), eRec = [Double](repeating: 0, count: n)
        var dIn = [Double](repeating: 0, count: nIn * n), dRec = [Double](repeating: 0, count: n * n)
        for t in 0..<steps {
            for i in 0..<nIn { eIn[i] = alpha * eIn[i] + x[t][i] }
            for i in 0..<n { eRec[i] = alpha * eRec[i] + (t > 0 && t1.spikes[t - 1][i] ? 1 : 0) }
            for j in 0..<n {
                let ls = lsg.out[t][j] * t1.psi[t][j]
                if ls == 0 { continue }
                for i in 0..<nIn { dIn[i * n + j] -= eta * ls * eIn[i] }
                for i in 0..<n where eRec[i] != 0 { dRec[i * n + j] -= eta * ls * eRec[i] }
            }
        }
        let newIn = zip(wInT, dIn).map { $0 + $1 }, newRec = zip(wRecT, dRec).map { $0 + $1 }
        let t2 = run(x: x, wIn: newIn, wRec: newRec, wOut: wOutT, n: n, outputs: 2, p: a.trainee)
        let k = ScorbotKinematics()
        return (loss(t1.out, target, k), loss(t2.out, target, k), Double(dIn.filter { $0 != 0 }.count) / Double(dIn.count),
                t2.spikes.reduce(0) { $0 + $1.filter { $0 }.count }, t2.out.flatMap { $0 })
    }
}
