import Tensors
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// What a programming operation did.
public struct ProgrammingReport: Sendable, Equatable {
    /// Devices that received at least one pulse.
    public var devicesProgrammed: Int
    /// Programming pulses applied (program-and-verify may use several per device).
    public var pulses: Int
    /// A report of `devicesProgrammed` devices and `pulses` pulses.
    public init(devicesProgrammed: Int = 0, pulses: Int = 0) {
        self.devicesProgrammed = devicesProgrammed
        self.pulses = pulses
    }
}

/// Per-crossbar counters, plain integers so tests can assert them exactly.
public struct CrossbarAccounting: Sendable, Equatable {
    /// Devices programmed, summed over every programming operation.
    public var devicesProgrammed: Int
    /// Programming pulses.
    public var pulses: Int
    /// Matrix-vector products (dense or spike-input calls).
    public var mvms: Int
    /// DAC conversions: one per input row per tile it drives (dense path with an input DAC only).
    public var dacConversions: Int
    /// ADC conversions: one per output column per row tile (dense path with an output ADC only).
    public var adcConversions: Int
    /// All counters zero unless given.
    public init(devicesProgrammed: Int = 0, pulses: Int = 0, mvms: Int = 0, dacConversions: Int = 0, adcConversions: Int = 0) {
        self.devicesProgrammed = devicesProgrammed
        self.pulses = pulses
        self.mvms = mvms
        self.dacConversions = dacConversions
        self.adcConversions = adcConversions
    }
}

/// rows × columns differential pairs of PCM devices holding a weight matrix in units of w_max
/// (w ∈ [−1, 1] ↔ G⁺ − G⁻ ∈ [−g_max, g_max]); rows are inputs, columns outputs, so an MVM is y = Wᵀ x.
///
/// State (conductances, drift exponents, programming times) lives here; the device constants live in the
/// immutable `PCMParameters`; time and the random source are always arguments, so a seed reproduces every
/// number. Larger matrices are split into tiles of at most 256×256 for the periphery (each tile has its own
/// DAC scaling and ADCs; tile outputs are summed digitally).
///
/// - `paper` keeps one signed weight per synapse exactly as the official code does (drift baked in at
///   programming with t/t0 = 32; the read time is ignored).
/// - `physical` keeps both devices of every pair, each with its own programmed conductance, ν and
///   programming time, and evaluates drift and 1/f read noise at the read time (aihwkit PCMLikeNoiseModel).
///
/// The `mutating` on read paths is only for the accounting counters, the read-time cache and scratch space:
/// everything that depends only on the programming state and the read time (drift factors, read-noise
/// variances, the drift-compensation factor) is computed once per distinct read time.
public struct Crossbar: Sendable {
    /// Inputs (presynaptic).
    public let rows: Int
    /// Outputs (postsynaptic).
    public let columns: Int
    /// The device model.
    public let parameters: PCMParameters
    /// Counters since creation.
    public var accounting: CrossbarAccounting { counters }
    @usableFromInline var counters = CrossbarAccounting()

    /// Paper: the stored weight (drift included). Physical: unused.
    @usableFromInline var paperWeight: [Float]
    /// Paper: ν of each weight at its last programming (characterisation only).
    @usableFromInline var paperNu: [Float]
    /// Physical: the G⁺ and G⁻ devices.
    @usableFromInline var plus: DeviceArray
    @usableFromInline var minus: DeviceArray
    /// Distinct programming times; devices refer to them by index.
    @usableFromInline var programmingTimes: [Double] = []
    /// Bumped by every programming so caches know they are stale.
    @usableFromInline var generation = 0

    // Read-time cache.
    @usableFromInline var cacheTime = Double.nan
    @usableFromInline var cacheGeneration = -1
    /// Mean read weight at `cacheTime` (drift; with read noise on, the mean of the clipped noisy read).
    @usableFromInline var readMean: [Float]
    /// Read-noise variance per weight at `cacheTime`, weight units².
    @usableFromInline var readVariance: [Float]
    /// Output scale of global drift compensation at `cacheTime` (1 when off).
    @usableFromInline var compensation: Float = 1
    /// Readout mean_c |Σ_r W(t)[r, c]| of the drifted weights at `cacheTime`.
    @usableFromInline var cacheReadout = 1e-4
    /// Reference readout for drift compensation (nil until programmed).
    @usableFromInline var compensationReference: Double?
    @usableFromInline var eventDriftLog: [Double] = []
    @usableFromInline var eventReadFactor: [Double] = []

