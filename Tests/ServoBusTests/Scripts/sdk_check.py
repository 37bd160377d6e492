"""Drives an emulated bus with the official vendor SDK; prints one JSON line with what it saw.

Usage: python3 sdk_check.py dynamixel|feetech PORT
Exit 3 when the SDK is not installed (the Swift test then skips with a message).
"""
import json
import sys

kind, port_name = sys.argv[1], sys.argv[2]
out = {}
try:
    if kind == "dynamixel":
        import dynamixel_sdk as sdk
    else:
        import scservo_sdk as sdk
except ImportError as e:
    print(json.dumps({"skip": str(e)}))
    sys.exit(3)

port = sdk.PortHandler(port_name)
assert port.openPort(), "openPort failed"
assert port.setBaudRate(1000000), "setBaudRate failed"

if kind == "dynamixel":
    ph = sdk.PacketHandler(2.0)
    model, res, err = ph.ping(port, 1)
    out["ping"] = [model, res, err]
    res, err = ph.write1ByteTxRx(port, 1, 64, 1)            # Torque_Enable
    out["torque"] = [res, err]
    res, err = ph.write4ByteTxRx(port, 1, 116, 3000)        # Goal_Position
    out["goal"] = [res, err]
    goal, res, err = ph.read4ByteTxRx(port, 1, 116)
    out["read_goal"] = [goal, res, err]
    res, err = ph.write1ByteTxRx(port, 1, 11, 1)            # Operating_Mode with torque on: access error
    out["eeprom_with_torque"] = [res, err]
    sync = sdk.GroupSyncRead(port, ph, 132, 4)              # Present_Position
    for i in range(1, 7):
        sync.addParam(i)
    res = sync.txRxPacket()
    out["sync_read"] = [res] + [sync.getData(i, 132, 4) if sync.isAvailable(i, 132, 4) else None for i in range(1, 7)]
    write = sdk.GroupSyncWrite(port, ph, 116, 4)
    for i in range(2, 7):
        v = 1000 + i
        write.addParam(i, [v & 0xFF, (v >> 8) & 0xFF, 0, 0])
    out["sync_write"] = write.txPacket()
    goals = [ph.read4ByteTxRx(port, i, 116)[0] for i in range(2, 7)]
    out["goals_after_sync_write"] = goals
    found, res = ph.broadcastPing(port)
    out["broadcast_ping"] = sorted(found.keys())
else:
    ph = sdk.PacketHandler(0)
    model, res, err = ph.ping(port, 1)
    out["ping"] = [model, res, err]
    res, err = ph.write1ByteTxRx(port, 1, 40, 1)            # Torque_Enable
    out["torque"] = [res, err]
    res, err = ph.write2ByteTxRx(port, 1, 42, 3000)         # Goal_Position
    out["goal"] = [res, err]
    goal, res, err = ph.read2ByteTxRx(port, 1, 42)
    out["read_goal"] = [goal, res, err]
    sync = sdk.GroupSyncRead(port, ph, 56, 2)               # Present_Position
    for i in range(1, 7):
        sync.addParam(i)
    res = sync.txRxPacket()
    out["sync_read"] = [res] + [sync.getData(i, 56, 2) if sync.isAvailable(i, 56, 2) else None for i in range(1, 7)]
    write = sdk.GroupSyncWrite(port, ph, 42, 2)
    for i in range(2, 7):
        v = 1000 + i
        write.addParam(i, [v & 0xFF, (v >> 8) & 0xFF])
    out["sync_write"] = write.txPacket()
    goals = [ph.read2ByteTxRx(port, i, 42)[0] for i in range(2, 7)]
    out["goals_after_sync_write"] = goals

port.closePort()
print(json.dumps(out))
