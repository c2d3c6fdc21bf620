#!/usr/bin/env python3
"""EPANET 2.3 oracle for aquatwin: runs the reference EPANET toolkit (owa-epanet
2.3.5, `from epanet import toolkit as en`) and prints/writes its answers in SI.

Usage (run with the venv made by scripts/setup-python):
  epanet_oracle.py counts NET.inp [NET2.inp ...]        one JSON line per network
  epanet_oracle.py hydraulics NET.inp --out DIR [--all-steps]
        writes DIR/nodes.csv, DIR/links.csv, DIR/run.json
  epanet_oracle.py timing NET.inp [--repeat N]          one JSON line

Errors (EPANET error codes >= 100) give a JSON object with "ok": false,
"error_code" and "error" on stdout and a non-zero exit status.

Units: every output is SI whatever the file's units. Heads and elevations are
ft for US flow units (CFS GPM MGD IMGD AFD) and m otherwise; pressure is NOT
read from EN_PRESSURE (2.3 has independent PRESSURE units: PSI/KPA/BAR/...),
it is head_m - elevation_m. Flows/demands use the exact factors in FLOW_M3S.
headloss_m is head_m[from] - head_m[to] (signed, includes pumps' negative loss).

Link status (column `status` of links.csv), following what EPANET's own report
file prints (raw status <= CLOSED -> "Closed", ACTIVE -> "Active", else "Open"):
  raw internal codes: 0 XHEAD, 1 TEMPCLOSED, 2 CLOSED, 3 OPEN, 4 ACTIVE,
                      5 XFLOW, 6 XFCV, 7 XPRESSURE
  CLOSED  <- XHEAD, TEMPCLOSED, CLOSED   (pumps that cannot deliver head, CVs
                                          closed by reverse flow, closed links)
  ACTIVE  <- ACTIVE                      (PRV/PSV/FCV/TCV/... regulating)
  OPEN    <- OPEN, XFLOW, XFCV, XPRESSURE (valves fully open because they cannot
                                          regulate; pumps beyond their curve)
How the raw code is obtained: EN_PUMP_STATE returns the raw internal status
for every non-pump link (there is no separate valve-state getter in 2.3). For
pumps it is "refined" from the flow (an OPEN pump reads XHEAD when its flow is
negative, XFLOW when beyond max flow), so for pumps we use EN_STATUS instead,
which in 2.3 collapses the raw code to 0 (<= CLOSED) / 1 (open) / 2 (ACTIVE),
exactly the report's mapping.

Warnings: runH's return code is read through ctypes on the same libepanet2.so
(the SWIG wrapper turns codes 1-6 into a bare Python "WARNING" and loses the
code). A code > 100 from runH is an error and stops the run. EPANET itself ends
the run early (nextH returns 0 before DURATION) after "System unbalanced ...
EXECUTION HALTED" (UNBALANCED STOP): run.json then has stopped_at_s = the time
of the last solved step.
"""
import argparse
import ctypes
import json
import os
import sys
import tempfile
import time
import warnings

import epanet
from epanet import toolkit as en

warnings.simplefilter("ignore")  # the wrapper's bare "WARNING"; we read codes ourselves

# m3/s per flow unit (exact)
FLOW_M3S = {
    "CFS": 0.028316846592, "GPM": 0.003785411784 / 60, "MGD": 3785.411784 / 86400,
    "IMGD": 4546.09 / 86400, "AFD": 1233.48183754752 / 86400, "LPS": 0.001,
    "LPM": 0.001 / 60, "MLD": 1000 / 86400, "CMH": 1 / 3600, "CMD": 1 / 86400, "CMS": 1.0,
}
US_UNITS = {"CFS", "GPM", "MGD", "IMGD", "AFD"}
FT = 0.3048
FLOW_NAMES = {getattr(en, k): k for k in FLOW_M3S}
PRESSURE_NAMES = {en.PSI: "PSI", en.KPA: "KPA", en.METERS: "METERS", en.BAR: "BAR", en.FEET: "FEET"}
HEADLOSS_NAMES = {en.HW: "H-W", en.DW: "D-W", en.CM: "C-M"}
STATUS_WORD = {0: "CLOSED", 1: "CLOSED", 2: "CLOSED", 3: "OPEN", 4: "ACTIVE",
               5: "OPEN", 6: "OPEN", 7: "OPEN"}
