import Adaptation
import Foundation
import Kinematics
import MetaLearning
import PhaseChange
import Spiking
import Tensors
import Trajectories

/// The official controller when ../shared is present (found from the working directory or
/// ENGRAM_SHARED), otherwise the paper's initialisation (seed 1): (weights, source label).
private func benchmarkController() -> (ControllerWeights, String) {
    var candidates = ["../shared/reference/robot-l2l-official.safetensors", "/work/shared/reference/robot-l2l-official.safetensors"]
    if let env = ProcessInfo.processInfo.environment["ENGRAM_SHARED"] { candidates.insert(env + "/reference/robot-l2l-official.safetensors", at: 0) }
    for path in candidates where FileManager.default.fileExists(atPath: path) {
        if let c = try? ControllerCheckpoint(contentsOfFile: path) { return (c.weights, path) }
    }
    var rng = RandomSource(seed: 1)
    return (ControllerWeights(initializing: .paper, rng: &rng), "paper initialisation, seed 1")
}

/// Trainee step and whole one-shot adaptation, ideal and on PCM, plus a NumPy port of the same inner
/// loop timed in the same run (when python3 with numpy is available).
func runSpikingBenchmarks() {
    let (weights, source) = benchmarkController()
    let a = ControllerArchitecture.paper
    let family = TaskFamily<ScorbotKinematics>.paperScorbot
    let loss = TrajectoryLoss(family: family)
    let clock = a.clock.raster(steps: a.steps)

    // One trainee step: 255×250 [W_in; W_rec] crossbar (read noise on) + 250×2 readout crossbar.
    for (label, kind) in [("paper", PCMModelKind.paper), ("physical", PCMModelKind.physical)] {
        let p = PCMParameters(kind: kind)
        var rng = RandomSource(seed: 2)
        var net = RecurrentSpikingNetwork(inputCount: a.clockInputs, layer: LIFLayer(count: a.traineeNeurons, parameters: a.trainee),
                                          outputCount: a.outputs,
                                          synapses: Crossbar(rows: a.traineeSynapseRows, columns: a.traineeNeurons, parameters: p),
                                          readout: Crossbar(rows: a.traineeNeurons, columns: a.outputs, parameters: p))
        net.program(synapses: weights.traineeStacked, readout: weights.traineeReadout, at: 0, rng: &rng)
        var record = TrialRecord()
        net.run(clock, into: &record, at: 32, rng: &rng)
        let samples = sampleMicroseconds(repeats: 41, inner: 4) { net.run(clock, into: &record, at: 32, rng: &rng) }
        let perStep = samples.map { $0 / Double(a.steps) }
        emit("trainee_step_pcm_\(label)_255x250", [
            "median_us": quantile(perStep, 0.5), "p90_us": quantile(perStep, 0.9), "target_us": 10.0,
            "read_noise": p.readNoise, "rate_hz": record.meanRateHz(neurons: a.traineeNeurons),
            "note": "per step over a 249-step trial: clock + spike rows read with read noise, LIF update, readout crossbar",
        ])
    }
    do {
        var rng = RandomSource(seed: 2)
        var net = RecurrentSpikingNetwork(inputCount: a.clockInputs, layer: LIFLayer(count: a.traineeNeurons, parameters: a.trainee),
                                          outputCount: a.outputs, synapses: DenseSynapses(weights.traineeStacked),
                                          readout: DenseSynapses(weights.traineeReadout))
        var record = TrialRecord()
        let samples = sampleMicroseconds(repeats: 41, inner: 4) { net.run(clock, into: &record, at: 0, rng: &rng) }
        emit("trainee_step_dense_255x250", ["median_us": quantile(samples.map { $0 / Double(a.steps) }, 0.5), "note": "ideal float weights"])
    }

    // Whole one-shot adaptation on one core: program, trial 1, LSG, ΔW, rounding, programming, trial 2, loss.
    var taskRNG = RandomSource(seed: 3)
    let targets = (0..<8).map { _ in family.sample(&taskRNG) }
    func timeAdaptation<W: Synapses>(_ name: String, _ adapter: inout OneShotAdaptation<W, ScorbotKinematics>, note: String) {
        var rng = RandomSource(seed: 4)
        var k = 0
        var lossAfter = 0.0
        let samples = sampleMicroseconds(repeats: 24, inner: 1) {
            lossAfter += adapter.adapt(to: targets[k % targets.count], rng: &rng).lossAfter.total
            k += 1
        }
        emit(name, ["median_us": quantile(samples, 0.5), "p90_us": quantile(samples, 0.9), "target_us": 30_000.0,
                    "threads": 1, "note": note])
    }
    var ideal = OneShotAdaptation(architecture: a, weights: weights, loss: loss, quantize: false)
    timeAdaptation("one_shot_adaptation_ideal", &ideal, note: "dense float32 trainee, float update")
    var paper = OneShotAdaptation(architecture: a, weights: weights, loss: loss, quantize: true) {
        Crossbar(rows: $0, columns: $1, parameters: .paper)
    }
    timeAdaptation("one_shot_adaptation_pcm_paper", &paper, note: "paper PCM: init programming, read noise, 1/16 update, changed devices re-programmed")
    var physical = OneShotAdaptation(architecture: a, weights: weights, loss: loss, quantize: true) {
        Crossbar(rows: $0, columns: $1, parameters: .physical)
    }
    timeAdaptation("one_shot_adaptation_pcm_physical", &physical, note: "physical PCM: program-and-verify of 2 devices per weight at init")

    runNumPyReference(weights: weights, source: source, target: targets[0])
}