    // Scratch, sized once.
    @usableFromInline var scratchRows: [Float]
    @usableFromInline var scratchSum: [Float]
    @usableFromInline var scratchVariance: [Float]
    @usableFromInline var scratchOutput: [Float]

    /// An unprogrammed crossbar (every weight 0, every device at 0 µS and never drifting).
    public init(rows: Int, columns: Int, parameters: PCMParameters = .physical) {
        precondition(rows > 0 && columns > 0, "Crossbar needs at least one row and one column, got \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        self.parameters = parameters
        let n = rows * columns
        let physical = parameters.kind == .physical
        paperWeight = physical ? [] : [Float](repeating: 0, count: n)
        paperNu = physical ? [] : [Float](repeating: 0, count: n)
        plus = DeviceArray(count: physical ? n : 0)
        minus = DeviceArray(count: physical ? n : 0)
        readMean = [Float](repeating: 0, count: n)
        readVariance = [Float](repeating: 0, count: n)
        scratchRows = [Float](repeating: 0, count: rows)
        scratchSum = [Float](repeating: 0, count: columns)
        scratchVariance = [Float](repeating: 0, count: columns)
        scratchOutput = [Float](repeating: 0, count: columns)
    }

    /// Tiles along the rows (inputs).
    public var rowTiles: Int { (rows + PCMParameters.tileSize - 1) / PCMParameters.tileSize }
    /// Tiles along the columns (outputs).
    public var columnTiles: Int { (columns + PCMParameters.tileSize - 1) / PCMParameters.tileSize }

    // MARK: Programming

    /// First programming of every weight at time `time`. Paper mode: the official `init_weights` quirk
    /// (uniform ±0.01 and drift at t/t0 = 32, no σ_prog). Physical: program-and-verify with programming
    /// noise of both devices of every pair; the drift-compensation reference is taken at `time`.
    @discardableResult
    public mutating func programInitial(_ weights: Matrix, at time: Double, rng: inout RandomSource) -> ProgrammingReport {
        precondition(weights.rows == rows && weights.columns == columns,
                     "programInitial: weights are \(weights.rows)×\(weights.columns), crossbar is \(rows)×\(columns)")
        var report = ProgrammingReport()
        switch parameters.kind {
        case .paper:
            for i in 0..<weights.count {
                let (w, nu) = PCMDeviceModel.initialPaper(Double(weights.storage[i]), parameters, rng: &rng)
                paperWeight[i] = Float(w)
                paperNu[i] = Float(nu)
            }
            report = ProgrammingReport(devicesProgrammed: weights.count, pulses: weights.count)
        case .physical:
            let event = addProgrammingTime(time)
            let gMax = parameters.gMaxMicroSiemens
            for i in 0..<weights.count {
                let w = Double(min(max(weights.storage[i], -1), 1))
                report.pulses += plus.program(i, target: max(w, 0) * gMax, event: event, parameters, rng: &rng)
                report.pulses += minus.program(i, target: max(-w, 0) * gMax, event: event, parameters, rng: &rng)
            }
            report.devicesProgrammed = 2 * weights.count
        }
        generation += 1
        counters.devicesProgrammed += report.devicesProgrammed
        counters.pulses += report.pulses
        calibrateDriftCompensation(at: time)
        return report
    }

    /// Re-programs only the devices where `delta[r, c] != 0` (the caller has already quantized delta, e.g. to
    /// 1/16): target = clip(w + delta), with programming noise and (paper) drift; everything else untouched.
    /// Paper: the official `re_program` (w is the stored weight). Physical: w is the weight the pair
    /// represents at `time` (drift included), and only the device(s) whose target changed are re-programmed
    /// (G⁺ for a positive target, G⁻ for a negative one, both on a sign change), each starting to drift anew.
    @discardableResult
    public mutating func applyUpdate(_ delta: Matrix, at time: Double, rng: inout RandomSource) -> ProgrammingReport {
        precondition(delta.rows == rows && delta.columns == columns,
                     "applyUpdate: delta is \(delta.rows)×\(delta.columns), crossbar is \(rows)×\(columns)")
        var report = ProgrammingReport()
        switch parameters.kind {
        case .paper:
            for i in 0..<delta.count where delta.storage[i] != 0 {
                let w = Double(paperWeight[i]) + Double(delta.storage[i])
                let programmed = PCMDeviceModel.programPaper(w, parameters, rng: &rng)
                paperWeight[i] = Float(programmed.weight)
                paperNu[i] = Float(programmed.nu)
                report.devicesProgrammed += 1
                report.pulses += 1
            }
        case .physical:
            var event: Int32 = -1
            let gMax = parameters.gMaxMicroSiemens
            for i in 0..<delta.count where delta.storage[i] != 0 {
                if event < 0 { event = addProgrammingTime(time) }
                let current = physicalDriftedWeight(i, at: time)
                let w = min(max(current + Double(delta.storage[i]), -1), 1)
                let targetPlus = max(w, 0) * gMax, targetMinus = max(-w, 0) * gMax
                if targetPlus != 0 || plus.target[i] != 0 {
                    report.pulses += plus.program(i, target: targetPlus, event: event, parameters, rng: &rng)
                    report.devicesProgrammed += 1
                }
                if targetMinus != 0 || minus.target[i] != 0 {
                    report.pulses += minus.program(i, target: targetMinus, event: event, parameters, rng: &rng)
                    report.devicesProgrammed += 1
                }
            }
        }
        if report.devicesProgrammed > 0 { generation += 1 }
        counters.devicesProgrammed += report.devicesProgrammed
        counters.pulses += report.pulses
        return report
    }

    /// Takes the drift-compensation reference readout mean_c |Σ_r W(time)[r, c]| now (done by
    /// `programInitial`; call again after large re-programming to re-baseline, as aihwkit does per program).
    public mutating func calibrateDriftCompensation(at time: Double) {
        compensationReference = nil
        recomputeCache(at: time)
        compensationReference = cacheReadout
        compensation = parameters.driftCompensation ? 1 : compensation
    }

    @usableFromInline
    mutating func addProgrammingTime(_ time: Double) -> Int32 {
        if let last = programmingTimes.last, last == time { return Int32(programmingTimes.count - 1) }
        programmingTimes.append(time)
        return Int32(programmingTimes.count - 1)
    }

    // MARK: Reading without noise

    /// The weights the crossbar currently represents at read time `time` (drift included, no read noise,
    /// no drift compensation). Paper mode ignores `time` (fixed t/t0 = 32 baked in at programming).
    public func weights(at time: Double) -> Matrix {
        switch parameters.kind {
        case .paper:
            return Matrix(rows: rows, columns: columns, storage: paperWeight)
        case .physical:
            var m = Matrix(rows: rows, columns: columns)
            for i in 0..<m.count { m.storage[i] = Float(physicalDriftedWeight(i, at: time)) }
            return m
        }
    }

    /// Conductances (µS) of the G⁺ and G⁻ devices at `time`, drift included, no read noise.
    /// Paper mode derives them from the signed weight (the other device is 0).
    public func conductances(at time: Double) -> (plus: [Float], minus: [Float]) {
        let gMax = Float(parameters.gMaxMicroSiemens)
        switch parameters.kind {
        case .paper:
            return (paperWeight.map { max($0, 0) * gMax }, paperWeight.map { max(-$0, 0) * gMax })
        case .physical:
            var p = [Float](repeating: 0, count: plus.count), m = p
            for i in 0..<p.count {
                p[i] = Float(plus.drifted(i, at: time, programmingTimes, parameters))
                m[i] = Float(minus.drifted(i, at: time, programmingTimes, parameters))
            }
            return (p, m)
        }
    }

    /// Drift exponents ν (G⁺ devices for physical; per weight for paper), for characterisation.
    public var driftExponents: [Float] { parameters.kind == .paper ? paperNu : plus.nu }

    /// The weights the MVM paths read on average at `time`: drift, the mean of the clipped read noise, and the
    /// drift-compensation factor included (what `accumulateActiveRows` adds per active row, before noise).
    /// Use this, not `weights(at:)`, to cancel an entry exactly (e.g. a masked diagonal).
    public mutating func meanReadWeights(at time: Double) -> Matrix {
        refreshCache(at: time)
        let a = compensation
        return Matrix(rows: rows, columns: columns, storage: a == 1 ? readMean : readMean.map { $0 * a })
    }

    /// The factor global drift compensation applies to outputs at `time` (1 when off).
    public mutating func driftCompensationFactor(at time: Double) -> Float {
        refreshCache(at: time)
        return compensation
    }

    @usableFromInline
    func physicalDriftedWeight(_ i: Int, at time: Double) -> Double {
        (plus.drifted(i, at: time, programmingTimes, parameters) - minus.drifted(i, at: time, programmingTimes, parameters))
            / parameters.gMaxMicroSiemens
    }


    // MARK: Read-time cache

    /// Recomputes the mean read weights, read-noise variances and compensation factor for `time` unless they
    /// are already current. Physical cost: one exp per device (ln and sqrt only per programming event).
    @inlinable
    public mutating func refreshCache(at time: Double) {
        if cacheGeneration == generation && (time == cacheTime || parameters.kind == .paper) { return }
        recomputeCache(at: time)
    }

    @usableFromInline
    mutating func recomputeCache(at time: Double) {
        let p = parameters
        let n = rows * columns
        var columnSums = [Double](repeating: 0, count: columns)
        switch p.kind {
        case .paper:
            for i in 0..<n {
                let w = Double(paperWeight[i])
                columnSums[i % columns] += w
                if p.readNoise && w != 0 {
                    let s = PCMDeviceModel.paperReadSigma(w, p)
                    let (m, s2) = PCMDeviceModel.clippedNormalMoments(mean: abs(w), std: s)
                    readMean[i] = Float(w < 0 ? -m : m)
                    readVariance[i] = Float(max(s2 - m * m, 0))
                } else {
                    readMean[i] = Float(w)
                    readVariance[i] = 0
                }
            }
        case .physical:
            let events = programmingTimes.count
            if eventDriftLog.count != events {
                eventDriftLog = [Double](repeating: 0, count: events)
                eventReadFactor = [Double](repeating: 0, count: events)
            }
            for e in 0..<events {
                let dt = time - programmingTimes[e]
                eventDriftLog[e] = p.drift ? PCMDeviceModel.physicalDriftLog(sinceProgramming: dt, p) : 0
                eventReadFactor[e] = p.readNoise ? PCMDeviceModel.physicalReadTimeFactor(sinceProgramming: dt, p) : 0
            }
            let invG = 1 / p.gMaxMicroSiemens
            let columns = self.columns
            eventDriftLog.withUnsafeBufferPointer { driftLog in
                eventReadFactor.withUnsafeBufferPointer { readFactor in
                    readMean.withUnsafeMutableBufferPointer { mean in
                        readVariance.withUnsafeMutableBufferPointer { variance in
                            columnSums.withUnsafeMutableBufferPointer { sums in
                                for (device, sign) in [(plus, 1.0), (minus, -1.0)] {
                                    device.accumulateReadMoments(
                                        sign: sign, driftLog: driftLog.baseAddress!, readFactor: readFactor.baseAddress!,
                                        scale: invG, columns: columns, mean: mean.baseAddress!,
                                        variance: variance.baseAddress!, columnSums: sums.baseAddress!)
                                }
                            }
                        }
                    }
                }
            }
        }
        // aihwkit GlobalDriftCompensation.readout: mean_c |Σ_r W(t)[r, c]|, clamped below at 1e-4.
        cacheReadout = max(columnSums.reduce(0) { $0 + abs($1) } / Double(columns), 1e-4)
        if p.driftCompensation, let reference = compensationReference {
            compensation = Float(reference / cacheReadout)
        } else {
            compensation = 1
        }
        cacheTime = time
        cacheGeneration = generation
    }

    // MARK: MVMs

    /// Binary-input fast path: y[c] += Σ_{r ∈ active} W_eff[r, c] + read noise (drawn from `rng`; the noise of
    /// a sum of independent per-device noises is drawn directly on the output: variance Σ_{r∈active} σ²[r,c]).
    /// No allocation; read time `time` (seconds). Drift compensation, when on, scales the added amount.
    /// With `active` in increasing order this equals `multiplyTransposed` of the 0/1 vector under an ideal
    /// periphery, bit for bit and draw for draw (one standard normal per column, in column order).
    @inlinable
    public mutating func accumulateActiveRows(_ active: UnsafeBufferPointer<Int32>,
                                              into y: UnsafeMutablePointer<Float>, at time: Double,
                                              rng: inout RandomSource) {
        refreshCache(at: time)
        counters.mvms += 1
        if active.isEmpty { return }
        let columns = self.columns, rows = self.rows
        for r in active { precondition(r >= 0 && Int(r) < rows, "accumulateActiveRows: row \(r) outside 0..<\(rows)") }
        let noisy = parameters.readNoise
        let scale = compensation
        if !noisy && scale == 1 {
            readMean.withUnsafeBufferPointer { w in
                Kernels.accumulateRows(w.baseAddress!, columns: columns, selected: active, into: y)
            }
            return
        }
        scratchSum.withUnsafeMutableBufferPointer { sum in
            scratchVariance.withUnsafeMutableBufferPointer { variance in
                let s = sum.baseAddress!, v = variance.baseAddress!
                s.update(repeating: 0, count: columns)
                readMean.withUnsafeBufferPointer { w in
                    Kernels.accumulateRows(w.baseAddress!, columns: columns, selected: active, into: s)
                }
                if noisy {
                    v.update(repeating: 0, count: columns)
                    readVariance.withUnsafeBufferPointer { w in
                        Kernels.accumulateRows(w.baseAddress!, columns: columns, selected: active, into: v)
                    }
                    Crossbar.addNoise(s, variance: v, count: columns, rng: &rng)
                }
                for c in 0..<columns { y[c] += scale * s[c] }
            }
        }
    }

    /// s[c] += sqrt(v[c])·z_c, one ziggurat draw per column in order.
    @inlinable
    static func addNoise(_ s: UnsafeMutablePointer<Float>, variance v: UnsafePointer<Float>, count: Int,
                         rng: inout RandomSource) {
        let zig = GaussianZiggurat.shared
        zig.edges.withUnsafeBufferPointer { x in
            zig.ratios.withUnsafeBufferPointer { ratio in
                for c in 0..<count {
                    let z = GaussianZiggurat.draw(&rng, x.baseAddress!, ratio.baseAddress!)
                    s[c] += v[c].squareRoot() * Float(z)
                }
            }
        }
    }

    /// y = W_effᵀ x (y has `columns` entries, overwritten) with read noise (output variance Σ_r x_r² σ²[r,c]),
    /// plus DAC/ADC quantization and output noise when those are enabled in `parameters.io`, and drift
    /// compensation when on. No allocation.
    @inlinable
    public mutating func multiplyTransposed(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                                            at time: Double, rng: inout RandomSource) {
        refreshCache(at: time)
        counters.mvms += 1
        let io = parameters.io
        if io.isIdeal {
            multiplyIdeal(x, into: y, rng: &rng)
        } else {
            multiplyWithPeriphery(x, into: y, io: io, rng: &rng)
        }
        if compensation != 1 {
            let a = compensation
            for c in 0..<columns { y[c] *= a }
        }
    }

    @inlinable
    mutating func multiplyIdeal(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rng: inout RandomSource) {
        let rows = self.rows, columns = self.columns
        readMean.withUnsafeBufferPointer { w in
            Kernels.matvecTransposed(w.baseAddress!, rows: rows, columns: columns, x, into: y)
        }
        guard parameters.readNoise else { return }
        scratchRows.withUnsafeMutableBufferPointer { sq in
            scratchVariance.withUnsafeMutableBufferPointer { variance in
                let x2 = sq.baseAddress!, v = variance.baseAddress!
                for r in 0..<rows { x2[r] = x[r] * x[r] }
                readVariance.withUnsafeBufferPointer { w in
                    Kernels.matvecTransposed(w.baseAddress!, rows: rows, columns: columns, x2, into: v)
                }
                Crossbar.addNoise(y, variance: v, count: columns, rng: &rng)
            }
        }
    }

    @inlinable
    mutating func multiplyWithPeriphery(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                                        io: PCMIOParameters, rng: inout RandomSource) {
        let rows = self.rows, columns = self.columns
        let tile = PCMParameters.tileSize
        let noisy = parameters.readNoise
        let inputStep = io.inputStep.map { Float($0) }
        let outputStep = io.outputStep.map { Float($0) }
        let inBound = Float(io.inputBound), outBound = Float(io.outputBound)
        let outNoise = Float(io.outputNoise)
        let columnTiles = self.columnTiles
        let iterative = io.boundManagement == .iterative
        // aihwkit stops once the reduction exceeds max_bm_factor or max_bm_res / Δ_in.
        var maxReduction = Float(io.maxBoundManagementFactor)
        if let step = io.inputStep { maxReduction = min(maxReduction, Float(io.maxBoundManagementResolution / step)) }
        y.update(repeating: 0, count: columns)
        var dac = 0, adc = 0
        let zig = GaussianZiggurat.shared
        readMean.withUnsafeBufferPointer { wMean in
        readVariance.withUnsafeBufferPointer { wVar in
        scratchRows.withUnsafeMutableBufferPointer { xqBuffer in
        scratchSum.withUnsafeMutableBufferPointer { sumBuffer in
        scratchVariance.withUnsafeMutableBufferPointer { varBuffer in
        scratchOutput.withUnsafeMutableBufferPointer { outBuffer in
        zig.edges.withUnsafeBufferPointer { zx in
        zig.ratios.withUnsafeBufferPointer { zr in
            let xq = xqBuffer.baseAddress!, s = sumBuffer.baseAddress!, v = varBuffer.baseAddress!
            let o = outBuffer.baseAddress!
            var r0 = 0
            while r0 < rows {
                let r1 = min(r0 + tile, rows)
                // Noise management: scale the tile's input slice into ±inputBound.
                var scale: Float = 1
                if io.noiseManagement == .absMax {
                    var m: Float = 0
                    for r in r0..<r1 { m = max(m, abs(x[r])) }
                    // aihwkit: an all-zero input gives an all-zero output (no noise).
                    if m == 0 { r0 = r1; continue }
                    scale = m
                }
                // Iterative bound management: halve the input while any output clips (aihwkit).
                var reduction: Float = 1
                while true {
                    let inv = 1 / (scale * reduction)
                    for r in r0..<r1 {
                        var xr = x[r] * inv
                        if let step = inputStep { xr = (xr / step).rounded(.toNearestOrEven) * step }
                        xq[r] = min(max(xr, -inBound), inBound)
                    }
                    if inputStep != nil { dac += (r1 - r0) * columnTiles }
                    s.update(repeating: 0, count: columns)
                    for r in r0..<r1 where xq[r] != 0 {
                        Kernels.axpy(xq[r], wMean.baseAddress! + r * columns, s, count: columns)
                    }
                    if noisy {
                        v.update(repeating: 0, count: columns)
                        for r in r0..<r1 where xq[r] != 0 {
                            Kernels.axpy(xq[r] * xq[r], wVar.baseAddress! + r * columns, v, count: columns)
                        }
                    }
                    var clipped = false
                    for c in 0..<columns {
                        var out = s[c]
                        if noisy { out += v[c].squareRoot() * Float(GaussianZiggurat.draw(&rng, zx.baseAddress!, zr.baseAddress!)) }
                        if outNoise > 0 { out += outNoise * Float(GaussianZiggurat.draw(&rng, zx.baseAddress!, zr.baseAddress!)) }
                        if let step = outputStep { out = (out / step).rounded(.toNearestOrEven) * step }
                        if out > outBound || out < -outBound { clipped = true }
                        o[c] = min(max(out, -outBound), outBound)
                    }
                    if outputStep != nil { adc += columns }
                    if !clipped || !iterative || reduction > maxReduction { break }
                    reduction *= 2
                }
                let back = scale * reduction
                for c in 0..<columns { y[c] += o[c] * back }
                r0 = r1
            }
        }}}}}}}}
        counters.dacConversions += dac
        counters.adcConversions += adc
    }
}

/// One polarity of devices (all G⁺ or all G⁻ of a crossbar): programmed conductance, target, drift exponent,
/// read-noise scale and programming event of each.
@usableFromInline
struct DeviceArray: Sendable {
    /// Programmed conductance g_prog, µS.
    @usableFromInline var conductance: [Float]
    /// Target conductance, µS.
    @usableFromInline var target: [Float]
    /// Drift exponent ν.
    @usableFromInline var nu: [Float]
    /// Q_s of the programmed conductance (physical, normalised).
    @usableFromInline var qs: [Float]
    /// Index into the crossbar's programming times; −1 for a device never programmed.
    @usableFromInline var event: [Int32]

