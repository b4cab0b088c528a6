#!/usr/bin/env python3
"""Differential test: the independent oracle (oracle.py) against the real trailgraph binary, per corpus folder.

    python3 tests/oracle/run.py --bin target/debug/trailgraph --corpus /work/shared/corpus [--source NAME]... [--json]
    python3 tests/oracle/run.py --self-test

Per source folder: ingest it into a fresh temporary store with the binary, ask trailgraph the same questions
through its CLI (sql views, timeline, who-changed, stats, all JSON) and compare exactly with the oracle.
Prints OK or a precise diff per source and question. Exit 0 only when every compared answer agrees; 1 on any
disagreement; 2 on a usage error. There is no allow-list: a disagreement is reported, never hidden.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import unittest
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import oracle as O  # noqa: E402

MAX_EXAMPLES = 8


class TG:
    """The trailgraph binary over one store."""

    def __init__(self, binary: str, db: Path):
        self.binary = binary
        self.db = db
        self.calls = 0

    def run(self, *args: str) -> subprocess.CompletedProcess:
        self.calls += 1
        return subprocess.run([self.binary, "--db", str(self.db), *args], capture_output=True, text=True,
                              encoding="utf-8", errors="replace")

    def json(self, *args: str):
        p = self.run(*args)
        if p.returncode != 0:
            raise TGError(args, p)
        return json.loads(p.stdout)

    def sql(self, query: str) -> list[dict]:
        # The queries are constants of this file: no string from the logs is ever put into SQL text.
        p = self.run("sql", query, "--format", "jsonl")
        if p.returncode != 0:
            raise TGError(("sql", query), p)
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


class TGError(Exception):
    def __init__(self, args, p):
        super().__init__(f"trailgraph {' '.join(args)[:200]}: exit {p.returncode}: {p.stderr.strip()[:500]}")
        self.proc = p


def _ex(items, n=MAX_EXAMPLES) -> list:
    items = list(items)
    return items[:n] + ([f"... {len(items) - n} more"] if len(items) > n else [])


def compare_maps(oracle: dict, tg: dict, fmt=repr) -> list[str]:
    """Lines describing where two {key: value} maps differ."""
    lines = []
    only_o = sorted((k for k in oracle if k not in tg), key=repr)
    only_t = sorted((k for k in tg if k not in oracle), key=repr)
    diff = sorted((k for k in oracle if k in tg and oracle[k] != tg[k]), key=repr)
    if only_o:
        lines.append(f"{len(only_o)} only in oracle:")
        lines += [f"  {fmt(k)}: oracle {oracle[k]!r}" for k in only_o[:MAX_EXAMPLES]]
        if len(only_o) > MAX_EXAMPLES:
            lines.append(f"  ... {len(only_o) - MAX_EXAMPLES} more")
    if only_t:
        lines.append(f"{len(only_t)} only in trailgraph:")
        lines += [f"  {fmt(k)}: trailgraph {tg[k]!r}" for k in only_t[:MAX_EXAMPLES]]
        if len(only_t) > MAX_EXAMPLES:
            lines.append(f"  ... {len(only_t) - MAX_EXAMPLES} more")
    if diff:
        lines.append(f"{len(diff)} differ:")
        lines += [f"  {fmt(k)}: oracle {oracle[k]!r} / trailgraph {tg[k]!r}" for k in diff[:MAX_EXAMPLES]]
        if len(diff) > MAX_EXAMPLES:
            lines.append(f"  ... {len(diff) - MAX_EXAMPLES} more")
    return lines


# -------------------------------------------------------------------------------------------------------------
# Questions. Each returns (status, lines): status "OK", "DIFF" or "SKIP" (nothing to compare in this source).
# -------------------------------------------------------------------------------------------------------------


def q_events(ctx) -> tuple[str, list[str]]:
    """Distinct events per (recipient account, eventID): how many distinct contents (1, or more = variants)."""
    ev = ctx.events
    if not ev and not ctx.tg_events:
        return "SKIP", []
    oracle = Counter(e.key for e in ev)
    tg = Counter()
    for r in ctx.tg_events:
        tg[(r["recipientaccountid"] or "", _eid(r["eventid"]))] += 1
    lines = compare_maps(dict(oracle), dict(tg))
    if lines:
        var = O.variants(ev)
        shown = 0
        for k in sorted(var, key=repr):
            if oracle[k] != tg.get(k) and shown < MAX_EXAMPLES:
                shown += 1
                a, b = var[k][0], var[k][1]
                paths = O.diff_paths(O.canon(a.rec), O.canon(b.rec))
                lines.append(f"  variant {k}: records differ at {_ex(paths, 6)}; files {a.deliveries[0]} vs "
                             f"{b.deliveries[0]}")
    s = ctx.stats
    if s is not None and s.get("events") != len(ev):
        lines.append(f"stats.events: oracle {len(ev)} / trailgraph {s.get('events')}")
    return ("DIFF" if lines else "OK"), lines or [f"{len(ev)} events, {len(O.variants(ev))} ids with variants"]


def q_principals(ctx):
    """Events and failed calls (errorCode) per principal (userIdentity.arn as logged, else type:fallback)."""
    if not ctx.events and not ctx.tg_events:
        return "SKIP", []
    oracle = {p: (d["events"], d["failed"]) for p, d in O.per_principal(ctx.events, ctx.pids).items()}
    tg: dict = {}
    for r in ctx.tg_events:
        ui = r["useridentity"]
        rec = {"userIdentity": json.loads(ui) if isinstance(ui, str) else ui}
        p = O.principal_of(rec, ctx.pids)
        n, f = tg.get(p, (0, 0))
        tg[p] = (n + 1, f + (1 if r["errorcode"] not in (None, "") else 0))
    lines = compare_maps(oracle, tg)
    return ("DIFF" if lines else "OK"), lines or [f"{len(oracle)} principals"]


def _eid(eid) -> str:
    """trailgraph names an event without eventID `tg-<hash>`; the oracle has no name for it."""
    return "<no id>" if eid is None or str(eid).startswith("tg-") else str(eid)


def q_timeline(ctx):
    """timeline --principal ARN --no-follow-sessions: the principal's own events, for every ARN logged."""
    per = O.per_principal(ctx.events, ctx.pids)
    arns = sorted(p for p in per if p.startswith("arn:"))
    if not arns:
        return "SKIP", []
    lines = []
    for arn in arns:
        want = Counter("<no id>" if i is None else i for i in per[arn]["ids"])
        p = ctx.tg.run("timeline", f"--principal={arn}", "--no-follow-sessions", "--format", "json")
        if p.returncode != 0:
            lines.append(f"{arn}: oracle {sum(want.values())} events (e.g. {_ex(sorted(want), 2)}) / trailgraph "
                         f"exit {p.returncode}: {p.stderr.strip()[:160]}")
            continue
        got = Counter(_eid(e["event_id"]) for e in json.loads(p.stdout)["events"])
        if got != want:
            missing = sorted((want - got).elements())
            extra = sorted((got - want).elements())
            lines.append(f"{arn}: oracle {sum(want.values())} / trailgraph {sum(got.values())} events; "
                         f"missing {len(missing)} {_ex(missing, 3)}; extra {len(extra)} {_ex(extra, 3)}")
    return ("DIFF" if lines else "OK"), lines or [f"{len(arns)} principals' timelines"]