PUMP_STATUS_WORD = {0: "CLOSED", 1: "OPEN", 2: "ACTIVE"}  # EN_STATUS of a pump

_lib = ctypes.CDLL(os.path.join(os.path.dirname(epanet.__file__), "libepanet2.so"))
_lib.EN_runH.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_long)]
_lib.EN_nextH.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_long)]


class EpanetError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.details = []


def error_text(code):
    try:
        return en.geterror(code, en.MAXMSG).strip()
    except Exception:
        return f"EPANET code {code}"


def call(fn, *args):
    """Call a wrapper function, turning its 'Error NNN: ...' exception into EpanetError."""
    try:
        return fn(*args)
    except Exception as e:
        msg = str(e)
        code = None
        if msg.startswith("Error "):
            try:
                code = int(msg.split()[1].rstrip(":"))
            except ValueError:
                pass
        raise EpanetError(code, msg) from None


def open_project(inp):
    """Open inp; returns (project handle, wall ms of en.open). Report goes to
    /dev/null; on failure inp is re-opened with a temporary report file to
    collect EPANET's input-error lines (e.g. "Error 215: duplicate ID ...")."""
    ph = en.createproject()
    t0 = time.perf_counter()
    try:
        call(en.open, ph, inp, os.devnull, "")
    except EpanetError as e:
        discard(ph)
        e.details = input_errors(inp)
        raise
    return ph, (time.perf_counter() - t0) * 1000


def input_errors(inp):
    with tempfile.TemporaryDirectory() as d:
        rpt = os.path.join(d, "open.rpt")
        ph = en.createproject()
        try:
            en.open(ph, inp, rpt, "")
        except Exception:
            pass
        discard(ph)  # EN_close flushes the report file
        try:
            with open(rpt, errors="replace") as f:
                lines = [l.strip() for l in f]
            return [l for l in lines if l.startswith(("Error", "Input Error")) and not l.startswith("Error 200")]
        except OSError:
            return []


def discard(ph):
    """Close and delete a project whose open failed (closing flushes its files)."""
    try:
        en.close(ph)
    except Exception:
        pass
    en.deleteproject(ph)


def close_project(ph):
    try:
        en.close(ph)
    finally:
        en.deleteproject(ph)


def run_h(ph):
    """EN_runH via ctypes: (return code, current time s)."""
    t = ctypes.c_long()
    rc = _lib.EN_runH(ctypes.c_void_p(int(ph)), ctypes.byref(t))
    return rc, t.value


def next_h(ph):
    d = ctypes.c_long()
    rc = _lib.EN_nextH(ctypes.c_void_p(int(ph)), ctypes.byref(d))
    if rc > 100:
        raise EpanetError(rc, error_text(rc))
    return d.value


def flow_units(ph):
    return FLOW_NAMES[call(en.getflowunits, ph)]


# ---------------------------------------------------------------- counts
def counts(inp):
    ph, first_ms = open_project(inp)
    try:
        nodes = [call(en.getnodetype, ph, i) for i in range(1, en.getcount(ph, en.NODECOUNT) + 1)]
        links = [call(en.getlinktype, ph, i) for i in range(1, en.getcount(ph, en.LINKCOUNT) + 1)]
        valves = {en.PRV, en.PSV, en.PBV, en.FCV, en.TCV, en.GPV, en.PCV}
        out = {
            "file": os.path.basename(inp), "ok": True, "error_code": None,
            "junctions": nodes.count(en.JUNCTION), "reservoirs": nodes.count(en.RESERVOIR),
            "tanks": nodes.count(en.TANK),
            "pipes": sum(t in (en.PIPE, en.CVPIPE) for t in links),
            "pumps": links.count(en.PUMP), "valves": sum(t in valves for t in links),
            "patterns": en.getcount(ph, en.PATCOUNT), "curves": en.getcount(ph, en.CURVECOUNT),
            "controls": en.getcount(ph, en.CONTROLCOUNT), "rules": en.getcount(ph, en.RULECOUNT),
            "flow_units": flow_units(ph),
            "pressure_units": PRESSURE_NAMES.get(int(en.getoption(ph, en.PRESS_UNITS))),
            "headloss": HEADLOSS_NAMES[int(en.getoption(ph, en.HEADLOSSFORM))],
            "demand_model": "PDA" if en.getdemandmodel(ph)[0] == en.PDA else "DDA",
            "duration_s": en.gettimeparam(ph, en.DURATION),
            "hydraulic_step_s": en.gettimeparam(ph, en.HYDSTEP),
        }
    finally:
        close_project(ph)
    best = first_ms
    for _ in range(4):
        ph, ms = open_project(inp)
        close_project(ph)
        best = min(best, ms)
    out["open_ms"] = round(best, 3)
    return out