    @usableFromInline
    init(count: Int) {
        conductance = [Float](repeating: 0, count: count)
        target = conductance
        nu = conductance
        qs = conductance
        event = [Int32](repeating: -1, count: count)
    }

    @usableFromInline var count: Int { conductance.count }

    /// Programs device `i` to `target` µS (physical model); returns the pulses used.
    @usableFromInline
    mutating func program(_ i: Int, target t: Double, event e: Int32, _ p: PCMParameters, rng: inout RandomSource) -> Int {
        let (g, pulses) = PCMDeviceModel.programPhysical(target: t, p, rng: &rng)
        conductance[i] = Float(g)
        target[i] = Float(t)
        nu[i] = p.drift ? Float(PCMDeviceModel.drawDriftExponent(t / p.gMaxMicroSiemens, rng: &rng)) : 0
        qs[i] = Float(PCMDeviceModel.physicalQs(g / p.gMaxMicroSiemens))
        event[i] = e
        return pulses
    }

    /// g_prog·((t − t_prog + t0)/t0)^(−ν) at wall time `time`.
    @usableFromInline
    func drifted(_ i: Int, at time: Double, _ times: [Double], _ p: PCMParameters) -> Double {
        let e = Int(event[i])
        let g = Double(conductance[i])
        guard e >= 0, p.drift, g != 0 else { return g }
        return g * exp(-Double(nu[i]) * PCMDeviceModel.physicalDriftLog(sinceProgramming: time - times[e], p))
    }

