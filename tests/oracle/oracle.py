"""Independent oracle over CloudTrail / AWS Config files (Python 3.11 standard library only).

Written from AWS's documentation of the formats (CloudTrail record contents, log file and digest file
structure, AWS Config configuration items and SNS/EventBridge/Lambda notifications) and from the corpus files
themselves; NOT from trailgraph's code. See README.md for the definitions.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

# ---------------------------------------------------------------------------------------------------------------
# Canonical form: "representation only" differences are erased, nothing else.
#   * strings that hold JSON are parsed (recursively) -- "true" == true, "{\"a\":1}" == {"a": 1}, "5" == 5
#   * strings that are ISO-8601 date-times become the instant they denote (naive = UTC)
#   * placebo datetime dicts ({"__class__": "datetime", ...}) become the instant
#   * numbers: an integral float equals the int
#   * object keys are sorted
# ---------------------------------------------------------------------------------------------------------------

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*(Z|z|[+-]\d{2}:?\d{2}|UTC)?$"
)


def parse_instant(v: Any) -> int | None:
    """An instant as epoch microseconds, or None when v is not a date-time we recognize."""
    if isinstance(v, dict) and v.get("__class__") == "datetime":
        try:
            d = _dt.datetime(
                int(v["year"]), int(v["month"]), int(v["day"]), int(v.get("hour", 0)),
                int(v.get("minute", 0)), int(v.get("second", 0)), int(v.get("microsecond", 0)),
                tzinfo=_dt.timezone.utc,
            )
        except (KeyError, ValueError, TypeError):
            return None
        return _epoch_us(d)
    if not isinstance(v, str):
        return None
    m = _ISO.match(v.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    try:
        base = _dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=_dt.timezone.utc)
    except ValueError:
        return None
    us = int((frac or "0")[:6].ljust(6, "0"))
    off = 0
    if tz and tz not in ("Z", "z", "UTC"):
        sign = -1 if tz[0] == "-" else 1
        t = tz[1:].replace(":", "")
        off = sign * (int(t[:2]) * 3600 + int(t[2:]) * 60)
    return _epoch_us(base) + us - off * 1_000_000


def _epoch_us(d: _dt.datetime) -> int:
    delta = d - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def iso_of_us(us: int | None) -> str | None:
    if us is None:
        return None
    d = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(microseconds=us)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def canon(v: Any) -> Any:
    if isinstance(v, dict):
        t = parse_instant(v)
        if t is not None:
            return {"$instant": t}
        return {k: canon(x) for k, x in v.items()}
    if isinstance(v, list):
        return [canon(x) for x in v]
    if isinstance(v, str):
        t = parse_instant(v)
        if t is not None:
            return {"$instant": t}
        s = v.strip()
        if s and (s[0] in "{[-0123456789" or s in ("true", "false", "null")):
            try:
                parsed = json.loads(s)
            except (ValueError, RecursionError):
                return v
            if not isinstance(parsed, str):
                return canon(parsed)
        return v
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    return v


def canon_text(v: Any) -> str:
    return json.dumps(canon(v), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canon_hash(v: Any) -> str:
    return hashlib.sha256(canon_text(v).encode()).hexdigest()[:16]


def diff_paths(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Paths where two canonical values differ (for reports)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{prefix}/{k}")
            else:
                out.extend(diff_paths(a[k], b[k], f"{prefix}/{k}"))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out.extend(diff_paths(x, y, f"{prefix}/{i}"))
        return out
    return [] if a == b else [prefix or "/"]


# ---------------------------------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Record:
    """One CloudTrail record as found in a file."""

    rec: dict
    file: str
    index: int
    envelope_account: str | None = None

    @property
    def event_id(self) -> str | None:
        v = self.rec.get("eventID")
        return None if v is None else str(v)

    @property
    def account(self) -> str:
        """recipientAccountId, else the EventBridge envelope's account, else userIdentity.accountId, else ''."""
        v = self.rec.get("recipientAccountId")
        if v not in (None, ""):
            return str(v)
        if self.envelope_account:
            return self.envelope_account
        ui = user_identity(self.rec)
        if ui.get("accountId") not in (None, ""):
            return str(ui["accountId"])
        return ""


@dataclass
class ConfigItem:
    item: dict
    file: str
    origin: str  # "item", "notification", "oversized"
    diff: dict | None = None  # configurationItemDiff of the notification that carried it


@dataclass
class Digest:
    body: dict
    file: str


