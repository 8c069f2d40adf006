"""Helpers of bench/engine.sh: medians, page faults, the report and its
place in bench/RESULTS.md. Standard library only."""
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time


def median(path):
    with open(path) as f:
        times = json.load(f)["results"][0]["times"]
    print(f"{statistics.median(times) * 1000:.3f}")


def faults(out, argv):
    """Minor page faults of one run of argv (its own, not its children's)."""
    counts = []
    for _ in range(5):
        with open(os.devnull, "wb") as null:
            p = subprocess.Popen(argv, stdout=null, stderr=null, stdin=subprocess.DEVNULL)
            _, status, ru = os.wait4(p.pid, 0)
        counts.append(ru.ru_minflt)
    with open(out, "a") as f:
        f.write(f"{' '.join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv[:2]))}\t{statistics.median(counts):.0f}\n")


def load(rows_path):
    rows = {}
    order = []
    for line in open(rows_path):
        if not line.strip():
            continue
        group, workload, tool, steps, ms, rss, status = line.rstrip("\n").split("\t")
        key = (group, workload, tool)
        rows[key] = (int(steps), float(ms), int(rss)) if status == "ok" else None
        order.append(key)
    return rows, order


def wrk_rps(path):
    try:
        text = open(path).read()
    except OSError:
        return None
    m = re.search(r"Requests/sec:\s*([\d.]+)", text)
    return float(m.group(1)) if m else None


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    except Exception:
        return "?"


