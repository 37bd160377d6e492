/// Every top-level command, in the order `engram help` lists them. Add a command by writing its file
/// under Commands/ and naming it here.
enum Registry {
    static let commands: [any EngramCommand.Type] = [
        DemoCommand.self,
        VersionCommand.self,
        PCMCommand.self,
        AdaptCommand.self,
        EvaluateCommand.self,
        PlotCommand.self,
        RecordCommand.self,
        ReplayCommand.self,
        RunCommand.self,
        CalibrateCommand.self,
        PortsCommand.self,
        SimSerialCommand.self,
        FewShotCommand.self,
        FewShotTrainCommand.self,
        MetaTrainCommand.self,
    ]
}