@dataclass
class Corpus:
    records: list[Record] = field(default_factory=list)
    items: list[ConfigItem] = field(default_factory=list)
    digests: list[Digest] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    unrecognized: list[tuple[str, int, str]] = field(default_factory=list)  # (file, index, why)
    files: list[str] = field(default_factory=list)


NOT_AUDIT_NAMES = {"PROVENANCE.md", "README.md", "MANIFEST.tsv"}


def read_text(path: Path) -> str:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")


def load_values(text: str) -> list[Any] | None:
    """The JSON value(s) of a file: one JSON document, or JSON Lines; None when it is neither."""
    try:
        return [json.loads(text)]
    except ValueError:
        pass
    vals = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            vals.append(json.loads(line))
        except ValueError:
            return None
    return vals or None


def load_corpus(folder: Path) -> Corpus:
    c = Corpus()
    for p in sorted(x for x in folder.rglob("*") if x.is_file()):
        rel = str(p.relative_to(folder))
        c.files.append(rel)
        try:
            text = read_text(p)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            c.unreadable.append((rel, f"unreadable: {e}"))
            continue
        vals = load_values(text)
        if vals is None:
            c.unreadable.append((rel, "not JSON / JSON Lines"))
            continue
        idx = [0]
        for v in vals:
            _walk(c, v, rel, idx, None)
    return c


def _loads_maybe(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _is_ct_record(d: dict) -> bool:
    src = d.get("eventSource")
    if isinstance(src, str) and src.startswith("aws:"):
        return False  # S3/SNS/SQS event notifications, not CloudTrail
    if "eventName" in d and ("eventSource" in d or "eventVersion" in d or "eventID" in d or "eventTime" in d):
        return True
    if "eventName" in d and ("p_log_type" in d or "p_event_time" in d):
        return True  # Panther-normalized CloudTrail record
    if d.get("eventType") == "AwsCloudTrailInsight" or "insightDetails" in d:
        return True  # Insights events have no eventName/eventSource of their own
    return "eventSource" in d and ("eventTime" in d or "eventID" in d or "@timestamp" in d)


def _is_ci(d: dict) -> bool:
    return "resourceType" in d and "resourceId" in d and (
        "configurationItemCaptureTime" in d or "configurationStateId" in d or "configuration" in d
    )


def _walk(c: Corpus, v: Any, file: str, idx: list[int], env_account: str | None) -> None:
    """Find the records, configuration items and digests inside a JSON value."""
    if isinstance(v, list):
        for x in v:
            _walk(c, x, file, idx, env_account)
        return
    if not isinstance(v, dict):
        c.unrecognized.append((file, idx[0], f"not an object: {type(v).__name__}"))
        idx[0] += 1
        return
    if "digestStartTime" in v and "logFiles" in v:
        c.digests.append(Digest(v, file))
        return
    if isinstance(v.get("Records"), list):  # CloudTrail log file (or SNS Lambda event)
        for x in v["Records"]:
            if isinstance(x, dict) and isinstance(x.get("Sns"), dict):
                _walk(c, _loads_maybe(x["Sns"].get("Message")), file, idx, env_account)
            else:
                _walk(c, x, file, idx, env_account)
        return
    if isinstance(v.get("Events"), list):  # lookup-events output
        for x in v["Events"]:
            _walk(c, x, file, idx, env_account)
        return
    if "CloudTrailEvent" in v:  # lookup-events item: the record is a JSON string
        _walk(c, _loads_maybe(v["CloudTrailEvent"]), file, idx, env_account)
        return
    if "detail-type" in v and isinstance(v.get("detail"), dict):  # EventBridge envelope
        acct = v.get("account")
        _walk(c, v["detail"], file, idx, str(acct) if acct is not None else None)
        return
    if "status_code" in v and isinstance(v.get("data"), dict):  # placebo recording of a boto call
        _walk(c, v["data"], file, idx, env_account)
        return
    if v.get("Type") == "Notification" and "Message" in v:  # SNS envelope
        _walk(c, _loads_maybe(v["Message"]), file, idx, env_account)
        return
    if "invokingEvent" in v:  # Config rule Lambda event
        _walk(c, _loads_maybe(v["invokingEvent"]), file, idx, env_account)
        return
    if isinstance(v.get("configurationItems"), list):
        for x in v["configurationItems"]:
            _add_ci(c, x, file, "item", None)
        return
    if isinstance(v.get("baseConfigurationItems"), list):
        for x in v["baseConfigurationItems"]:
            _add_ci(c, x, file, "item", None)
        return
    if isinstance(v.get("Results"), list):  # select-resource-config: CIs as JSON strings
        for x in v["Results"]:
            _add_ci(c, _loads_maybe(x), file, "item", None)
        return
    mt = v.get("messageType")
    if mt == "ConfigurationItemChangeNotification" or (mt is None and "configurationItem" in v):
        ci = v.get("configurationItem")
        diff = v.get("configurationItemDiff")
        for x in ci if isinstance(ci, list) else [ci]:
            _add_ci(c, x, file, "notification", diff if isinstance(diff, dict) else None)
        return
    if mt == "OversizedConfigurationItemChangeNotification":
        s = v.get("configurationItemSummary")
        if isinstance(s, dict):
            _add_ci(c, s, file, "oversized", v.get("configurationItemDiff"))
        return
    if isinstance(mt, str):
        return  # ScheduledNotification, delivery/compliance notifications: no configuration item
    if _is_ct_record(v):
        c.records.append(Record(v, file, idx[0], env_account))
        idx[0] += 1
        return
    if _is_ci(v):
        _add_ci(c, v, file, "item", None)
        return
    c.unrecognized.append((file, idx[0], "keys: " + ",".join(sorted(v)[:8])))
    idx[0] += 1


def _add_ci(c: Corpus, x: Any, file: str, origin: str, diff: dict | None) -> None:
    if isinstance(x, dict) and "resourceType" in x and "resourceId" in x:
        c.items.append(ConfigItem(x, file, origin, diff))
    else:
        c.unrecognized.append((file, -1, "configuration item without resourceType/resourceId"))


# ---------------------------------------------------------------------------------------------------------------
# CloudTrail answers
# ---------------------------------------------------------------------------------------------------------------


def user_identity(rec: dict) -> dict:
    ui = _loads_maybe(rec.get("userIdentity"))
    return ui if isinstance(ui, dict) else {}


def principal_ids(records: Iterable[dict]) -> dict[tuple[str, str], str]:
    """How records without userIdentity.arn are tied to a logged arn, from the arns logged in these records:
    (accountId, principalId) -> the one arn logged with that principalId, and (accountId, "user/" + userName) ->
    the one IAM user arn of that account whose last path element is userName. Keys seen with several arns are
    left out (documentation examples reuse placeholder ids)."""
    seen: dict[tuple[str, str], set] = {}
    for rec in records:
        ui = user_identity(rec)
        arn, pid, acct = ui.get("arn"), ui.get("principalId"), str(ui.get("accountId") or "")
        if not (isinstance(arn, str) and arn):
            continue
        if isinstance(pid, str) and pid:
            seen.setdefault((acct, pid), set()).add(arn)
        m = re.match(r"^arn:aws[a-z-]*:iam::(\d+):user/(?:.*/)?([^/]+)$", arn)
        if m:
            seen.setdefault((m.group(1), "user/" + m.group(2)), set()).add(arn)
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}


