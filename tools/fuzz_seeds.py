#!/usr/bin/env python3
"""Writes seed corpora for the cargo-fuzz targets under fuzz/seeds/<target>/ from fixtures/ and the shared corpus.

Usage: tools/fuzz_seeds.py [CORPUS_DIR ...]   (default: fixtures/ and $TRAILGRAPH_CORPUS or ../shared/corpus)

Each file is classified by content, not by name. Large files are cut to their first few records so each seed
stays small (libFuzzer mutates small inputs far faster); the cut keeps the file's container shape.
"""
import gzip, hashlib, json, os, re, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "seeds")
MAX_SEED = 48 * 1024
TARGETS = ["log_file", "config", "digest", "gzip", "time", "arn", "public_keys"]


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    if not data or len(data) > 256 * 1024:
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def shrink(doc):
    """The first records of a container, so the seed is small but keeps its shape."""
    if isinstance(doc, dict):
        for k in ("Records", "configurationItems", "records"):
            if isinstance(doc.get(k), list) and len(doc[k]) > 3:
                doc = dict(doc)
                doc[k] = doc[k][:3]
    elif isinstance(doc, list) and len(doc) > 3:
        doc = doc[:3]
    return doc


def strings(v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (str, int, float)) and re.search(r"time|date|Time|Date", k):
                out["time"].add(json.dumps(x) if not isinstance(x, str) else x)
            strings(x, out)
    elif isinstance(v, list):
        for x in v:
            strings(x, out)
    elif isinstance(v, str) and v.startswith("arn:"):
        out["arn"].add(v)
    elif isinstance(v, str) and re.match(r"^(AROA|AIDA|ASIA|AKIA)[A-Z0-9]+(:.*)?$", v):
        out["arn"].add(v)


def kind(doc):
    text = json.dumps(doc)[:20000]
    if "digestPublicKeyFingerprint" in text or "digestSignatureAlgorithm" in text:
        return "digest"
    if "PublicKeyList" in text or "publicKeyList" in text:
        return "public_keys"
    if "configurationItem" in text or "resourceType" in text and "eventName" not in text:
        return "config"
    return "log_file"


def main():
    sources = sys.argv[1:] or [
        os.path.join(ROOT, "fixtures"),
        os.environ.get("TRAILGRAPH_CORPUS", os.path.join(ROOT, "..", "shared", "corpus")),
    ]
    seen = {"time": set(), "arn": set()}
    n = 0
    for src in sources:
        for dirpath, _, files in os.walk(src):
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                try:
                    raw = open(path, "rb").read()
                except OSError:
                    continue
                seen["arn"].add(os.path.relpath(path, src))
                if name.endswith(".pem"):
                    write("public_keys", raw)
                    continue
                if raw[:2] == b"\x1f\x8b":
                    if len(raw) <= MAX_SEED:
                        write("gzip", raw)
                        write("log_file", raw)
                    try:
                        raw = gzip.decompress(raw)
                    except Exception:
                        continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    continue
                docs = []
                try:
                    docs = [json.loads(text)]
                except (ValueError, RecursionError):
                    for line in text.splitlines()[:3]:
                        try:
                            docs.append(json.loads(line))
                        except (ValueError, RecursionError):
                            pass
                    if docs:
                        write("log_file", "\n".join(text.splitlines()[:3]))
                for doc in docs:
                    strings(doc, seen)
                    k = kind(doc)
                    small = json.dumps(shrink(doc), separators=(",", ":"))
                    if len(small) > MAX_SEED:
                        continue
                    write(k, small)
                    if k == "digest":
                        write("digest", name)
                    n += 1
                if name.endswith(".json.gz"):
                    write("digest", name)
    for t in sorted(seen["time"])[:2000]:
        write("time", t)
    for a in sorted(seen["arn"])[:4000]:
        write("arn", a)
    for t in TARGETS:
        os.makedirs(os.path.join(OUT, t), exist_ok=True)
    counts = {t: len(os.listdir(os.path.join(OUT, t))) for t in TARGETS}
    print("seeds:", " ".join(f"{t}={c}" for t, c in counts.items()))


main()
