/// Any arm's forward kinematics behind one concrete type, so generic task families and losses can use a
/// kinematics chosen at run time (`RobotDescription.forwardKinematics` in Robot).
public struct AnyKinematics: ForwardKinematics {
    /// The wrapped kinematics.
    public let base: any ForwardKinematics
    /// Wraps `base`.
    public init(_ base: any ForwardKinematics) { self.base = base }
    /// `base.jointCount`.
    public var jointCount: Int { base.jointCount }
    /// `base.position(q)`.
    public func position(_ q: [Double]) -> SIMD3<Double> { base.position(q) }
    /// `base.jacobian(q)`.
    public func jacobian(_ q: [Double]) -> [SIMD3<Double>] { base.jacobian(q) }
}
