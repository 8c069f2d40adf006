#!/usr/bin/env python3
"""Helpers for bench/http.sh: time an orch run, read its events, parse the load
tool's output, print the report. Stdlib only.

  http_report.py time OUT ERR -- CMD...   run CMD (stdout > OUT, stderr > ERR),
                                          print "WALL_MS EXIT_CODE"
  http_report.py orch EVENTS WALL_MS EXIT one orch run's figures, as JSON
  http_report.py wrk FILE                 wrk --latency output -> {"rps", "p99_ms"}
  http_report.py oha FILE                 oha --json output    -> {"rps", "p99_ms"}
  http_report.py report ORCH.jsonl TOOL.json STEPS [FLOOR.jsonl]
                                          the table (medians over the orch runs);
                                          TOOL.json may be -; FLOOR.jsonl holds the
                                          runs of the same graph as transform steps
"""

import json
import math
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime

TARGET = 0.5  # orch requests/s at least half the load tool's


def cmd_time(out, err, argv):
    with open(out, "wb") as o, open(err, "wb") as e:
        t0 = time.perf_counter()
        code = subprocess.call(argv, stdin=subprocess.DEVNULL, stdout=o, stderr=e)
        t1 = time.perf_counter()
    print(f"{(t1 - t0) * 1000:.3f} {code}")


def parse_time(s):
    # RFC 3339 with milliseconds and a Z, as orch writes it.
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def p99(values):
    """Nearest-rank 99th percentile."""
    if not values:
        return None
    v = sorted(values)
    return v[max(0, math.ceil(0.99 * len(v)) - 1)]