FLOW_SQL = (
    "SELECT f.resource_id AS object, f.access AS access, f.event_name AS name, f.event_id AS event_id, "
    "l.useridentity AS useridentity FROM flows f JOIN cloudtrail_logs l ON l.event_row = f.event "
    "WHERE f.resource_type = 'AWS::S3::Object'"
)


def q_s3_objects(ctx):
    """Readers (GetObject/HeadObject) and writers (Put/Copy/CompleteMultipartUpload/DeleteObject(s)) per S3
    object, successful calls, as (principal, eventID) pairs."""
    oracle = {k: {a: sorted(v) for a, v in d.items()} for k, d in O.s3_objects(ctx.events, ctx.pids).items()}
    if not oracle and not any(r["eventsource"] == "s3.amazonaws.com" for r in ctx.tg_events):
        return "SKIP", []
    tg: dict = {}
    for r in ctx.tg.sql(FLOW_SQL):
        name, acc = r["name"], r["access"]
        if not ((name in O.S3_READS and acc == "read") or (name in O.S3_WRITES and acc == "write")):
            continue  # e.g. the source of a CopyObject: not in the oracle's definition
        ui = r["useridentity"]
        p = O.principal_of({"userIdentity": json.loads(ui) if isinstance(ui, str) else ui}, ctx.pids)
        tg.setdefault(r["object"], {"read": set(), "write": set()})[acc].add((p, _eid(r["event_id"])))
    tg = {k: {a: sorted(v) for a, v in d.items()} for k, d in tg.items()}
    lines = compare_maps(oracle, tg)
    nr = sum(len(d["read"]) for d in oracle.values())
    nw = sum(len(d["write"]) for d in oracle.values())
    return ("DIFF" if lines else "OK"), lines or [f"{len(oracle)} objects, {nr} reads, {nw} writes"]


