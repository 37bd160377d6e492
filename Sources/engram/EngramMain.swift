import EngramCommands
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The entry point: hands argv to `Dispatch` and exits with its status.
@main
struct EngramMain {
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        let status = Dispatch.main(Array(CommandLine.arguments.dropFirst()))
        exit(status)
    }
}
