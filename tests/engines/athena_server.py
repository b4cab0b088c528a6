#!/usr/bin/env python3
"""A local Amazon Athena for tests: the Athena JSON 1.1 protocol on loopback (`X-Amz-Target: AmazonAthena.*`),
with the queries run for real by DuckDB over a local trail folder exposed as the tables of `trailgraph athena-ddl`
(athena_tables.py; sqlglot transpiles Trino, Athena's engine, to DuckDB). The files' `"$path"` is
`s3://BUCKET/KEY`, KEY being the path below the folder, as when the same folder is uploaded to the bucket.

What it does as Athena does:
- StartQueryExecution returns a QueryExecutionId; the query runs at once, but GetQueryExecution answers QUEUED,
  then RUNNING, and only then the final state: SUCCEEDED with Statistics.DataScannedInBytes, or FAILED with a
  StateChangeReason and AthenaError in Athena's words (a missing table: `TABLE_NOT_FOUND: ... does not exist`).
- GetQueryResults pages (at most --page rows a page, NextToken), the first row of the first page being the column
  names, NULL as a Datum without VarCharValue.
- Every --throttle-every'th request (0: never) is refused with HTTP 400 TooManyRequestsException.
DataScannedInBytes is the size of the table's files after partition pruning is not emulated: the sum of the sizes
of every file of the table read.

Usage: athena_server.py --trail DIR --bucket NAME --table DB.T [--config-table DB.T] [--log FILE] [--page N]
                        [--throttle-every N]
Prints `PORT <n>` when it listens; each request is logged to --log as a JSON line {op, request}.
"""
import argparse
import glob
import http.server
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import duckdb  # noqa: E402

import athena_tables  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--trail", required=True)
ap.add_argument("--bucket", required=True)
ap.add_argument("--table", required=True)
ap.add_argument("--config-table")
ap.add_argument("--log")
ap.add_argument("--page", type=int, default=1000)
ap.add_argument("--throttle-every", type=int, default=0)
args = ap.parse_args()

con = duckdb.connect()
con.execute("SET threads TO 2")
athena_tables.cloudtrail_view(con, args.trail, args.table, args.bucket)
if args.config_table:
    athena_tables.config_view(con, args.trail, args.config_table, args.bucket)


def size_of(pattern):
    return sum(os.path.getsize(p) for p in glob.glob(os.path.abspath(args.trail) + pattern, recursive=True))


SCANNED = {
    "ct": size_of("/**/CloudTrail/*/*/*/*/*.json.gz"),
    "cfg": size_of("/**/Config/*/*/*/*/ConfigHistory/*.json.gz"),
}
lock = threading.Lock()
queries = {}
counter = {"requests": 0, "queries": 0}


def athena_error(msg):
    """DuckDB's message in Athena's words where Athena has its own."""
    if "Catalog Error" in msg and "does not exist" in msg:
        name = msg.split("with name ", 1)[-1].split(" does not exist", 1)[0].replace('"', "")
        return f"TABLE_NOT_FOUND: line 1:1: Table 'awsdatacatalog.{name}' does not exist"
    return "GENERIC_USER_ERROR: " + msg.replace("\n", " ")