# ---------------------------------------------------------------- hydraulics
def hydraulics(inp, outdir, all_steps):
    os.makedirs(outdir, exist_ok=True)
    run = {"file": os.path.basename(inp), "report_times": [], "stopped_at_s": None,
           "warnings": [], "steps": 0, "error": None}
    try:
        ph, _ = open_project(inp)
    except EpanetError as e:
        run["error"] = {"code": e.code, "message": str(e)}
        with open(os.path.join(outdir, "run.json"), "w") as f:
            json.dump(run, f, indent=1)
        raise
    try:
        units = flow_units(ph)
        qf = FLOW_M3S[units] * 1000.0  # -> L/s
        lf = FT if units in US_UNITS else 1.0  # -> m (heads, elevations, velocity)
        nn, nl = en.getcount(ph, en.NODECOUNT), en.getcount(ph, en.LINKCOUNT)
        node_ids = [en.getnodeid(ph, i) for i in range(1, nn + 1)]
        link_ids = [en.getlinkid(ph, i) for i in range(1, nl + 1)]
        ends = [en.getlinknodes(ph, i) for i in range(1, nl + 1)]
        pumps = [en.getlinktype(ph, i) == en.PUMP for i in range(1, nl + 1)]
        duration = en.gettimeparam(ph, en.DURATION)
        rstart = en.gettimeparam(ph, en.REPORTSTART)
        rstep = en.gettimeparam(ph, en.REPORTSTEP)
        elev = en.doubleArray(nn)
        call(en.getnodevalues, ph, en.ELEVATION, elev)
        elev_m = [elev[i] * lf for i in range(nn)]
        nbuf, lbuf = en.doubleArray(nn), en.doubleArray(nl)
        # EPANET 2.3 pipe leakage: extra leakage_lps columns, as aquatwin writes them.
        leaky = hasattr(en, "LINK_LEAKAGE") and any(
            en.getlinkvalue(ph, i, en.LEAK_AREA) > 0 or en.getlinkvalue(ph, i, en.LEAK_EXPAN) > 0
            for i in range(1, nl + 1) if en.getlinktype(ph, i) <= en.PIPE)
        extra_col = ",leakage_lps" if leaky else ""

        def values(getter, buf, prop, n, factor):
            call(getter, ph, prop, buf)
            return [buf[i] * factor for i in range(n)]

        with open(os.path.join(outdir, "nodes.csv"), "w") as fn, \
             open(os.path.join(outdir, "links.csv"), "w") as fl:
            fn.write(f"time_s,node,head_m,pressure_m,demand_lps{extra_col}\n")
            fl.write(f"time_s,link,flow_lps,velocity_mps,headloss_m,status{extra_col}\n")
            call(en.openH, ph)
            call(en.initH, ph, 0)
            t = 0
            while True:
                rc, t = run_h(ph)
                if rc > 100:
                    raise EpanetError(rc, error_text(rc))
                run["steps"] += 1
                if rc:
                    run["warnings"].append({"time_s": t, "code": rc, "message": error_text(rc)})
                report = t >= rstart and (t - rstart) % rstep == 0
                if all_steps or report:
                    if report:
                        run["report_times"].append(t)
                    head = values(en.getnodevalues, nbuf, en.HEAD, nn, lf)
                    dem = values(en.getnodevalues, nbuf, en.DEMAND, nn, qf)
                    nleak = values(en.getnodevalues, nbuf, en.LEAKAGEFLOW, nn, qf) if leaky else None
                    for i in range(nn):
                        x = f",{nleak[i]!r}" if leaky else ""
                        fn.write(f"{t},{node_ids[i]},{head[i]!r},{head[i] - elev_m[i]!r},{dem[i]!r}{x}\n")
                    flow = values(en.getlinkvalues, lbuf, en.FLOW, nl, qf)
                    vel = values(en.getlinkvalues, lbuf, en.VELOCITY, nl, lf)
                    for j in range(nl):
                        a, b = ends[j]
                        if pumps[j]:
                            st = PUMP_STATUS_WORD[int(en.getlinkvalue(ph, j + 1, en.STATUS))]
                        else:
                            st = STATUS_WORD[int(en.getlinkvalue(ph, j + 1, en.PUMP_STATE))]
                        x = f",{en.getlinkvalue(ph, j + 1, en.LINK_LEAKAGE) * qf!r}" if leaky else ""
                        fl.write(f"{t},{link_ids[j]},{flow[j]!r},{vel[j]!r},"
                                 f"{head[a - 1] - head[b - 1]!r},{st}{x}\n")
                if next_h(ph) <= 0:
                    break
            if t < duration:
                run["stopped_at_s"] = t
            en.closeH(ph)
    except EpanetError as e:
        run["error"] = {"code": e.code, "message": str(e)}
    finally:
        close_project(ph)
    with open(os.path.join(outdir, "run.json"), "w") as f:
        json.dump(run, f, indent=1)
    return run


