"""A Modbus TCP server built on pymodbus (not aquatwin code), for aquatwin's
integration tests. Serves known registers on 127.0.0.1:PORT, unit id 1:

  holding 0-1  float32 50.0          holding 2    int16 -123
  holding 10-11 float32 NaN (garbage)
  input   0-1  float32 3.5           input   2-3  float32 1e9 (out of range)
  everything else undefined -> exception 2 (illegal data address)

Every request's function code is appended to FC_LOG (one per line), so a
test can prove what its client sent. Prints "ready" once listening.
Usage: python pymodbus_server.py PORT FC_LOG
"""
import asyncio
import math
import sys

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


async def main() -> None:
    port, fc_log = int(sys.argv[1]), sys.argv[2]
    log = open(fc_log, "a", buffering=1)

    def trace_pdu(sending: bool, pdu):
        if not sending:
            log.write(f"{pdu.function_code}\n")
        return pdu

    holding = [
        SimData(0, values=50.0, datatype=DataType.FLOAT32),
        SimData(2, values=-123, datatype=DataType.INT16),
        SimData(10, values=math.nan, datatype=DataType.FLOAT32),
    ]
    inputs = [
        SimData(0, values=3.5, datatype=DataType.FLOAT32, readonly=True),
        SimData(2, values=1e9, datatype=DataType.FLOAT32, readonly=True),
    ]
    coils = [SimData(1000, values=False, datatype=DataType.BITS)]
    discrete = [SimData(1000, values=False, datatype=DataType.BITS, readonly=True)]
    device = SimDevice(1, (coils, discrete, holding, inputs))
    server = ModbusTcpServer(device, address=("127.0.0.1", port), trace_pdu=trace_pdu)
    task = asyncio.create_task(server.serve_forever())
    for _ in range(200):
        await asyncio.sleep(0.02)
        if server.transport is not None:
            break
    print("ready", flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(main())
