#!/usr/bin/env python3
"""Helpers for bench/history.sh: hyperfine medians, the report tables, and
reading a history database with the stdlib sqlite3 module (read-only).

  history_report.py medians HF.json          one line: name median ms, ...
  history_report.py overhead TSV             Part A table and target
  history_report.py queries TSV              Part B table and targets
  history_report.py dbinfo ORCH_HOME         file sizes and row counts
  history_report.py pick DB                  show_run=, workflow= for Part B
  history_report.py verify DB RUN WORKFLOW   the queries behind history/show/stats
                                             in plain SQL, timed: the database
                                             opens and the indexes are used
  history_report.py size PATH...             total MiB
"""

import json
import os
import sqlite3
import statistics
import sys
import time

OVERHEAD_TARGET = 10.0  # percent


def results(path):
    """{command name: all its times}; a name timed in several blocks (ABBA) is pooled."""
    out = {}
    with open(path) as f:
        for r in json.load(f)["results"]:
            out.setdefault(r["command"], []).extend(r["times"])
    return out


def cpu_ms(path):
    """{command name: mean user+system ms (orch and its steps)}, pooled over blocks."""
    acc = {}
    with open(path) as f:
        for r in json.load(f)["results"]:
            n = len(r["times"])
            tot, cnt = acc.get(r["command"], (0.0, 0))
            acc[r["command"]] = (tot + (r["user"] + r["system"]) * n, cnt + n)
    return {k: tot / cnt * 1000 for k, (tot, cnt) in acc.items()}


def median_ms(times):
    return statistics.median(times) * 1000


def medians(path):
    res = results(path)
    if len(res) == 1:
        print(f"{median_ms(next(iter(res.values()))):8.2f} ms")
        return
    parts = [f"{name} {median_ms(t):8.2f} ms" for name, t in res.items()]
    print("   ".join(parts))


def overhead(tsv):
    rows = [l.rstrip("\n").split("\t") for l in open(tsv) if l.strip()]
    have_shm = any(r[2] != "FAILED" and "shm" in results(r[2]) for r in rows)
    hdr = ["workload", "steps", "disk ms", "memory ms", "overhead %", "µs/step", "CPU +%"]
    if have_shm:
        hdr += ["shm ms", "shm over memory %"]
    fmt = "{:<14} {:>6} {:>10} {:>10} {:>11} {:>8} {:>7}" + (" {:>9} {:>18}" if have_shm else "")
    print(fmt.format(*hdr))
    print("-" * (74 + (29 if have_shm else 0)))
    verdicts = []
    for label, steps, path in rows:
        if path == "FAILED":
            print(fmt.format(label, steps, "FAILED", *([""] * (len(hdr) - 3))))
            verdicts.append((label, None, None))
            continue
        res = results(path)
        d, m = median_ms(res["disk"]), median_ms(res["memory"])
        pct = (d - m) / m * 100
        cpu = cpu_ms(path)
        cells = [label, steps, f"{d:.2f}", f"{m:.2f}", f"{pct:+.1f}",
                 f"{(d - m) * 1000 / int(steps):.1f}",
                 f"{(cpu['disk'] - cpu['memory']) / cpu['memory'] * 100:+.1f}"]
        if have_shm:
            s = median_ms(res["shm"])
            cells += [f"{s:.2f}", f"{(s - m) / m * 100:+.1f}"]
        print(fmt.format(*cells))
        verdicts.append((label, pct, pct <= OVERHEAD_TARGET))
    print("\n(overhead % and µs/step compare the medians of wall time; CPU +% compares the mean\n"
          " user+system time of orch and its steps, which another busy tenant disturbs less)")
    print("\nTargets")
    for label, pct, ok in verdicts:
        v = {True: "PASS", False: "MISS", None: "n/a "}[ok]
        val = "no measurement" if pct is None else f"{pct:+.1f} %"
        print(f"  {v}  {label + ': disk ≤ memory + 10 %':<36} {val}")


def queries(tsv):
    rows = [l.rstrip("\n").split("\t") for l in open(tsv) if l.strip()]
    fmt = "{:<16} {:<44} {:>10} {:>8} {:>8} {:>8}  {}"
    print(fmt.format("query", "command", "median ms", "min ms", "max ms", "target", ""))
    print("-" * 104)
    met = total = 0
    for name, cmd, target, path in rows:
        total += 1
        if path == "FAILED":
            print(fmt.format(name, cmd, "FAILED", "", "", "-" if target == "-" else f"< {target}", "n/a"))
            total -= target == "-"
            continue
        t = next(iter(results(path).values()))
        med = median_ms(t)
        cells = [name, cmd, f"{med:.2f}", f"{min(t) * 1000:.2f}", f"{max(t) * 1000:.2f}"]
        if target == "-":  # timed for information only
            total -= 1
            print(fmt.format(*cells, "-", ""))
            continue
        ok = med < float(target)
        met += ok
        print(fmt.format(*cells, f"< {target}", "PASS" if ok else "MISS"))
    print(f"\n{met}/{total} targets met")