def run(sql):
    try:
        duck = athena_tables.transpile(sql)
        cur = con.execute(duck)
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
        config = args.config_table and args.config_table.split(".")[-1]
        scanned = SCANNED["cfg"] if config and config in sql else SCANNED["ct"]
        return {"state": "SUCCEEDED", "cols": cols, "rows": rows, "scanned": scanned}
    except Exception as e:  # the query's own failure, as Athena reports one
        return {"state": "FAILED", "reason": athena_error(str(e))}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-RequestId", f"req-{counter['requests']}")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        target = self.headers.get("X-Amz-Target", "")
        op = target.rsplit(".", 1)[-1]
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = {}
        with lock:
            counter["requests"] += 1
            n = counter["requests"]
            if args.log:
                with open(args.log, "a") as f:
                    f.write(json.dumps({"op": op, "request": req}) + "\n")
            if args.throttle_every and n % args.throttle_every == 0:
                return self.reply(400, {"__type": "TooManyRequestsException", "Message": "Rate exceeded",
                                        "Reason": "CONCURRENT_QUERY_LIMIT_EXCEEDED"})
            if not target.startswith("AmazonAthena."):
                return self.reply(400, {"__type": "UnknownOperationException", "message": target})
            handler = getattr(self, "op_" + op, None)
            if handler is None:
                return self.reply(400, {"__type": "InvalidRequestException", "Message": f"{op} not served"})
            status, out = handler(req)
            return self.reply(status, out)

    def op_StartQueryExecution(self, req):
        if "QueryString" not in req:
            return 400, {"__type": "InvalidRequestException", "Message": "QueryString is required"}
        counter["queries"] += 1
        qid = f"q-{counter['queries']:04d}-0000-4000-8000-000000000000"
        result = run(req["QueryString"])
        queries[qid] = {"req": req, "polls": 0, "result": result, "submitted": time.time()}
        return 200, {"QueryExecutionId": qid}

    def execution(self, qid):
        q = queries.get(qid)
        if q is None:
            return None
        q["polls"] += 1
        state = ["QUEUED", "RUNNING"][q["polls"] - 1] if q["polls"] <= 2 else q["result"]["state"]
        status = {"State": state, "SubmissionDateTime": q["submitted"]}
        out = {
            "QueryExecutionId": qid,
            "Query": q["req"]["QueryString"],
            "StatementType": "DML",
            "Status": status,
            "WorkGroup": q["req"].get("WorkGroup", "primary"),
            "QueryExecutionContext": q["req"].get("QueryExecutionContext", {}),
            "ResultConfiguration": q["req"].get("ResultConfiguration", {}),
            "EngineVersion": {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"},
            "Statistics": {"EngineExecutionTimeInMillis": 42, "TotalExecutionTimeInMillis": 57},
        }
        if state == "SUCCEEDED":
            status["CompletionDateTime"] = time.time()
            out["Statistics"]["DataScannedInBytes"] = q["result"]["scanned"]
        elif state == "FAILED":
            status["CompletionDateTime"] = time.time()
            status["StateChangeReason"] = q["result"]["reason"]
            status["AthenaError"] = {"ErrorCategory": 2, "ErrorType": 1006, "Retryable": False,
                                     "ErrorMessage": q["result"]["reason"]}
        return out

    def op_GetQueryExecution(self, req):
        out = self.execution(req.get("QueryExecutionId", ""))
        if out is None:
            return 400, {"__type": "InvalidRequestException", "Message": "QueryExecution not found"}
        return 200, {"QueryExecution": out}

    def op_GetQueryResults(self, req):
        q = queries.get(req.get("QueryExecutionId", ""))
        if q is None:
            return 400, {"__type": "InvalidRequestException", "Message": "QueryExecution not found"}
        r = q["result"]
        if r["state"] != "SUCCEEDED" or q["polls"] < 3:
            return 400, {"__type": "InvalidRequestException",
                         "Message": f"Query has not yet finished. Current state: {['QUEUED', 'RUNNING'][min(q['polls'], 1)] if q['polls'] < 3 else r['state']}"}
        page = min(args.page, int(req.get("MaxResults", 1000)))
        token = req.get("NextToken")
        start = int(token.split("-")[1]) if token else 0

        def datum(v):
            return {} if v is None else {"VarCharValue": str(v)}

        rows = []
        if start == 0:
            rows.append({"Data": [datum(c) for c in r["cols"]]})
        take = r["rows"][start:start + page - len(rows)]
        rows += [{"Data": [datum(v) for v in row]} for row in take]
        out = {
            "UpdateCount": 0,
            "ResultSet": {
                "Rows": rows,
                "ResultSetMetadata": {"ColumnInfo": [
                    {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": c, "Label": c,
                     "Type": "varchar", "Precision": 2147483647, "Scale": 0, "Nullable": "UNKNOWN",
                     "CaseSensitive": True} for c in r["cols"]]},
            },
        }
        end = start + len(take)
        if end < len(r["rows"]):
            out["NextToken"] = f"t-{end}"
        return 200, out


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"PORT {server.server_address[1]}", flush=True)
server.serve_forever()