STATES_SQL = ("SELECT resource_type, resource_id, account_id, state_id, capturetime_ms, status FROM config_states")


def q_config_states(ctx):
    """Distinct configuration states per resource (type, id): state id, capture time (ms), status."""
    if not ctx.states and not ctx.tg_states:
        return "SKIP", []
    oracle = {}
    for (t, i), sts in ctx.states.items():
        for s in sts:
            oracle[(t, i, s.account or "", s.state_id if s.state_id is not None else f"@{s.capture}")] = (
                None if s.capture is None else s.capture // 1000, s.status)
    tg = {}
    spelling = O.type_spelling([t for t, _ in ctx.states] + [r["resource_type"] for r in ctx.tg_states])
    oracle = {(spelling[t.lower()], i, a, sid): v for (t, i, a, sid), v in oracle.items()}
    for r in ctx.tg_states:
        sid = r["state_id"]
        cap = r["capturetime_ms"]
        if sid is None or str(sid).startswith("tg-"):
            sid = f"@{None if cap is None else cap * 1000}"
        tg[(spelling.get(r["resource_type"].lower(), r["resource_type"]), r["resource_id"],
            r["account_id"] or "", str(sid))] = (
            cap, r["status"])
    lines = compare_maps(oracle, tg)
    s = ctx.stats
    n = len(oracle)
    if s is not None and s.get("config_items") != n:
        lines.append(f"stats.config_items: oracle {n} / trailgraph {s.get('config_items')}")
    return ("DIFF" if lines else "OK"), lines or [f"{n} states of {len(ctx.states)} resources"]


def _ms(t):
    us = O.parse_instant(t)
    return None if us is None else us // 1000


def q_config_changes(ctx):
    """Changes per resource: consecutive states that differ (configuration, supplementary configuration, tags,
    relationships), notification diffs (CREATE/DELETE, UPDATE with changedProperties), deleted/not-recorded
    statuses -- compared by capture time (ms) with who-changed's changes + unexplained_changes."""
    if not ctx.states:
        return "SKIP", []
    lines = []
    total = 0
    for (t, i), sts in sorted(ctx.states.items()):
        want = {(c["capture"] // 1000 if c["capture"] is not None else None): c["why"]
                for c in O.config_changes(sts)}
        total += len(want)
        # The resource is named by the ARN of its items (documented form); items of one (type, id) in several
        # accounts carry several ARNs: each is asked and the answers united. Without an ARN: AWS::TYPE:ID.
        # An ARN shared by two resources (two Config types) is ambiguous by nature: then AWS::TYPE:ID.
        names = sorted({s.arn for s in sts if s.arn}) or [f"{t}:{i}"]
        got: dict = {}
        failed = False
        for name in names:
            p = ctx.tg.run("who-changed", "--format", "json", "--", name)
            if p.returncode == 2 and "ambiguous" in p.stderr:
                name = f"{t}:{i}"
                p = ctx.tg.run("who-changed", "--format", "json", "--", name)
            if p.returncode == 2 and "ambiguous" in p.stderr and len({s.account for s in sts}) > 1:
                # The same (type, id) in several accounts under one ARN (documentation placeholders): no name
                # picks one of them, and trailgraph rightly lists the candidates.
                failed = True
                continue
            if p.returncode != 0:
                lines.append(f"{t}:{i}: oracle {len(want)} changes / trailgraph `who-changed {name}` exit "
                             f"{p.returncode}: {p.stderr.strip()[:160]}")
                failed = True
                continue
            w = json.loads(p.stdout)
            for c in w.get("changes", []):
                if c.get("after"):
                    got.setdefault(_ms(c["after"].get("capture_time")), []).append(f"call {c.get('event_id')}")
            for c in w.get("unexplained_changes", []):
                got.setdefault(_ms(c["after"].get("capture_time")), []).append(
                    "unexplained " + ",".join(c.get("diff_lines", [])[:3])[:120])
        if failed:
            continue
        if set(want) != set(got):
            for k in sorted(set(want) - set(got), key=lambda x: x or 0):
                lines.append(f"{t}:{i} @{O.iso_of_us(k * 1000) if k is not None else None}: oracle change "
                             f"{want[k]} / trailgraph none")
            for k in sorted(set(got) - set(want), key=lambda x: x or 0):
                lines.append(f"{t}:{i} @{O.iso_of_us(k * 1000) if k is not None else None}: oracle no change / "
                             f"trailgraph {got[k]}")
    return ("DIFF" if lines else "OK"), lines or [f"{total} changes over {len(ctx.states)} resources"]


def q_resource_names(ctx):
    """who-changed AWS::TYPE:NAME (the documented form; NAME = the item's resourceName, else its resourceId)
    finds the resource of that Config type and id."""
    if not ctx.states:
        return "SKIP", []
    lines = []
    for (t, i), sts in sorted(ctx.states.items()):
        if len({s.arn for s in sts}) > 1 or len({s.account for s in sts}) > 1:
            continue  # the same (type, id) in several accounts: a name is ambiguous by nature
        name = next((s.name for s in sts if s.name), i)
        p = ctx.tg.run("who-changed", "--format", "json", "--", f"{t}:{name}")
        if p.returncode != 0:
            lines.append(f"`who-changed {t}:{name}` exit {p.returncode}: {p.stderr.strip()[:140]}")
            continue
        r = json.loads(p.stdout)["resource"]
        arn = next((s.arn for s in sts if s.arn), None)
        same = r.get("type") == t and (r.get("arn") == arn if arn else r.get("id") in (i, name))
        if not same:
            lines.append(f"`who-changed {t}:{name}` found {r.get('type')} {r.get('id')!r} {r.get('arn')!r}, "
                         f"oracle {t} {i!r} {arn!r}")
    return ("DIFF" if lines else "OK"), lines or [f"{len(ctx.states)} resources found by type and name"]


DIGEST_SQL = ("SELECT s.path AS path, d.body AS body FROM digests d JOIN sources s ON s.id = d.source_id "
              "WHERE d.body LIKE '%digestStartTime%'")


def q_digests(ctx):
    """Digest files (by content) and the log files each lists."""
    if not ctx.corpus.digests:
        return "SKIP", []
    oracle = {d.file: O.digest_summary(d)["log_files"] for d in ctx.corpus.digests}
    tg = {}
    for r in ctx.tg.sql(DIGEST_SQL):
        rel = _rel(r["path"], ctx.folder)
        body = json.loads(r["body"]) if isinstance(r["body"], str) else r["body"]
        tg[rel] = O.digest_summary(O.Digest(body, rel))["log_files"]
    lines = compare_maps(oracle, tg)
    return ("DIFF" if lines else "OK"), lines or [
        f"{len(oracle)} digests listing {sum(len(v) for v in oracle.values())} log files"]


def _rel(path: str, folder: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(folder.resolve()))
    except ValueError:
        return path


QUESTIONS = [
    ("events", q_events),
    ("principals", q_principals),
    ("timeline", q_timeline),
    ("s3_objects", q_s3_objects),
    ("config_states", q_config_states),
    ("config_changes", q_config_changes),
    ("resource_names", q_resource_names),
    ("digests", q_digests),
]

EVENTS_SQL = ("SELECT recipientaccountid, eventid, eventsource, errorcode, useridentity FROM cloudtrail_logs")


class Ctx:
    pass


def run_source(binary: str, folder: Path) -> dict:
    t0 = time.monotonic()
    corpus = O.load_corpus(folder)
    ctx = Ctx()
    ctx.folder = folder
    ctx.corpus = corpus
    ctx.events = O.distinct_events(corpus.records)
    ctx.states = O.config_states(corpus.items)
    ctx.pids = O.principal_ids(r.rec for r in corpus.records)
    out = {"source": folder.name, "questions": {}}
    with tempfile.TemporaryDirectory(prefix="tg-oracle-") as d:
        db = Path(d) / "store.db"
        tg = TG(binary, db)
        ctx.tg = tg
        p = tg.run("ingest", str(folder), "--format", "json", "-q")
        summary = None
        try:
            summary = json.loads(p.stdout)
        except ValueError:
            pass
        out["ingest"] = {
            "exit": p.returncode,
            "failures": [(_rel(f.get("path", ""), folder), f.get("reason")) for f in (summary or {}).get("failures", [])],
            "oracle_unreadable": corpus.unreadable,
            "oracle_unrecognized": len(corpus.unrecognized),
        }
        if p.returncode not in (0, 1) or summary is None:
            out["questions"]["ingest"] = ("DIFF", [f"ingest exit {p.returncode}: {p.stderr.strip()[:400]}"])
            out["seconds"] = round(time.monotonic() - t0, 2)
            return out
        try:
            ctx.stats = tg.json("stats", "--format", "json")
            ctx.tg_events = tg.sql(EVENTS_SQL)
            ctx.tg_states = tg.sql(STATES_SQL)
        except TGError as e:
            out["questions"]["ingest"] = ("DIFF", [str(e)])
            return out
        for name, fn in QUESTIONS:
            try:
                out["questions"][name] = fn(ctx)
            except TGError as e:
                out["questions"][name] = ("DIFF", [str(e)])
        out["trailgraph_calls"] = tg.calls
    out["seconds"] = round(time.monotonic() - t0, 2)
    return out


def print_report(results: list[dict]) -> None:
    for r in results:
        ing = r["ingest"]
        print(f"== {r['source']}  (ingest exit {ing['exit']}, {len(ing['failures'])} failed files; "
              f"{r.get('trailgraph_calls', 0)} trailgraph calls, {r['seconds']} s)")
        for f, why in ing["failures"]:
            print(f"   ingest failure: {f}: {why}")
        for q, (status, lines) in r["questions"].items():
            if status == "SKIP":
                continue
            head = lines[0] if status == "OK" and lines else ""
            print(f"  {status:4} {q}" + (f"  ({head})" if head else ""))
            if status != "OK":
                for line in lines:
                    print(f"         {line}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", help="path to the trailgraph binary")
    ap.add_argument("--corpus", help="corpus root (one folder per source)")
    ap.add_argument("--source", action="append", help="only this source folder (repeatable)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--self-test", action="store_true", help="run the oracle's unit tests and exit")
    a = ap.parse_args(argv)
    if a.self_test:
        suite = unittest.defaultTestLoader.discover(str(HERE), pattern="test_*.py", top_level_dir=str(HERE))
        ok = unittest.TextTestRunner(verbosity=1).run(suite).wasSuccessful()
        return 0 if ok else 1
    if not a.bin or not a.corpus:
        ap.error("--bin and --corpus are required (or --self-test)")
    root = Path(a.corpus)
    if not root.is_dir():
        ap.error(f"--corpus {root} is not a directory")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if a.source:
        names = set(a.source)
        unknown = names - {p.name for p in folders}
        if unknown:
            ap.error(f"unknown source(s): {sorted(unknown)}")
        folders = [p for p in folders if p.name in names]
    results = [run_source(a.bin, f) for f in folders]
    if a.json:
        print(json.dumps(results, indent=1, default=repr))
    else:
        print_report(results)
    bad = [(r["source"], q) for r in results for q, (s, _) in r["questions"].items() if s == "DIFF"]
    n = sum(1 for r in results for s, _ in r["questions"].values() if s != "SKIP")
    print(f"\n{n - len(bad)} of {n} compared answers agree" + (f"; disagreements: {bad}" if bad else ""),
          file=sys.stderr if a.json else sys.stdout)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