def principal_of(rec: dict, pids: dict[tuple[str, str], str] | None = None) -> str:
    """The principal as CloudTrail logs it: userIdentity.arn. Without an arn: the arn logged elsewhere in the
    same source with the same (accountId, principalId) -- principalId is the principal's unique id (AIDA...
    for a user, AROA...:session for a role session) -- when there is exactly one; else (AWS services, Insights,
    anonymous callers, ...) "<type>:<invokedBy|principalId|accountId>", '-' for a missing part."""
    ui = user_identity(rec)
    arn = ui.get("arn")
    if isinstance(arn, str) and arn:
        return arn
    pid, acct = ui.get("principalId"), str(ui.get("accountId") or "")
    if pids and isinstance(pid, str) and (acct, pid) in pids:
        return pids[(acct, pid)]
    name = ui.get("userName")
    if pids and ui.get("type") == "IAMUser" and isinstance(name, str) and (acct, "user/" + name) in pids:
        return pids[(acct, "user/" + name)]
    typ = ui.get("type") or "-"
    for k in ("invokedBy", "principalId", "accountId"):
        if ui.get(k) not in (None, ""):
            return f"{typ}:{ui[k]}"
    return f"{typ}:-"


def error_code(rec: dict) -> str | None:
    e = rec.get("errorCode")
    return None if e in (None, "") else str(e)


@dataclass
class Event:
    """One distinct event: a (account, eventID) and one canonical content; records without an eventID are
    identified by their canonical content alone."""

    account: str
    event_id: str | None
    content: str  # hash of the canonical record
    rec: dict
    deliveries: list[tuple[str, int]]

    @property
    def key(self) -> tuple[str, str]:
        return (self.account, self.event_id if self.event_id is not None else "<no id>")