def report(rows_path, faults_path, text_bytes, wrk_path, orch, base, runs):
    rows, order = load(rows_path)
    get = lambda g, w, t: rows.get((g, w, t))
    ms = lambda r: r[1] if r else None
    verdicts = []

    def target(name, value, ok, must=None):
        verdicts.append((name, value, ok, must))

    out = []
    p = out.append
    load1 = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
    p("## Engine (`bash bench/engine.sh`)")
    p("")
    p(f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.system()} "
      f"{platform.release()} {platform.machine()}, {os.cpu_count()} CPUs, load {load1} at the end; "
      f"{version([orch, '--version'])}; {version(['make', '--version'])}; {version(['hyperfine', '--version'])}; "
      f"wrk {version(['wrk', '-v']).split()[1] if len(version(['wrk', '-v']).split()) > 1 else '?'}. "
      f"Medians of {runs} runs after a warm-up ({int(runs) * 6} for start-up; the scaling rows: as many at 1,000 in-process steps, 3 for 1,000 `/bin/true` steps, "
      f"one run above); orch's history on disk ({os.environ.get('BENCH_FS', '?')}), `--output plain`.")
    if base:
        p(f"`orch baseline` rows: {base}.")
    p("")

    def table(group, cols):
        p("| " + " | ".join(c[0] for c in cols) + " |")
        p("|" + "|".join("---" for _ in cols) + "|")
        for key in order:
            if key[0] != group:
                continue
            r = rows[key]
            p("| " + " | ".join(c[1](key, r) for c in cols) + " |")
        p("")

    def fmt_ms(r):
        return "FAILED" if r is None else (f"{r[1] / 1000:.3f} s" if r[1] >= 1000 else f"{r[1]:.2f} ms")

    def ratio(key, r, to="make"):
        ref = get(key[0], key[1], to)
        if r is None or ref is None or key[2] == to:
            return ""
        return f"{r[1] / ref[1]:.2f}×"

    # 1. per-step cost
    p("### Per-step cost (every step `/bin/true`)")
    p("")
    table("step", [
        ("workload", lambda k, r: k[1]),
        ("tool", lambda k, r: k[2]),
        ("median", lambda k, r: fmt_ms(r)),
        ("µs/step over floor", lambda k, r: "" if r is None or k[2] == "floor" or not get(k[0], k[1], "floor")
         else f"{(r[1] - get(k[0], k[1], 'floor')[1]) * 1000 / r[0]:.0f}"),
        ("× make", ratio),
        ("peak RSS", lambda k, r: "" if r is None else f"{r[2] / 1024:.1f} MiB"),
    ])
    for key in order:
        if key[0] == "step" and key[2] == "orch":
            o, m = rows[key], get("step", key[1], "make")
            if o and m:
                x = o[1] / m[1]
                target(f"{key[1]}: orch ≤ 1.15× make (must ≤ 1.2×)", f"{x:.2f}×", x <= 1.15, x <= 1.2)

    # 2. start-up
    p("### Start-up (a 1-step workflow)")
    p("")
    table("startup", [
        ("command", lambda k, r: k[1]),
        ("tool", lambda k, r: k[2]),
        ("median", lambda k, r: fmt_ms(r)),
        ("× make run", lambda k, r: "" if r is None or k[2] == "make" or not get("startup", "run 1 step", "make")
         else f"{r[1] / get('startup', 'run 1 step', 'make')[1]:.2f}×"),
        ("peak RSS", lambda k, r: "" if r is None else f"{r[2] / 1024:.1f} MiB"),
    ])
    try:
        fl = [l.rstrip("\n").split("\t") for l in open(faults_path) if l.strip()]
    except OSError:
        fl = []
    if fl:
        p("Minor page faults of one run (median of 5): " +
          ", ".join(f"`{c}` {n}" for c, n in fl) +
          f". orch's `.text`: {int(text_bytes) / 1e6:.1f} MB." if text_bytes.isdigit() else "")
        p("")
    mk = ms(get("startup", "run 1 step", "make"))
    o = ms(get("startup", "run 1 step", "orch"))
    if mk and o:
        target("start-up: orch run ≤ 2× make", f"{o / mk:.2f}×", o / mk <= 2)
    v = ms(get("startup", "validate", "orch"))
    if mk and v:
        target("start-up: orch validate ≤ 1.5× make", f"{v / mk:.2f}×", v / mk <= 1.5)

    # 3. in-process
    p("### In-process ceiling")
    p("")
    rps = wrk_rps(wrk_path)
    p("| workload | tool | median | steps/s or requests/s | vs wrk |")
    p("|---|---|---|---|---|")
    for key in order:
        if key[0] != "inproc":
            continue
        r = rows[key]
        per_s = "" if r is None else f"{r[0] / (r[1] / 1000):,.0f}"
        vs = "" if r is None or rps is None or not key[1].startswith("http") else f"{r[0] / (r[1] / 1000) / rps:.1%}"
        p(f"| {key[1]} | {key[2]} | {fmt_ms(r)} | {per_s} | {vs} |")
    if rps is not None:
        p(f"| http 1000 -j 50 | wrk -t2 -c50 -d5s | | {rps:,.0f} | 100% |")
    p("")
    t = get("inproc", "transform 10000", "orch")
    if t:
        sps = t[0] / (t[1] / 1000)
        target("10,000 transform steps ≥ 40,000 steps/s", f"{sps:,.0f}/s", sps >= 40000)
    h = get("inproc", "http 1000 -j 50", "orch")
    if h and rps:
        share = h[0] / (h[1] / 1000) / rps
        # The must: twice the share measured before the work (7,400–10,100 of 161,000–186,000, ≈ 5 %).
        floor = get("inproc", "http 1000 -j 50", "reqwest alone")
        within = "" if not floor else f" (reqwest alone: {floor[0] / (floor[1] / 1000) / rps:.1%})"
        target("1,000 http steps ≥ 25 % of wrk (must ≥ 10 %)", f"{share:.1%}{within}", share >= 0.25, share >= 0.10)

    # 4. scaling
    p("### Scaling")
    p("")
    p("| workload | tool | steps | median | µs/step | peak RSS |")
    p("|---|---|---|---|---|---|")
    for key in order:
        if key[0] != "scale":
            continue
        r = rows[key]
        per = "" if r is None else f"{r[1] * 1000 / r[0]:.1f}"
        p(f"| {key[1]} | {key[2]} | {r[0] if r else ''} | {fmt_ms(r)} | {per} | "
          f"{'' if r is None else f'{r[2] / 1024:.1f} MiB'} |")
    p("")

    def per_step(workload, tool):
        r = get("scale", workload, tool)
        return r[1] / r[0] if r else None

    for shape, tool in (("wide {} P=4", "orch"), ("chain {}", "orch")):
        a, b = per_step(shape.format(1000), tool), per_step(shape.format(10000), tool)
        if a and b:
            target(f"{shape.format('10k')}: per-step within 10 % of 1k", f"{b / a:.2f}×", b / a <= 1.10)
    for what in ("validate", "plan"):
        r = get("scale", f"{what} 100000", f"orch {what}")
        r10 = get("scale", f"{what} 10000", f"orch {what}")
        if r:
            target(f"orch {what} of 100,000 steps < 1 s", fmt_ms(r), r[1] < 1000)
        if r and r10:
            target(f"orch {what}: 100k / 10k ≤ 12× (linear)", f"{r[1] / r10[1]:.1f}×", r[1] / r10[1] <= 12)
    r = get("scale", "transform 100000", "orch")
    if r:
        target("100,000 transform steps: peak RSS < 300 MB", f"{r[2] / 1024:.0f} MiB", r[2] * 1024 < 300e6)
    a, b = per_step("transform 10000", "orch"), per_step("transform 100000", "orch")
    if a and b:
        target("transform 100k: per-step within 10 % of 10k", f"{b / a:.2f}×", b / a <= 1.10)

    p("### Targets")
    p("")
    met = 0
    for name, value, ok, must in verdicts:
        verdict = "PASS" if ok else {None: "MISS", True: "MISS (the must holds)", False: "MISS (the must too)"}[must]
        met += bool(ok)
        p(f"- **{verdict}** {name}: {value}")
    p("")
    p(f"{met}/{len(verdicts)} targets met. History query speed: `bash bench/history.sh query`.")
    print("\n".join(out))


def splice(results, report_path):
    """Replace the '## Engine' section of RESULTS.md (up to the next '## ')."""
    text = open(results).read()
    new = open(report_path).read().rstrip("\n") + "\n"
    m = re.search(r"^## Engine .*?(?=^## |\Z)", text, flags=re.S | re.M)
    if m:
        text = text[: m.start()] + new + "\n" + text[m.end():].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + new
    open(results, "w").write(text)


cmd = sys.argv[1]
if cmd == "median":
    median(sys.argv[2])
elif cmd == "faults":
    faults(sys.argv[2], sys.argv[4:])
elif cmd == "report":
    report(*sys.argv[2:9])
elif cmd == "splice":
    splice(sys.argv[2], sys.argv[3])
else:
    sys.exit(f"engine_report.py: unknown subcommand {cmd}")
