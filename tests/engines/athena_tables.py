"""The tables of `trailgraph athena-ddl`, emulated in DuckDB over a local trail folder, for tests that run
trailgraph's Athena SQL for real (transpiled by sqlglot from Trino, Athena's engine, to DuckDB).

- The CloudTrail table: AWS's documented columns (lower-case names, `useridentity` and `resources` as structs,
  `requestparameters` and `responseelements` as JSON text), the partition columns `account`, `region`,
  `timestamp` (`YYYY/MM/DD`), and `"$path"`.
- The Config table (`athena-ddl --config-table`): one row per ConfigHistory file, the items in the array
  `configurationitems` (lower-case struct fields), partitions `account`, `region`, `dt` (`YYYY/M/D`), and `"$path"`.

`"$path"` is the file's path under the folder, or `s3://BUCKET/KEY` when a bucket is given (the key being the path
below the folder), as Athena names the files of a table over a bucket.
"""
import os


def _path_expr(trail, bucket):
    if not bucket:
        return "filename"
    root = os.path.abspath(trail).rstrip("/") + "/"
    root_sql = root.replace("'", "''")
    bucket_sql = bucket.replace("'", "''")
    return f"'s3://{bucket_sql}/' || substr(filename, {len(root) + 1})"


def _s(path):
    return f"json_extract_string(r, '$.{path}')"


def _glob(trail, pattern):
    return "'" + (os.path.abspath(trail) + pattern).replace("'", "''") + "'"  # a view cannot take parameters


def _files(trail, pattern):
    import glob

    return glob.glob(os.path.abspath(trail) + pattern, recursive=True)


def _schema(con, table):
    schema, _, _ = table.rpartition(".")
    if schema:
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def cloudtrail_view(con, trail, table, bucket=None):
    _schema(con, table)
    s = _s
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
    con.execute(
        f"""CREATE VIEW {table} AS
        SELECT {_path_expr(trail, bucket)} AS "$path",
            regexp_extract(filename, 'AWSLogs/(?:o-[^/]+/)?([0-9]{{12}})/CloudTrail/', 1) AS account,
            regexp_extract(filename, '/CloudTrail/([^/]+)/', 1) AS region,
            regexp_extract(filename, '/CloudTrail/[^/]+/([0-9]{{4}}/[0-9]{{2}}/[0-9]{{2}})/', 1) AS "timestamp",
            {s('eventTime')} AS eventtime, {s('eventName')} AS eventname, {s('eventSource')} AS eventsource,
            {s('sourceIPAddress')} AS sourceipaddress, {s('eventID')} AS eventid, {s('recipientAccountId')} AS recipientaccountid,
            {useridentity} AS useridentity,
            CAST(json_extract(r, '$.requestParameters') AS VARCHAR) AS requestparameters,
            CAST(json_extract(r, '$.responseElements') AS VARCHAR) AS responseelements,
            {resources} AS resources
        FROM (SELECT filename, unnest(json_extract(json, '$.Records[*]')) AS r
              FROM read_json_objects({_glob(trail, '/**/CloudTrail/*/*/*/*/*.json.gz')}, filename = true,
                                     maximum_object_size = 1000000000))"""
    )


def config_view(con, trail, table, bucket=None):
    _schema(con, table)
    item = """'[{"resourceType": "VARCHAR", "resourceId": "VARCHAR", "resourceName": "VARCHAR", "ARN": "VARCHAR",
        "awsAccountId": "VARCHAR", "awsRegion": "VARCHAR", "configurationItemCaptureTime": "VARCHAR",
        "configurationItemStatus": "VARCHAR"}]'"""
    pattern = "/**/Config/*/*/*/*/ConfigHistory/*.json.gz"
    # A table over a location without files is empty, as in Athena (DuckDB's reader refuses an empty glob).
    source = (
        f"read_json_objects({_glob(trail, pattern)}, filename = true, maximum_object_size = 1000000000)"
        if _files(trail, pattern)
        else "(SELECT NULL::VARCHAR AS filename, NULL::JSON AS json WHERE false)"
    )
    con.execute(
        f"""CREATE VIEW {table} AS
        SELECT {_path_expr(trail, bucket)} AS "$path",
            regexp_extract(filename, 'AWSLogs/(?:o-[^/]+/)?([0-9]{{12}})/Config/', 1) AS account,
            regexp_extract(filename, '/Config/([^/]+)/', 1) AS region,
            regexp_extract(filename, '/Config/[^/]+/([0-9]{{4}}/[0-9]{{1,2}}/[0-9]{{1,2}})/', 1) AS dt,
            CAST(json_transform(json_extract(json, '$.configurationItems'), {item})
                AS STRUCT(resourcetype VARCHAR, resourceid VARCHAR, resourcename VARCHAR, arn VARCHAR,
                          awsaccountid VARCHAR, awsregion VARCHAR, configurationitemcapturetime VARCHAR,
                          configurationitemstatus VARCHAR)[]) AS configurationitems
        FROM {source}"""
    )


def transpile(athena_sql):
    import sqlglot

    return sqlglot.transpile(athena_sql, read="trino", write="duckdb")[0]