def distinct_events(records: Iterable[Record]) -> list[Event]:
    by: dict[tuple[str, str | None, str], Event] = {}
    for r in records:
        # Panther's standard fields (`p_event_time`, `p_row_id`, `p_parse_time`, `p_any_*`...) are added by Panther
        # to every record it normalizes (Panther's documentation, "Standard fields"): not part of the event.
        h = canon_hash({k: v for k, v in r.rec.items() if not k.startswith("p_")})
        k = (r.account, r.event_id, h)
        if k in by:
            by[k].deliveries.append((r.file, r.index))
        else:
            by[k] = Event(r.account, r.event_id, h, r.rec, [(r.file, r.index)])
    return list(by.values())


def variants(events: list[Event]) -> dict[tuple[str, str], list[Event]]:
    """(account, eventID) -> its events, for ids that carry more than one content."""
    g: dict[tuple[str, str], list[Event]] = {}
    for e in events:
        if e.event_id is not None:
            g.setdefault(e.key, []).append(e)
    return {k: v for k, v in g.items() if len(v) > 1}


def per_principal(events: list[Event], pids=None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for e in events:
        p = principal_of(e.rec, pids)
        d = out.setdefault(p, {"events": 0, "failed": 0, "ids": []})
        d["events"] += 1
        if error_code(e.rec):
            d["failed"] += 1
        d["ids"].append(e.event_id)
    return out


S3_READS = {"GetObject", "HeadObject"}
S3_WRITES = {"PutObject", "CopyObject", "CompleteMultipartUpload", "DeleteObject", "DeleteObjects"}


def s3_object_access(rec: dict) -> list[tuple[str, str]]:
    """[(bucket/key, 'read'|'write')] of a successful S3 object-level call; [] otherwise."""
    if rec.get("eventSource") != "s3.amazonaws.com" or error_code(rec):
        return []
    name = rec.get("eventName")
    if name not in S3_READS and name not in S3_WRITES:
        return []
    rp = _loads_maybe(rec.get("requestParameters"))
    if not isinstance(rp, dict):
        return []
    bucket = rp.get("bucketName")
    if not isinstance(bucket, str) or not bucket:
        return []
    keys: list[str] = []
    if name == "DeleteObjects":
        d = rp.get("delete") or rp.get("Delete")
        objs = d.get("Object") if isinstance(d, dict) else None
        if isinstance(objs, dict):
            objs = [objs]
        for o in objs or []:
            if isinstance(o, dict) and isinstance(o.get("Key"), str):
                keys.append(o["Key"])
        if not keys and isinstance(rp.get("key"), str):
            keys.append(rp["key"])
    elif isinstance(rp.get("key"), str) and rp["key"]:
        keys.append(rp["key"])
    access = "read" if name in S3_READS else "write"
    return [(f"{bucket}/{k}", access) for k in keys]


def s3_objects(events: list[Event], pids=None) -> dict[str, dict[str, set]]:
    """object -> {'read': {(principal, eventID)}, 'write': {...}}"""
    out: dict[str, dict[str, set]] = {}
    for e in events:
        for obj, acc in s3_object_access(e.rec):
            eid = "<no id>" if e.event_id is None else e.event_id
            out.setdefault(obj, {"read": set(), "write": set()})[acc].add((principal_of(e.rec, pids), eid))
    return out


# ---------------------------------------------------------------------------------------------------------------
# AWS Config answers
# ---------------------------------------------------------------------------------------------------------------

DELETED_STATUSES = {"ResourceDeleted", "ResourceNotRecorded", "ResourceDeletedNotRecorded"}


def capture_us(v: Any) -> int | None:
    t = parse_instant(v)
    if t is not None:
        return t
    if isinstance(v, (int, float)) and not isinstance(v, bool):  # epoch seconds (CLI output)
        return round(v * 1_000_000)
    if isinstance(v, str):
        try:
            return round(float(v) * 1_000_000)
        except ValueError:
            return None
    return None


def _rels(item: dict) -> list:
    out = []
    for r in item.get("relationships") or []:
        if isinstance(r, dict):
            out.append([r.get("resourceType"), r.get("resourceId"), r.get("resourceName"),
                        r.get("relationshipName", r.get("name"))])
    return sorted(out, key=lambda x: json.dumps(x))


@dataclass
class State:
    rtype: str
    rid: str
    state_id: str | None
    capture: int | None
    status: str | None
    content: Any  # canonical configuration + supplementaryConfiguration + tags + relationships (None: oversized)
    files: list[str]
    origin: str
    diffs: list[dict]
    arn: str | None = None
    name: str | None = None
    account: str | None = None


def type_spelling(types) -> dict[str, str]:
    """AWS Config resource types are fixed names; AWS's own older examples spell some in capitals
    (`AWS::EC2::VOLUME` in the 1.0 notification example). Spellings that differ only in case are one type, shown
    as the spelling with the fewest capitals (`AWS::EC2::Volume`)."""
    best: dict[str, str] = {}
    for t in types:
        k = t.lower()
        if k not in best or sum(c.isupper() for c in t) < sum(c.isupper() for c in best[k]):
            best[k] = t
    return best


def ci_state_id(item: dict) -> str | None:
    v = item.get("configurationStateId", item.get("configurationStateID"))
    return None if v is None else str(v)


def config_states(items: list[ConfigItem]) -> dict[tuple[str, str], list[State]]:
    """resource (type, id) -> its distinct states (by configurationStateId, else capture time), in capture
    order."""
    by: dict[tuple[str, str], dict[Any, State]] = {}
    spelling = type_spelling(str(ci.item["resourceType"]) for ci in items)
    for ci in items:
        it = ci.item
        rtype, rid = spelling[str(it["resourceType"]).lower()], str(it["resourceId"])
        sid = ci_state_id(it)
        cap = capture_us(it.get("configurationItemCaptureTime"))
        content = None
        if ci.origin != "oversized":
            content = canon({
                "configuration": it.get("configuration"),
                "supplementaryConfiguration": it.get("supplementaryConfiguration"),
                "tags": it.get("tags"),
                "relationships": _rels(it),
            })
        # A state is of one resource: the same (type, id) in two accounts is two resources.
        acct = str(it.get("awsAccountId", it.get("accountId")) or "")
        key = (acct, sid if sid is not None else ("t", cap))
        states = by.setdefault((rtype, rid), {})
        if key in states:
            s = states[key]
            s.files.append(ci.file)
            if s.content is None and content is not None:
                s.content = content
            if ci.diff:
                s.diffs.append(ci.diff)
        else:
            arn = it.get("arn", it.get("ARN"))
            name = it.get("resourceName")
            states[key] = State(rtype, rid, sid, cap, it.get("configurationItemStatus"), content, [ci.file],
                                ci.origin, [ci.diff] if ci.diff else [],
                                arn if isinstance(arn, str) and arn else None,
                                name if isinstance(name, str) and name else None,
                                str(it.get("awsAccountId", it.get("accountId")) or "") or None)
    return {k: sorted(v.values(), key=_state_order) for k, v in by.items()}


def _state_order(s: State):
    sid = s.state_id or ""
    return (s.capture if s.capture is not None else -1, int(sid) if sid.isdigit() else 0, sid)


def config_changes(states: list[State]) -> list[dict]:
    """The changes of one resource: {capture, why: [...]} in capture order."""
    ch: dict[int | None, set] = {}
    prev = None
    for s in states:
        if prev is not None and prev.content is not None and s.content is not None and prev.content != s.content:
            paths = diff_paths(prev.content, s.content)
            ch.setdefault(s.capture, set()).add("state differs: " + ",".join(paths[:4]))
        for d in s.diffs:
            t = d.get("changeType")
            props = d.get("changedProperties") or {}
            if t in ("CREATE", "DELETE") or (t == "UPDATE" and props):
                ch.setdefault(s.capture, set()).add(f"notification {t} " + ",".join(sorted(props)[:4]))
        if s.status in DELETED_STATUSES:
            ch.setdefault(s.capture, set()).add(f"status {s.status}")
        prev = s
    return [{"capture": k, "why": sorted(v)} for k, v in sorted(ch.items(), key=lambda kv: kv[0] or 0)]


# ---------------------------------------------------------------------------------------------------------------
# Digests
# ---------------------------------------------------------------------------------------------------------------


def digest_summary(d: Digest) -> dict:
    logs = d.body.get("logFiles") or []
    return {
        "file": d.file,
        "account": d.body.get("awsAccountId"),
        "start": d.body.get("digestStartTime"),
        "end": d.body.get("digestEndTime"),
        "log_files": sorted(f"{x.get('s3Bucket')}/{x.get('s3Object')}" for x in logs if isinstance(x, dict)),
        "previous": d.body.get("previousDigestS3Object"),
    }