def size_mib(*paths):
    total = 0
    for p in paths:
        if os.path.isdir(p):
            for d, _, files in os.walk(p):
                total += sum(os.path.getsize(os.path.join(d, f)) for f in files)
        elif os.path.exists(p):
            total += os.path.getsize(p)
    return total / 2**20


def connect_ro(db):
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True)


def dbinfo(home):
    db = os.path.join(home, "history.db")
    conn = connect_ro(db)
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("runs", "steps", "attempts")}
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    files = [(n, os.path.getsize(os.path.join(home, n)))
             for n in ("history.db", "history.db-wal", "history.db-shm")
             if os.path.exists(os.path.join(home, n))]
    locks = os.path.join(home, "locks")
    logs = os.path.join(home, "logs")
    print(f"database: {home}/history.db")
    print("  files:  " + ", ".join(f"{n} {s / 2**20:.2f} MiB" for n, s in files)
          + f" (page size {page})")
    print(f"  rows:   {counts['runs']} runs, {counts['steps']} steps, {counts['attempts']} attempts")
    n_locks = len(os.listdir(locks)) if os.path.isdir(locks) else 0
    n_logs = len(os.listdir(logs)) if os.path.isdir(logs) else 0
    print(f"  also:   {n_locks} files in locks/, {n_logs} run dirs in logs/ "
          f"({size_mib(logs):.2f} MiB)")


def pick(db):
    conn = connect_ro(db)
    n = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    if n == 0:
        sys.exit("pick: the database holds no runs")
    rid = conn.execute("SELECT id FROM runs ORDER BY created_at LIMIT 1 OFFSET ?",
                       (n // 2,)).fetchone()[0]
    # The generator's first workflow if it is there, else the busiest one.
    row = conn.execute("SELECT workflow FROM runs WHERE workflow = 'build-api' LIMIT 1").fetchone()
    wf = row[0] if row else conn.execute(
        "SELECT workflow FROM runs GROUP BY workflow ORDER BY count(*) DESC, workflow LIMIT 1"
    ).fetchone()[0]
    print(f"show_run={rid}")
    print(f"workflow={wf}")


VERIFY = [
    ("history",
     "SELECT id, workflow, status, created_at, duration_ms FROM runs "
     "ORDER BY created_at DESC, id DESC LIMIT 20", ()),
    ("history (step counts)",
     "SELECT r.id, count(s.step_id), sum(s.status = 'failed') FROM "
     "(SELECT id FROM runs ORDER BY created_at DESC, id DESC LIMIT 20) r "
     "JOIN steps s ON s.run_id = r.id GROUP BY r.id", ()),
    ("show (run)", "SELECT * FROM runs WHERE id = ?1", ("RUN",)),
    ("show (steps)",
     "SELECT * FROM steps WHERE run_id = ?1 ORDER BY position, item IS NOT NULL, item", ("RUN",)),
    ("show (attempts)", "SELECT * FROM attempts WHERE run_id = ?1", ("RUN",)),
    ("stats (runs)",
     "SELECT status, count(*), avg(duration_ms), max(duration_ms) FROM runs "
     "WHERE workflow = ?1 GROUP BY status", ("WF",)),
    ("stats (run durations)",
     "SELECT duration_ms FROM runs WHERE workflow = ?1 AND duration_ms IS NOT NULL "
     "ORDER BY duration_ms", ("WF",)),
    ("stats (steps)",
     "SELECT s.step_id, count(*), sum(s.status = 'failed'), avg(s.duration_ms), "
     "max(s.duration_ms) FROM runs r JOIN steps s ON s.run_id = r.id "
     "WHERE r.workflow = ?1 GROUP BY s.step_id", ("WF",)),
]


def verify(db, run, wf):
    conn = connect_ro(db)
    app, ver = (conn.execute("PRAGMA application_id").fetchone()[0],
                conn.execute("PRAGMA user_version").fetchone()[0])
    if app != 0x6F726368:
        sys.exit(f"verify: not an orch database (application_id {app:#x})")
    print(f"sqlite3 {sqlite3.sqlite_version}: application_id {app:#x}, user_version {ver}; "
          "the same queries in plain SQL (warm cache, best of 3):")
    for name, sql, args in VERIFY:
        params = [run if a == "RUN" else wf for a in args]
        plan = "; ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        best = None
        for _ in range(3):
            t0 = time.perf_counter()
            rows = conn.execute(sql, params).fetchall()
            dt = (time.perf_counter() - t0) * 1000
            best = dt if best is None else min(best, dt)
        if not rows:
            sys.exit(f"verify: {name}: no rows")
        print(f"  {name:<22} {best:8.2f} ms  {len(rows):>6} rows   plan: {plan}")
    conn.close()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "medians":
        medians(*args)
    elif cmd == "overhead":
        overhead(*args)
    elif cmd == "queries":
        queries(*args)
    elif cmd == "dbinfo":
        dbinfo(*args)
    elif cmd == "pick":
        pick(*args)
    elif cmd == "verify":
        verify(*args)
    elif cmd == "size":
        print(f"{size_mib(*args):.2f}")
    else:
        sys.exit(f"history_report.py: unknown subcommand {cmd}")


if __name__ == "__main__":
    main()