    /// Adds this polarity's share of every weight's read moments at one read time: `mean[i] (+)= sign·m_i·scale`,
    /// `variance[i] (+)= v_i·scale²`, `columnSums[c] += sign·g_d·scale` (sign +1, the G⁺ pass, overwrites
    /// `mean` and `variance`). m_i and v_i are the mean and variance of max(0, g_d(1 + k Z)) with
    /// k = Q_s·R: g_d·M(k) and g_d²·V(k) from `PCMDeviceModel.relativeClippedMoments`, so no erfc per device.
    @usableFromInline
    func accumulateReadMoments(sign: Double, driftLog: UnsafePointer<Double>, readFactor: UnsafePointer<Double>,
                               scale: Double, columns: Int, mean: UnsafeMutablePointer<Float>,
                               variance: UnsafeMutablePointer<Float>, columnSums: UnsafeMutablePointer<Double>) {
        let overwrite = sign > 0
        let table = RelativeClippedMomentTable.shared
        table.means.withUnsafeBufferPointer { tableMeans in
        table.variances.withUnsafeBufferPointer { tableVariances in
        conductance.withUnsafeBufferPointer { gs in
        nu.withUnsafeBufferPointer { nus in
        qs.withUnsafeBufferPointer { qss in
        event.withUnsafeBufferPointer { events in
            let n = gs.count
            var c = 0
            for i in 0..<n {
                let e = Int(events[i])
                let g = Double(gs[i])
                var gd = 0.0, m = 0.0, v = 0.0
                if e >= 0 && g != 0 {
                    let l = driftLog[e]
                    gd = l == 0 ? g : g * exp(-Double(nus[i]) * l)
                    let k = Double(qss[i]) * readFactor[e]
                    if k < 0.125 {
                        m = gd
                        v = gd * gd * k * k
                    } else if k < 2 {
                        let x = k * RelativeClippedMomentTable.stepsPerUnit
                        let j = Int(x)
                        let f = x - Double(j)
                        m = gd * (tableMeans[j] + f * (tableMeans[j + 1] - tableMeans[j]))
                        v = gd * gd * k * k * (tableVariances[j] + f * (tableVariances[j + 1] - tableVariances[j]))
                    } else {
                        let (m1, v1) = PCMDeviceModel.relativeClippedMoments(k)
                        m = gd * m1
                        v = gd * gd * v1
                    }
                } else {
                    gd = g; m = g
                }
                if overwrite {
                    mean[i] = Float(m * scale)
                    variance[i] = Float(v * scale * scale)
                } else {
                    mean[i] = Float(Double(mean[i]) - m * scale)
                    variance[i] += Float(v * scale * scale)
                }
                columnSums[c] += sign * gd * scale
                c += 1
                if c == columns { c = 0 }
            }
        }}}}}}
    }
}
