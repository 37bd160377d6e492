import Foundation
import ServoBus

/// `engram ports`: lists serial ports with their USB identity, to find the arm's adapter.
enum PortsCommand: EngramCommand {
    static let name = "ports"
    static let abstract = "List serial ports (name, USB VID:PID, description, serial number)"
    static let discussion = """
        Lists the serial ports libserialport can see. A ROBOTIS U2D2 shows as 0403:6014 (FTDI); Feetech and
        Waveshare bus-servo boards usually as 1a86:7523 or 1a86:55d3 (CH340/CH343). Pass the port's name to
        'engram run --port' or 'engram calibrate --port'. Pseudo-terminals from 'engram sim-serial' are not listed.
        """
    static let json = Flag("--json", "Print a JSON array instead of a table")
    static let options: [OptionSpec] = [json.spec]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let ports: [SerialPortInfo]
        do {
            ports = try SerialPortDiscovery.list()
        } catch {
            throw RuntimeError("could not list serial ports: \(error)")
        }
        if arguments[Self.json] {
            let objects: [[String: Any]] = ports.map { p in
                var o: [String: Any] = ["name": p.name, "description": p.description, "transport": p.transport]
                if let v = p.vendorID { o["vendor_id"] = Int(v) }
                if let v = p.productID { o["product_id"] = Int(v) }
                if let v = p.vendorProductID { o["vid_pid"] = v }
                if let v = p.manufacturer { o["manufacturer"] = v }
                if let v = p.product { o["product"] = v }
                if let v = p.serialNumber { o["serial_number"] = v }
                if let v = p.adapterHint { o["adapter"] = v }
                return o
            }
            let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return 0
        }
        guard !ports.isEmpty else {
            print("no serial ports found; plug in the bus adapter (U2D2, Waveshare board) and check 'dmesg' and the 'dialout' group")
            return 0
        }
        let rows = ports.map { p in
            [p.name, p.vendorProductID ?? "-", p.description, p.manufacturer ?? "-", p.serialNumber ?? "-", p.adapterHint ?? ""]
        }
        let header = ["PORT", "VID:PID", "DESCRIPTION", "MANUFACTURER", "SERIAL", "ADAPTER"]
        let widths = (0..<header.count).map { c in ([header] + rows).map { $0[c].count }.max() ?? 0 }
        for row in [header] + rows {
            let line = row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
            print(line.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        return 0
    }
}
