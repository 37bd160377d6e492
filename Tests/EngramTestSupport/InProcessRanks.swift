import Foundation
import Tensors

/// Ranks as threads of one process, for testing data-parallel code without MPI: `member(r)` is rank r's
/// `RankGroup`; each collective waits for every rank and combines the buffers in rank order.
public final class InProcessRanks: @unchecked Sendable {
    public let size: Int
    private let condition = NSCondition()
    private var arrived = 0, generation = 0
    private var buffers: [UnsafeMutableRawPointer?]

    public init(size: Int) {
        self.size = size
        buffers = [UnsafeMutableRawPointer?](repeating: nil, count: size)
    }

    /// Rank `rank`'s view.
    public func member(_ rank: Int) -> RankGroup { Member(ranks: self, rank: rank) }

    /// Runs `body(group)` for every rank on a thread of its own (all at once: the collectives wait for
    /// every rank); returns the results in rank order.
    public func run<T: Sendable>(_ body: @escaping @Sendable (RankGroup) -> T) -> [T] {
        let box = Results<T>(size)
        let done = DispatchGroup()
        for r in 0..<size {
            done.enter()
            let member = member(r)
            Thread {
                let v = body(member)
                box.lock.lock(); box.values[r] = v; box.lock.unlock()
                done.leave()
            }.start()
        }
        done.wait()
        return box.values.map { $0! }
    }

    private final class Results<T>: @unchecked Sendable {
        let lock = NSLock()
        var values: [T?]
        init(_ n: Int) { values = [T?](repeating: nil, count: n) }
    }

    private func barrier() {
        condition.lock()
        let g = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while g == generation { condition.wait() }
        }
        condition.unlock()
    }

    fileprivate func allreduce<T>(_ rank: Int, _ values: UnsafeMutableBufferPointer<T>, _ combine: (T, T) -> T) {
        condition.lock(); buffers[rank] = UnsafeMutableRawPointer(values.baseAddress); condition.unlock()
        barrier()
        var result = [T]()
        result.reserveCapacity(values.count)
        condition.lock(); let all = buffers.map { $0!.assumingMemoryBound(to: T.self) }; condition.unlock()
        for i in 0..<values.count {
            var acc = all[0][i]
            for r in 1..<size { acc = combine(acc, all[r][i]) }
            result.append(acc)
        }
        barrier()
        for i in 0..<values.count { values[i] = result[i] }
        barrier()
    }

    private final class Member: RankGroup, @unchecked Sendable {
        let ranks: InProcessRanks
        let rank: Int
        var size: Int { ranks.size }
        init(ranks: InProcessRanks, rank: Int) { self.ranks = ranks; self.rank = rank }
        func sum(_ values: UnsafeMutableBufferPointer<Double>) { ranks.allreduce(rank, values, +) }
        func sum(_ values: UnsafeMutableBufferPointer<Int64>) { ranks.allreduce(rank, values, &+) }
        func max(_ values: UnsafeMutableBufferPointer<Int16>) { ranks.allreduce(rank, values, Swift.max) }
    }
}