# ---------------------------------------------------------------- timing
def timing(inp, repeat):
    best_open, best_solve, steps, iters = float("inf"), float("inf"), 0, 0
    for _ in range(repeat):
        ph, open_ms = open_project(inp)
        try:
            t0 = time.perf_counter()
            call(en.openH, ph)
            call(en.initH, ph, 0)
            while True:
                rc, _t = run_h(ph)
                if rc > 100:
                    raise EpanetError(rc, error_text(rc))
                if next_h(ph) <= 0:
                    break
            en.closeH(ph)
            solve_ms = (time.perf_counter() - t0) * 1000
        finally:
            close_project(ph)
        best_open, best_solve = min(best_open, open_ms), min(best_solve, solve_ms)
    # one extra, untimed run to count steps and Newton iterations (EN_ITERATIONS is per step)
    ph, _ = open_project(inp)
    try:
        call(en.openH, ph)
        call(en.initH, ph, 0)
        while True:
            rc, _t = run_h(ph)
            if rc > 100:
                raise EpanetError(rc, error_text(rc))
            steps += 1
            iters += int(en.getstatistic(ph, en.ITERATIONS))
            if next_h(ph) <= 0:
                break
        en.closeH(ph)
    finally:
        close_project(ph)
    return {"file": os.path.basename(inp), "open_ms": round(best_open, 3),
            "solve_ms": round(best_solve, 3), "steps": steps, "iterations": iters}


def fail(inp, e):
    out = {"file": os.path.basename(inp), "ok": False, "error_code": e.code, "error": str(e)}
    if e.details:
        out["input_errors"] = e.details
    print(json.dumps(out), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("counts")
    c.add_argument("inp", nargs="+")
    h = sub.add_parser("hydraulics")
    h.add_argument("inp")
    h.add_argument("--out", required=True)
    h.add_argument("--all-steps", action="store_true")
    t = sub.add_parser("timing")
    t.add_argument("inp")
    t.add_argument("--repeat", type=int, default=5)
    a = p.parse_args(argv)

    status = 0
    if a.cmd == "counts":
        for inp in a.inp:
            try:
                print(json.dumps(counts(inp)), flush=True)
            except EpanetError as e:
                fail(inp, e)
                status = 1
    elif a.cmd == "hydraulics":
        try:
            run = hydraulics(a.inp, a.out, a.all_steps)
        except EpanetError as e:  # failed to open
            fail(a.inp, e)
            return 1
        if run["error"]:
            fail(a.inp, EpanetError(run["error"]["code"], run["error"]["message"]))
            status = 1
    else:
        try:
            print(json.dumps(timing(a.inp, a.repeat)), flush=True)
        except EpanetError as e:
            fail(a.inp, e)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
