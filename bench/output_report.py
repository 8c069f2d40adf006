#!/usr/bin/env python3
"""Helpers for bench/output.sh: a hyperfine median and the report.

  output_report.py median HF.json                 median wall time in ms
  output_report.py report TSV STEP_BYTES BIG_BYTES  the tables and targets
"""

import json
import statistics
import sys


def median(path):
    with open(path) as f:
        times = json.load(f)["results"][0]["times"]
    print(f"{statistics.median(times) * 1000:.3f}")


def report(path, step_bytes, big_bytes):
    rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
    res = {(p, v, t): (float(ms), int(kb)) for p, v, t, ms, kb in rows}
    order = []
    for p, v, t, _, _ in rows:
        if (p, v) not in order:
            order.append((p, v))

    fmt = "{:<5} {:<10} {:<22} {:>10} {:>8} {:>10} {:>13}"
    print(fmt.format("part", "workload", "tool", "median ms", "× make", "MB/s", "peak RSS MiB"))
    print("-" * 84)
    for p, v in order:
        ref = res.get((p, v, "make -j2")) or res.get((p, v, "cat"))
        nbytes = big_bytes if p == "big" else None
        for (rp, rv, t), (ms, kb) in res.items():
            if (rp, rv) != (p, v):
                continue
            ratio = f"{ms / ref[0]:.2f}" if ref else "-"
            nbytes_row = nbytes if nbytes is not None else step_bytes * int(v.split()[0])
            mbps = f"{nbytes_row / 1e6 / (ms / 1000):.0f}"
            print(fmt.format(p, v, t, f"{ms:.1f}", ratio, mbps, f"{kb / 1024:.1f}"))
        print()

    print("Targets")
    met = total = 0

    def target(name, value, ok):
        nonlocal met, total
        total += 1
        met += ok is True
        verdict = {True: "PASS", False: "MISS", None: "n/a "}[ok]
        print(f"  {verdict}  {name:<48} {value}")

    many = [v for p, v in order if p == "many"]
    if many:
        v = max(many, key=lambda s: int(s.split()[0]))
        make = res.get(("many", v, "make -j2"))
        for mode, limit in (("plain", 1.3), ("json", 1.5)):
            o = res.get(("many", v, f"orch {mode}"))
            ok = None if not (o and make) else o[0] / make[0] <= limit
            value = f"{o[0] / make[0]:.2f}×" if o and make else "no measurement"
            target(f"many ({v}): orch {mode} ≤ {limit}× make", value, ok)
        rss = [res[k][1] for k in res if k[0] == "many" and k[2].startswith("orch ") and "baseline" not in k[2]]
        if rss:
            target("many: orch peak RSS ≤ 30 MiB (every mode)", f"{max(rss) / 1024:.1f} MiB", max(rss) / 1024 <= 30)
        if len(many) > 1:
            small, big = sorted(many, key=lambda s: int(s.split()[0]))[0], v
            a, b = res.get(("many", small, "orch plain")), res.get(("many", big, "orch plain"))
            if a and b:
                grow = b[1] / a[1]
                target(f"many: RSS at {big} / at {small} ≤ 1.25", f"{grow:.2f}", grow <= 1.25)
    cat, o = res.get(("big", "1GB", "cat")), res.get(("big", "1GB", "orch plain"))
    if cat and o:
        share = cat[0] / o[0]
        target("big: orch plain throughput ≥ 50 % of cat's", f"{share * 100:.0f} %", share >= 0.5)
        target("big: orch peak RSS ≤ 30 MiB", f"{o[1] / 1024:.1f} MiB", o[1] / 1024 <= 30)
    print(f"\n{met}/{total} targets met")


cmd = sys.argv[1]
if cmd == "median":
    median(sys.argv[2])
elif cmd == "report":
    report(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
else:
    sys.exit(f"output_report.py: unknown subcommand {cmd}")
