/// Every top-level command, in the order `engram help` lists them (the arm workflow first, then
/// learning, then the PCM and perception tools). Add a command by writing its file under Commands/ and
/// naming it here.
enum Registry {
    static let commands: [any EngramCommand.Type] = [
        DemoCommand.self,
        RunCommand.self,
        RecordCommand.self,
        ReplayCommand.self,
        PlotCommand.self,
        CalibrateCommand.self,
        SimSerialCommand.self,
        PortsCommand.self,
        AdaptCommand.self,
        EvaluateCommand.self,
        MetaTrainCommand.self,
        PCMCommand.self,
        FewShotCommand.self,
        FewShotTrainCommand.self,
        FewShotRunsCommand.self,
        VersionCommand.self,
    ]
}
