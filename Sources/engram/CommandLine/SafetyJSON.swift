import Control

extension ControlLoopResult {
    /// The safety counters as `--json` prints them (`run`, `replay`, `demo`): what the envelope changed or
    /// refused, failed reads, and why the loop stopped.
    var safetyJSON: [String: Any] {
        let s = safety
        return ["clamped_to_limits": s.clampedToLimits, "rate_limited": s.rateLimited,
                "rejected_non_finite": s.rejectedNonFinite, "ease_in_ticks": s.easeInTicks,
                "failed_reads": s.failedReads, "rejected_readings": s.rejectedReadings, "stopped_on_fault": stoppedOnFault, "stop_reason": stopReason]
    }
}
