#!/usr/bin/env python3
"""Fill an orch history database with a large, realistic history, fast.

Usage: gen_history.py DB [--workflows 10] [--runs-per-workflow 10000]
                         [--steps-per-run 10] [--fail-rate 0.05] [--seed 1]
                         [--replace] [--check]

DB must already exist with orch's own schema: let orch create it (run any
workflow once with ORCH_HOME pointing at its directory), so the migrations,
application_id and user_version are orch's. The script refuses a database
whose runs/steps/attempts tables do not have exactly the columns it writes,
so a schema change makes it fail loudly instead of producing a database orch
cannot read.

What it writes, in one transaction (stdlib sqlite3 only):

- WORKFLOWS x RUNS_PER_WORKFLOW runs, interleaved in time over the last
  ~180 days; ids are 26-char lowercase ULIDs (48-bit ms timestamp + 80
  random bits, Crockford base32), so they sort by created_at like orch's.
- STEPS_PER_RUN step rows per run. Two workflows in ten have a for_each step:
  its parent row plus three item rows (`id[i]`, parent = `id`) stand in for
  four of the ten rows, so the row count per run stays exact.
- ~FAIL_RATE failed runs (one step fails, the rest are skipped), ~1% cancelled
  runs, the rest succeeded; ~2% of steps needed a retry.
- One attempts row per attempt of every step that started (as orch records
  them: none for skipped steps or for a for_each parent).

Prints the row counts, the time taken and a run id and workflow to query.
"""

import argparse
import hashlib
import json
import os
import random
import sqlite3
import sys
import time

B32 = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase
# Schema versions (PRAGMA user_version) this was checked against:
# 1 = tables, 2 = + index runs_by_parent.
KNOWN_VERSIONS = (1, 2)

RUN_COLUMNS = [
    "id", "workflow", "version", "file_path", "file_hash", "definitions", "inputs",
    "orch_version", "parent_run_id", "project_dir", "config_path", "status", "attempt",
    "created_at", "started_at", "finished_at", "duration_ms", "error", "outputs",
]
STEP_COLUMNS = [
    "run_id", "step_id", "parent", "position", "item", "status", "attempts", "started_at",
    "finished_at", "duration_ms", "exit_code", "http_status", "cached", "error", "result",
]
ATTEMPT_COLUMNS = [
    "run_id", "step_id", "run_attempt", "attempt", "status", "started_at", "finished_at",
    "exit_code", "error",
]

# (name, version, step names, for_each step or None, typical step ms)
WORKFLOW_SHAPES = [
    ("build-api", None, ["checkout", "deps", "lint", "compile", "unit-tests", "integration",
                         "package", "sign", "upload", "notify"], None, 4000),
    ("deploy-web", 3, ["checkout", "install", "build", "test", "bundle", "upload-assets",
                       "invalidate-cdn", "smoke-test", "tag", "notify"], None, 2500),
    ("nightly-etl", 2, ["extract-orders", "extract-users", "validate", "transform",
                        "dedupe", "load-warehouse", "refresh-views", "vacuum", "report",
                        "notify"], None, 30000),
    ("test-matrix", None, ["checkout", "deps", "build", "matrix", "package", "upload",
                           "notify"], "matrix", 6000),
    ("release", 1, ["checkout", "changelog", "version-bump", "build", "test", "tag",
                    "publish-crate", "publish-docs", "announce", "cleanup"], None, 3000),
    ("backup-db", None, ["snapshot", "dump-schema", "dump-data", "compress", "encrypt",
                         "upload", "verify", "prune-old", "metrics", "notify"], None, 8000),
    ("lint-docs", None, ["checkout", "spellcheck", "links", "markdownlint", "vale",
                         "build-site", "screenshot", "diff", "comment", "notify"], None, 900),
    ("sync-data", 5, ["fetch", "region", "merge", "upload", "ack", "metrics",
                      "notify"], "region", 1500),
    ("report-weekly", None, ["query-sales", "query-traffic", "query-errors", "join",
                             "charts", "render-pdf", "archive", "email", "slack",
                             "cleanup"], None, 5000),
    ("image-scan", 2, ["pull", "sbom", "scan-os", "scan-libs", "licenses", "policy",
                       "attest", "push-results", "ticket", "notify"], None, 7000),
]
FOR_EACH_ITEMS = 3