/// Times a straightforward NumPy (float32, vectorised per step) port of the ideal inner loop.
private func runNumPyReference(weights: ControllerWeights, source: String, target: TargetTrajectory) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("engram-bench-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let weightsPath = dir.appendingPathComponent("w.safetensors").path
    let targetPath = dir.appendingPathComponent("target.csv").path
    let scriptPath = dir.appendingPathComponent("inner_loop.py").path
    do {
        try ControllerCheckpoint(architecture: .paper, weights: weights).write(toFile: weightsPath)
        try TrajectoryFile(target: target, joints: ["base", "shoulder"]).write(toFile: targetPath)
        try numpyInnerLoop.write(toFile: scriptPath, atomically: true, encoding: .utf8)
    } catch {
        emit("one_shot_adaptation_numpy", ["skipped": "cannot write temporary files: \(error)"])
        return
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", scriptPath, weightsPath, targetPath]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = Pipe()
    do { try process.run() } catch {
        emit("one_shot_adaptation_numpy", ["skipped": "python3 not found"])
        return
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let out = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard process.terminationStatus == 0, let fields = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
          let median = fields["median_us"] as? Double else {
        emit("one_shot_adaptation_numpy", ["skipped": "python3 with numpy unavailable or failed (status \(process.terminationStatus))"])
        return
    }
    var adapter = OneShotAdaptation(architecture: .paper, weights: weights, loss: TrajectoryLoss(family: .paperScorbot), quantize: false)
    var rng = RandomSource(seed: 0)
    let swift = adapter.adapt(to: target, rng: &rng)
    emit("one_shot_adaptation_numpy", ["median_us": median, "loss_before": fields["loss_before"] as? Double ?? .nan,
                                       "loss_after": fields["loss_after"] as? Double ?? .nan,
                                       "swift_loss_before": swift.lossBefore.total, "swift_loss_after": swift.lossAfter.total,
                                       "numpy": fields["numpy"] as? String ?? "?", "threads": 1,
                                       "note": "float32 NumPy port of the ideal inner loop, vectorised per step; weights: \(source)"])
}

/// The NumPy reference: the same equations (paper-model.md §2), dense per-step matrix products.
private let numpyInnerLoop = #"""
import json, os, struct, sys, time
os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np

def load(path):
    b = open(path, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); out = {}
    for k, v in h.items():
        if k == "__metadata__": continue
        s, e = v["data_offsets"]; out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=np.float32).reshape(v["shape"])
    return out

W = load(sys.argv[1])
rows = [l for l in open(sys.argv[2]) if not l.startswith("#")]
cols = rows[0].strip().split(","); data = np.array([[float(x) for x in l.split(",")] for l in rows[1:]])
omega = data[:, [cols.index("base.vel"), cols.index("shoulder.vel")]].astype(np.float32)
ee = data[:, [cols.index("ee.x"), cols.index("ee.y"), cols.index("ee.z")]]
T = 249
clock = np.zeros((T, 5), np.float32)
for t in range(T):
    if (t % 50) % 10 == 0: clock[t, (t // 50) % 5] = 1
codes = (np.trunc((ee + 1) * 2 ** 15).astype(np.int64) & 0xFFFF)
bits = ((codes[:, :, None] >> np.arange(16)) & 1).reshape(T, 48).astype(np.float32)
lsg_x = np.concatenate([clock, bits], 1)

def run(x, w_in, w_rec, w_out, thr, n_ref=5, adaptive=0, beta=1.6, tau_a=600.0):
    n = w_rec.shape[0]; alpha = np.float32(np.exp(-1 / 20)); kappa = alpha
    w_rec = w_rec * (1 - np.eye(n, dtype=np.float32))
    v = np.zeros(n, np.float32); z = np.zeros(n, np.float32); r = np.zeros(n, np.float32)
    b = np.zeros(n, np.float32); y = np.zeros(w_out.shape[1], np.float32)
    betas = np.zeros(n, np.float32); betas[n - adaptive:] = beta; rho = np.float32(np.exp(-1 / tau_a))
    Z = np.zeros((len(x), n), np.float32); P = np.zeros((len(x), n), np.float32); Y = np.zeros((len(x), len(y)), np.float32)
    for t in range(len(x)):
        b = rho * b + z; a = thr + betas * b
        v = alpha * v + x[t] @ w_in + z @ w_rec - a * z
        ref = r > 0.1
        d = (v - a) / thr
        zn = np.where(ref, 0, (d > 0)).astype(np.float32)
        P[t] = np.where(ref, 0, np.maximum(0.3 * (1 - np.abs(d)), 0) / thr)
        r = np.clip(r + n_ref * zn - 1, 0, n_ref); z = zn
        y = kappa * y + z @ w_out
        Z[t] = z; Y[t] = y
    return Z, P, Y

def fk(q):
    deg = np.pi / 180; d1, a1, a2, a3, a4, d2, d3 = 0.3585, 0.05, 0.3, 0.35, 0.22, -0.098, 0.065
    A = -(q[:, 0] + 23.6 * deg) + 3745578344 / 9093467413; B = -(q[:, 1] - 22.0 * deg) - 3357166075 / 8743247601
    C = -(22.4 * deg) + 1421104251 / 3634967671
    cA, sA, cB, sB, cC, sC = np.cos(A), np.sin(A), np.cos(B), np.sin(B), np.cos(C), np.sin(C)
    x = a1 * cA + a2 * cA * cB - a3 * sB * sC * cA + a3 * cA * cB * cC + a4 * (-sB * sC * cA + cA * cB * cC) - d2 * sA - d3 * sA
    y = a1 * sA + a2 * sA * cB - a3 * sA * sB * sC + a3 * sA * cB * cC + a4 * (-sA * sB * sC + sA * cB * cC) + d2 * cA + d3 * cA
    z = -a2 * sB - a3 * sB * cC - a3 * sC * cB + a4 * (-sB * cC - sC * cB) + d1
    return np.stack([x, y, z], 1)

def loss(out):
    q = 0.01 * np.cumsum(out.astype(np.float64), 0)
    return 0.5 * np.mean((out - omega) ** 2) + 0.5 * np.mean((fk(q) - ee) ** 2)

def inner_loop():
    alpha = np.float32(np.exp(-1 / 20))
    Z1, P1, Y1 = run(clock, W["W_in_trainee"], W["W_rec_trainee"], W["W_out_trainee"], np.float32(0.6))
    _, _, L = run(lsg_x, W["W_in_lsg"], W["W_rec_lsg"], W["W_out_lsg"], np.float32(1.3), adaptive=240)
    e_in = np.zeros((T, 5), np.float32); e_rec = np.zeros((T, 250), np.float32); ei = np.zeros(5, np.float32); er = np.zeros(250, np.float32)
    for t in range(T):
        ei = alpha * ei + clock[t]; er = alpha * er + (Z1[t - 1] if t > 0 else 0); e_in[t] = ei; e_rec[t] = er
    LP = L * P1
    d_in = -1e-4 * np.einsum("tj,ti->ij", LP, e_in); d_rec = -1e-4 * np.einsum("tj,ti->ij", LP, e_rec)
    _, _, Y2 = run(clock, W["W_in_trainee"] + d_in, W["W_rec_trainee"] + d_rec, W["W_out_trainee"], np.float32(0.6))
    return loss(Y1), loss(Y2)

inner_loop()
times = []
for _ in range(7):
    t0 = time.perf_counter(); before, after = inner_loop(); times.append(time.perf_counter() - t0)
print(json.dumps({"median_us": 1e6 * sorted(times)[len(times) // 2], "loss_before": before, "loss_after": after, "numpy": np.__version__}))
"""#
