import Adaptation
import Foundation
import Kinematics
import Spiking
import Tensors
import Trajectories

/// A source of target trajectories for meta-training: any arm with forward kinematics and the joints
/// the controller drives.
public protocol MetaTaskSampler: Sendable {
    /// The arm's forward kinematics (the loss integrates the trainee's output through it).
    var anyKinematics: any ForwardKinematics { get }
    /// Joint index in the kinematics of each controller output.
    var drivenJoints: [Int] { get }
    /// Angles of all joints before the first step, rad (the integration start of the loss).
    var restAngles: [Double] { get }
    /// Draws one task.
    func sampleTarget(_ rng: inout RandomSource) -> MetaTaskTarget
}

extension TaskFamily: MetaTaskSampler {
    /// The family's kinematics, type-erased.
    public var anyKinematics: any ForwardKinematics { kinematics }

    /// One task from `sample(_:)`, in the meta-gradient's layout.
    public func sampleTarget(_ rng: inout RandomSource) -> MetaTaskTarget {
        MetaTaskTarget(sample(&rng))
    }
}

extension WholeArmTaskFamily: MetaTaskSampler {
    /// One window of human-like motion, in the meta-gradient's layout.
    public func sampleTarget(_ rng: inout RandomSource) -> MetaTaskTarget {
        let s = sample(&rng)
        return MetaTaskTarget(velocities: s.trajectory.angularVelocity, positions: s.trajectory.angles, startAngles: s.startAngles)
    }
}

extension MetaTaskTarget {
    /// The meta-gradient's view of a task family's trajectory.
    public init(_ trajectory: TargetTrajectory) {
        var positions = [Double]()
        positions.reserveCapacity(trajectory.endEffector.count * 3)
        for p in trajectory.endEffector { positions += [p.x, p.y, p.z] }
        self.init(velocities: trajectory.angularVelocity, positions: positions)
    }
}

extension MetaArchitecture {
    /// The meta-gradient architecture of a controller architecture. The tape uses one membrane and readout
    /// time constant, refractory period and dampening for both networks: the trainee's.
    public init(_ c: ControllerArchitecture) {
        self.init()
        traineeNeurons = c.traineeNeurons
        outputs = c.outputs
        clockInputs = c.clock.neurons
        clockWindowSteps = c.clock.windowSteps
        clockSpikeInterval = c.clock.spikeEvery
        lsgAdaptiveNeurons = c.lsgAdaptation.count
        lsgPlainNeurons = c.lsgNeurons - c.lsgAdaptation.count
        codeBits = c.codeBits
        codedCoordinates = c.coordinates
        steps = c.steps
        traineeThreshold = c.trainee.threshold
        lsgThreshold = c.lsg.threshold
        tauMembraneMs = c.trainee.tauMembraneMs
        tauOutputMs = c.trainee.tauOutputMs
        refractorySteps = c.trainee.refractorySteps
        dampening = c.trainee.dampening
        adaptationStrength = c.lsgAdaptation.beta
        tauAdaptationMs = c.lsgAdaptation.tauMs
        innerLearningRate = c.innerLearningRate
        proprioception = c.proprioception
        jointTarget = c.jointTarget
    }

    /// The controller architecture for checkpoints.
    public var controller: ControllerArchitecture {
        var c = ControllerArchitecture(
            traineeNeurons: traineeNeurons, outputs: outputs,
            trainee: LIFParameters(threshold: traineeThreshold, tauMembraneMs: tauMembraneMs, tauOutputMs: tauOutputMs,
                                   refractorySteps: refractorySteps, dampening: dampening),
            lsgNeurons: lsgNeurons,
            lsg: LIFParameters(threshold: lsgThreshold, tauMembraneMs: tauMembraneMs, tauOutputMs: tauOutputMs,
                               refractorySteps: refractorySteps, dampening: dampening),
            lsgAdaptation: ThresholdAdaptation(count: lsgAdaptiveNeurons, beta: adaptationStrength, tauMs: tauAdaptationMs),
            clock: ClockInput(neurons: clockInputs, windowSteps: clockWindowSteps, spikeEvery: clockSpikeInterval),
            coordinates: codedCoordinates, codeBits: codeBits, steps: steps, innerLearningRate: innerLearningRate)
        c.proprioception = proprioception
        c.jointTarget = jointTarget
        return c
    }

    /// Why the tape cannot run `c` exactly (it shares neuron constants between the networks), or nil.
    public static func unsupportedDifference(in c: ControllerArchitecture) -> String? {
        let t = c.trainee, l = c.lsg
        if t.tauMembraneMs != l.tauMembraneMs || t.tauOutputMs != l.tauOutputMs || t.refractorySteps != l.refractorySteps || t.dampening != l.dampening {
            return "trainee and LSG differ in τ_m, τ_out, refractory steps or dampening; meta-training needs them equal"
        }
        return nil
    }
}

extension MetaParameters where Scalar == Float {
    /// The weights of a controller checkpoint.
    public init(_ w: ControllerWeights) {
        self.init(tensors: [w.traineeInput, w.traineeRecurrent, w.traineeReadout, w.lsgInput, w.lsgRecurrent, w.lsgReadout].map { $0.storage })
    }

    /// As controller weights for `architecture`.
    public func controllerWeights(_ a: MetaArchitecture) -> ControllerWeights {
        func m(_ name: MetaParameterName) -> Matrix {
            let s = a.shape(of: name)
            return Matrix(rows: s.rows, columns: s.columns, storage: self[name])
        }
        return ControllerWeights(traineeInput: m(.traineeInput), traineeRecurrent: m(.traineeRecurrent), traineeReadout: m(.traineeOutput),
                                 lsgInput: m(.lsgInput), lsgRecurrent: m(.lsgRecurrent), lsgReadout: m(.lsgOutput))
    }
}