def ulid(ms, rnd):
    """26-char lowercase ULID for unix-ms `ms` and an 80-bit random int."""
    v = (ms << 80) | rnd
    out = []
    for _ in range(26):
        out.append(B32[v & 31])
        v >>= 5
    return "".join(reversed(out))


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def workflow_plans(n_workflows, steps_per_run):
    """Per workflow: name, version, [(step_id, parent, position, item)], definitions..."""
    plans = []
    for w in range(n_workflows):
        name, version, names, fan, step_ms = WORKFLOW_SHAPES[w % len(WORKFLOW_SHAPES)]
        if w >= len(WORKFLOW_SHAPES):
            name = f"{name}-{w // len(WORKFLOW_SHAPES)}"
        # Rows: one per top-level step, plus the items of the for_each step.
        top = list(names)
        rows_wanted = steps_per_run
        if fan is not None and rows_wanted > FOR_EACH_ITEMS:
            top = top[: rows_wanted - FOR_EACH_ITEMS]
            if fan not in top:
                top[len(top) // 2] = fan
        else:
            fan = None
            while len(top) < rows_wanted:
                top.append(f"step-{len(top)}")
            top = top[:rows_wanted]
        rows = []
        for pos, sid in enumerate(top):
            rows.append((sid, None, pos, None))
            if sid == fan:
                for i in range(FOR_EACH_ITEMS):
                    rows.append((f"{sid}[{i}]", sid, pos, i))
        # A few revisions of the file over time: new hash, new definitions.
        revisions = []
        for rev in range(4):
            defs = {sid: sha(f"{name}/{sid}/{rev}") for sid in sorted(top)}
            revisions.append((sha(f"{name}.yaml rev {rev}"), json.dumps(defs, separators=(",", ":"))))
        plans.append({
            "name": name,
            "version": version,
            "rows": rows,
            "fan": fan,
            "step_ms": step_ms,
            "file_path": f"/home/ci/projects/{name}/.orch/{name}.yaml",
            "project_dir": f"/home/ci/projects/{name}",
            "config_path": f"/home/ci/projects/{name}/orch.toml" if w % 3 == 0 else None,
            "revisions": revisions,
            "inputs": ['{}', '{"env":"staging"}', '{"env":"prod"}', '{"env":"prod","dry_run":false}'],
        })
    return plans


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("db", help="path of an existing orch history.db")
    ap.add_argument("--workflows", type=int, default=10)
    ap.add_argument("--runs-per-workflow", type=int, default=10_000)
    ap.add_argument("--steps-per-run", type=int, default=10)
    ap.add_argument("--fail-rate", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--replace", action="store_true",
                    help="delete the runs already in the database first")
    ap.add_argument("--check", action="store_true",
                    help="run PRAGMA quick_check and foreign_key_check afterwards")
    args = ap.parse_args()
    if args.steps_per_run < 1 or args.workflows < 1 or args.runs_per_workflow < 1:
        sys.exit("gen_history: counts must be positive")
    if not os.path.exists(args.db):
        sys.exit(f"gen_history: {args.db} does not exist; let orch create it first")

    t0 = time.monotonic()
    rng = random.Random(args.seed)
    conn = sqlite3.connect(args.db, isolation_level=None)

    # --- the schema must be orch's, and exactly what we write -------------------
    app = conn.execute("PRAGMA application_id").fetchone()[0]
    ver = conn.execute("PRAGMA user_version").fetchone()[0]
    if app != 0x6F726368:
        sys.exit(f"gen_history: {args.db} is not an orch database (application_id {app:#x})")
    if ver < 1:
        sys.exit(f"gen_history: {args.db} has no schema yet (user_version {ver}); "
                 "let orch create it first")
    if ver not in KNOWN_VERSIONS:
        # The column check below is what matters; a new version that only
        # adds an index (like 2) needs no change here.
        print(f"gen_history: note: schema version {ver} is newer than this generator "
              f"knows ({max(KNOWN_VERSIONS)}); writing anyway as the columns match",
              file=sys.stderr)
    for table, cols in (("runs", RUN_COLUMNS), ("steps", STEP_COLUMNS),
                        ("attempts", ATTEMPT_COLUMNS)):
        have = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        if have != cols:
            sys.exit(f"gen_history: table {table} has columns {have}, expected {cols} "
                     "(the schema changed: update bench/gen_history.py)")

    # Bulk load: no journal, no fsync, a big page cache. orch switches the
    # file back to WAL on its next open; we do it ourselves at the end too.
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")  # 256 MiB
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("BEGIN")
    if args.replace:
        for t in ("attempts", "approvals", "steps", "runs"):
            conn.execute(f"DELETE FROM {t}")

    plans = workflow_plans(args.workflows, args.steps_per_run)
    n_runs = args.workflows * args.runs_per_workflow
    # Interleave the workflows in time: each appears runs_per_workflow times.
    order = [w for w in range(args.workflows) for _ in range(args.runs_per_workflow)]
    rng.shuffle(order)
    span_ms = 180 * 86_400_000
    now = int(time.time() * 1000) - 3_600_000
    start = now - span_ms
    gap = max(span_ms // n_runs, 2)

    run_rows, step_rows, attempt_rows = [], [], []
    fail_ids = []
    mid_run = None  # a run in the middle of the history, for `orch show`

    created = start
    for n, w in enumerate(order):
        p = plans[w]
        created += gap // 2 + rng.randrange(gap)  # strictly increasing, ~gap apart
        rid = ulid(created, rng.getrandbits(80))
        rev = min(3, (n * 4) // n_runs)
        file_hash, defs = p["revisions"][rev]
        r = rng.random()
        if r < args.fail_rate:
            status = "failed"
        elif r < args.fail_rate + 0.01:
            status = "cancelled"
        else:
            status = "succeeded"
        rows = p["rows"]
        # The step (row index) that fails or is cancelled; never an item's parent.
        stop = None
        if status != "succeeded":
            stop = rng.choice([i for i, row in enumerate(rows) if row[0] != p["fan"]])
        started = created + rng.randrange(3, 40)
        t = started
        error = None
        fan_start = fan_rowi = None
        fan_items = []
        for i, (sid, parent, pos, item) in enumerate(rows):
            if sid == p["fan"]:
                # The parent's row is written after its items (it spans them).
                fan_start, fan_rowi = t, len(step_rows)
                step_rows.append(None)
                continue
            if stop is not None and i > stop:
                st = "skipped" if status == "failed" else "cancelled"
                step_rows.append((rid, sid, parent, pos, item, st, 0, None, t, None, None, None, 0,
                                  "cancelled" if st == "cancelled" else None,
                                  SKIP_JSON if st == "skipped" else CANCEL_JSON))
                fan_items.append(st)
            else:
                t = run_step(rng, p, rid, i, stop, status, sid, parent, pos, item, t,
                             step_rows, attempt_rows, fan_items)
                if i == stop and status == "failed":
                    error = f"step `{parent or sid}` failed"
                elif i == stop:
                    error = "cancelled"
            if parent is not None and fan_rowi is not None and item == FOR_EACH_ITEMS - 1:
                items = fan_items[-FOR_EACH_ITEMS:]
                fst = ("failed" if "failed" in items else
                       "cancelled" if "cancelled" in items else
                       "skipped" if items[0] == "skipped" else "succeeded")
                err = None if fst in ("succeeded", "skipped") else f"an item {fst}"
                item_json = [json.loads(step_rows[fan_rowi + 1 + k][14]) for k in range(FOR_EACH_ITEMS)]
                result = json.dumps({"error": err, "exit_code": None, "items": item_json,
                                     "outputs": {}, "status": fst, "stdout": None},
                                    separators=(",", ":"), sort_keys=True)
                ran = fst != "skipped"
                step_rows[fan_rowi] = (rid, p["fan"], None, pos, None, fst, 1 if ran else 0,
                                       fan_start if ran else None, t,
                                       t - fan_start if ran else None, None, None, 0, err, result)
                fan_rowi = None
        finished = t + rng.randrange(1, 10)
        run_rows.append((rid, p["name"], p["version"], p["file_path"], file_hash, defs,
                         rng.choice(p["inputs"]), "0.1.0", None, p["project_dir"], p["config_path"],
                         status, 1, created, started, finished, finished - started, error,
                         '{}' if status == "succeeded" else None))
        if status == "failed":
            fail_ids.append(rid)
        if n == n_runs // 2:
            mid_run = rid

        if len(step_rows) >= 200_000:
            flush(conn, run_rows, step_rows, attempt_rows)
    flush(conn, run_rows, step_rows, attempt_rows)
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode=WAL")
    t_insert = time.monotonic() - t0

    # --- read it back ---------------------------------------------------------------
    got = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
           for t in ("runs", "steps", "attempts")}
    by_status = dict(conn.execute("SELECT status, count(*) FROM runs GROUP BY status"))
    if args.check:
        qc = conn.execute("PRAGMA quick_check").fetchone()[0]
        fk = conn.execute("PRAGMA foreign_key_check").fetchall()
        if qc != "ok" or fk:
            sys.exit(f"gen_history: check failed: quick_check={qc!r}, {len(fk)} foreign key violations")
    conn.close()
    size = os.path.getsize(args.db)
    print(f"runs={got['runs']} steps={got['steps']} attempts={got['attempts']} "
          f"statuses={json.dumps(by_status, sort_keys=True)}")
    print(f"generated in {t_insert:.1f} s; {args.db}: {size / 2**20:.1f} MiB")
    print(f"show_run={mid_run}")
    print(f"failed_run={fail_ids[len(fail_ids) // 2] if fail_ids else ''}")
    print(f"workflow={plans[0]['name']}")


SKIP_JSON = '{"error":null,"exit_code":null,"outputs":{},"status":"skipped","stdout":null}'
OK_JSON = '{"error":null,"exit_code":0,"outputs":%s,"status":"succeeded","stdout":%s}'
CANCEL_JSON = '{"error":"cancelled","exit_code":null,"outputs":{},"status":"cancelled","stdout":null}'
FAIL_JSON = '{"error":"exited with code %d","exit_code":%d,"outputs":{},"status":"failed","stdout":""}'
OUTPUTS_POOL = ['{}', '{}', '{}', '{"version":"1.4.%d"}', '{"artifact":"dist/app-%d.tar.gz"}',
                '{"rows":"%d"}']
STDOUT_POOL = ["null", "null", '"ok"', '"done in %d ms"', '""']


def run_step(rng, p, rid, i, stop, status, sid, parent, pos, item, t,
             step_rows, attempt_rows, fan_items):
    """Rows of one step that started at or after `t`; returns when it ended."""
    dur = max(1, int(rng.lognormvariate(0, 0.6) * p["step_ms"] / (3 if parent else 1)))
    s0 = t + rng.randrange(1, 15)
    attempts = 1
    if rng.random() < 0.02:  # one retry: a failed first attempt, then a delay
        first_end = s0 + max(1, dur // 2)
        attempt_rows.append((rid, sid, 1, 1, "failed", s0, first_end, 1, "exited with code 1"))
        s_last = first_end + 1000
        attempts = 2
    else:
        s_last = s0
    end = s_last + dur
    if i == stop and status == "failed":
        code = rng.choice((1, 1, 1, 2, 101, 137))
        err = f"exited with code {code}"
        attempt_rows.append((rid, sid, 1, attempts, "failed", s_last, end, code, err))
        step_rows.append((rid, sid, parent, pos, item, "failed", attempts, s0, end,
                          end - s0, code, None, 0, err, FAIL_JSON % (code, code)))
        fan_items.append("failed")
    elif i == stop:
        attempt_rows.append((rid, sid, 1, attempts, "cancelled", s_last, end, None, "cancelled"))
        step_rows.append((rid, sid, parent, pos, item, "cancelled", attempts, s0, end,
                          end - s0, None, None, 0, "cancelled", CANCEL_JSON))
        fan_items.append("cancelled")
    else:
        attempt_rows.append((rid, sid, 1, attempts, "succeeded", s_last, end, 0, None))
        out = rng.choice(OUTPUTS_POOL)
        if "%d" in out:
            out = out % rng.randrange(1000)
        so = rng.choice(STDOUT_POOL)
        if "%d" in so:
            so = so % dur
        step_rows.append((rid, sid, parent, pos, item, "succeeded", attempts, s0, end,
                          end - s0, 0, None, 0, None, OK_JSON % (out, so)))
        fan_items.append("succeeded")
    return end


def flush(conn, run_rows, step_rows, attempt_rows):
    conn.executemany(f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES "
                     f"({', '.join('?' * len(RUN_COLUMNS))})", run_rows)
    conn.executemany(f"INSERT INTO steps ({', '.join(STEP_COLUMNS)}) VALUES "
                     f"({', '.join('?' * len(STEP_COLUMNS))})", step_rows)
    conn.executemany(f"INSERT INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) VALUES "
                     f"({', '.join('?' * len(ATTEMPT_COLUMNS))})", attempt_rows)
    run_rows.clear()
    step_rows.clear()
    attempt_rows.clear()


if __name__ == "__main__":
    main()
