#!/usr/bin/env python3
"""Runs trailgraph's Athena SQL for real, without Athena: sqlglot transpiles it from Trino (Athena's engine) to
DuckDB, and DuckDB runs it over a local trail folder exposed as AWS's documented CloudTrail table (the columns of
`trailgraph athena-ddl`: lower-case names, `useridentity` and `resources` as structs, `requestparameters` and
`responseelements` as JSON text, the partition columns `account`, `region`, `timestamp`, and `"$path"`).

Usage: athena_on_duckdb.py TRAIL_DIR TABLE < SQL     prints {"transpiled": ..., "rows": [[path, used, issued], ...]}
"""
import json
import sys

import duckdb
import sqlglot

trail, table = sys.argv[1], sys.argv[2]
athena_sql = sys.stdin.read()
duck_sql = sqlglot.transpile(athena_sql, read="trino", write="duckdb")[0]

con = duckdb.connect()
con.execute("SET threads TO 2")
schema, _, name = table.rpartition(".")
if schema:
    con.execute(f'CREATE SCHEMA "{schema}"')


def s(path):
    return f"json_extract_string(r, '$.{path}')"


useridentity = f"""struct_pack(
    type := {s('userIdentity.type')}, principalid := {s('userIdentity.principalId')}, arn := {s('userIdentity.arn')},
    accountid := {s('userIdentity.accountId')}, invokedby := {s('userIdentity.invokedBy')},
    accesskeyid := {s('userIdentity.accessKeyId')}, username := {s('userIdentity.userName')},
    sessioncontext := struct_pack(sessionissuer := struct_pack(
        type := {s('userIdentity.sessionContext.sessionIssuer.type')},
        principalid := {s('userIdentity.sessionContext.sessionIssuer.principalId')},
        arn := {s('userIdentity.sessionContext.sessionIssuer.arn')},
        accountid := {s('userIdentity.sessionContext.sessionIssuer.accountId')},
        username := {s('userIdentity.sessionContext.sessionIssuer.userName')})))"""
resources = """CAST(json_transform(json_extract(r, '$.resources'),
    '[{"ARN": "VARCHAR", "accountId": "VARCHAR", "type": "VARCHAR"}]') AS STRUCT(arn VARCHAR, accountid VARCHAR, type VARCHAR)[])"""
glob = "'" + f"{trail}/AWSLogs/**/*.json.gz".replace("'", "''") + "'"  # a view cannot take parameters
con.execute(
    f"""CREATE VIEW {table} AS
    SELECT filename AS "$path",
        regexp_extract(filename, 'AWSLogs/(?:o-[^/]+/)?([0-9]{{12}})/CloudTrail/', 1) AS account,
        regexp_extract(filename, '/CloudTrail/([^/]+)/', 1) AS region,
        regexp_extract(filename, '/CloudTrail/[^/]+/([0-9]{{4}}/[0-9]{{2}}/[0-9]{{2}})/', 1) AS "timestamp",
        {s('eventTime')} AS eventtime, {s('eventName')} AS eventname, {s('eventSource')} AS eventsource,
        {s('sourceIPAddress')} AS sourceipaddress, {s('eventID')} AS eventid,
        {useridentity} AS useridentity,
        CAST(json_extract(r, '$.requestParameters') AS VARCHAR) AS requestparameters,
        CAST(json_extract(r, '$.responseElements') AS VARCHAR) AS responseelements,
        {resources} AS resources
    FROM (SELECT filename, unnest(json_extract(json, '$.Records[*]')) AS r
          FROM read_json_objects({glob}, filename = true, maximum_object_size = 1000000000))"""
)
rows = con.execute(duck_sql).fetchall()
print(json.dumps({"transpiled": duck_sql, "rows": sorted([list(r) for r in rows], key=lambda r: [x or "" for x in r])}))