def cmd_orch(events_path, wall_ms, code):
    started, ended, durations = [], [], []
    completed = failed = 0
    run_status = None
    with open(events_path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            name = ev.get("event", "")
            if name == "orchestration.step.started":
                started.append(parse_time(ev["time"]))
            elif name in ("orchestration.step.completed", "orchestration.step.failed"):
                ended.append(parse_time(ev["time"]))
                if name == "orchestration.step.completed":
                    completed += 1
                    if ev.get("duration_ms") is not None:
                        durations.append(ev["duration_ms"])
                else:
                    failed += 1
            elif name.startswith("orchestration.run.") and name != "orchestration.run.created":
                run_status = name.rsplit(".", 1)[1]
    steps = completed + failed
    span_s = (max(ended) - min(started)) if started and ended else None
    rps = steps / (wall_ms / 1000) if wall_ms > 0 else 0
    # Progress for the terminal; the figures go to stdout.
    print(f"{wall_ms:9.1f} ms {rps:8.0f} req/s  exit {code}", file=sys.stderr)
    print(json.dumps({
        "exit": code,
        "wall_ms": wall_ms,
        "completed": completed,
        "failed": failed,
        "run": run_status,
        "wall_rps": rps if wall_ms > 0 else None,
        # Event times have millisecond resolution: fine over a span of 100+ ms.
        "span_ms": span_s * 1000 if span_s is not None else None,
        "span_rps": steps / span_s if span_s else None,
        "p99_ms": p99(durations),
    }))


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def wrk_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * UNITS[m.group(2)]


def emit_tool(r):
    """Progress to stderr, the figures as JSON to stdout."""
    print(f"{r['rps']:20.0f} req/s  p99 {r['p99_ms']:.2f} ms", file=sys.stderr)
    print(json.dumps(r))


def cmd_wrk(path):
    text = open(path, errors="replace").read()
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    lat = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    if not rps or not lat:
        sys.exit(f"http_report.py: cannot read wrk output {path}:\n{text[-1500:]}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", text)
    emit_tool({
        "name": "wrk",
        "rps": float(rps.group(1)),
        "p99_ms": wrk_ms(lat.group(1)),
        "errors": errors.group(0) if errors else None,
    })


def cmd_oha(path):
    doc = json.load(open(path))
    summary = doc.get("summary", {})
    pct = doc.get("latencyPercentiles") or doc.get("latency_percentiles") or {}
    p = pct.get("p99", pct.get("99"))
    rate = summary.get("successRate", 1.0)
    if summary.get("requestsPerSec") is None or p is None:
        sys.exit(f"http_report.py: cannot read oha output {path}")
    emit_tool({
        "name": "oha",
        "rps": summary["requestsPerSec"],
        "p99_ms": p * 1000,  # oha reports seconds
        "errors": None if rate in (None, 1, 1.0) else f"success rate {rate:.3f}",
    })


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def load_runs(path, steps):
    runs = [json.loads(l) for l in open(path) if l.strip()]
    ok = [r for r in runs if r.get("exit") == 0 and r.get("completed") == steps]
    return runs, ok


def median_of(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def cmd_report(orch_path, tool_path, steps, floor_path=None):
    runs, ok = load_runs(orch_path, steps)
    floor = load_runs(floor_path, steps)[1] if floor_path else []
    tool = json.loads(open(tool_path).read() or "null") if tool_path != "-" else None

    def med(key):
        return median_of(ok, key)

    rows = []
    if ok:
        rows.append(("orch (wall)", med("wall_rps"), med("p99_ms")))
        rows.append(("orch (first start → last end)", med("span_rps"), med("p99_ms")))
    else:
        rows.append(("orch", None, None))
    if tool:
        rows.append((tool["name"], tool["rps"], tool["p99_ms"]))
    if floor:
        rows.append(("(orch, transform steps, no I/O)", median_of(floor, "wall_rps"), median_of(floor, "p99_ms")))

    tool_rps = tool["rps"] if tool else None
    w = max(len(r[0]) for r in rows)
    head = f"{'tool':<{w}}  {'requests/s':>10}  {'p99 ms':>7}  {'orch/tool':>9}  target ≥ {TARGET}"
    print(head)
    print("-" * len(head))
    for name, rps, p in rows:
        if name.startswith("orch") and rps is not None and tool_rps:
            ratio = rps / tool_rps
            r_txt, verdict = f"{ratio:.2f}", "PASS" if ratio >= TARGET else "MISS"
        else:
            r_txt, verdict = "-", ("n/a" if name.startswith("orch") else "")
        print(f"{name:<{w}}  {fmt(rps, '10.0f'):>10}  {fmt(p, '7.2f'):>7}  {r_txt:>9}  {verdict}")

    print()
    if ok:
        print(f"orch: median of {len(ok)} run(s) of {steps} http steps; per run "
              "(wall ms / requests/s / p99 ms):")
        for r in ok:
            print(f"  {r['wall_ms']:8.1f} ms  {r['wall_rps']:8.0f}/s  p99 {fmt(r['p99_ms'], '.0f')} ms")
        print("  p99 is of the steps' duration_ms (whole milliseconds, orch's overhead included);")
        print("  the tool's p99 is per request.")
    bad = [r for r in runs if r not in ok]
    for r in bad:
        print(f"orch run FAILED: exit {r.get('exit')}, {r.get('completed', 0)} of {steps} steps "
              f"completed, {r.get('failed', 0)} failed")
    if tool and tool.get("errors"):
        print(f"{tool['name']}: {tool['errors']}")
    if not tool:
        print("no load tool measurement")


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "time" and len(a) >= 5 and a[3] == "--":
        cmd_time(a[1], a[2], a[4:])
    elif a[0] == "orch" and len(a) == 4:
        cmd_orch(a[1], float(a[2]), int(a[3]))
    elif a[0] == "wrk" and len(a) == 2:
        cmd_wrk(a[1])
    elif a[0] == "oha" and len(a) == 2:
        cmd_oha(a[1])
    elif a[0] == "report" and len(a) in (4, 5):
        cmd_report(a[1], a[2], int(a[3]), a[4] if len(a) == 5 else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
