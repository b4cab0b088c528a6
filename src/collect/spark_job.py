# The Spark side of `trailgraph collect --via spark`. src/collect/spark.rs runs it with Python as a PySpark driver
# program: `python3 JOB MASTER [KEY=VALUE...]`. PySpark starts the JVM through spark-submit itself (client mode), and
# unlike `spark-submit JOB` (whose Python child does not get the caller's stdin) the driver keeps its stdin.
#
# One long-lived driver answers every round of a run, so Spark starts once. Protocol: one JSON request per line on
# stdin, one JSON answer per line on stdout (Spark's own logging goes to stderr):
#   request  {"table": "cloudtrail"|"config", "files": ["/abs/path" or "s3://b/k", ...], "sql": "...", "params": [...]}
#   answer   {"ok": true, "rows": [[path, used_key, issued_key], ...], "query_id": "...", "seconds": s}
#            {"ok": false, "error": "Spark's own message"}
# The SQL reads a view named after the table. Scope strings arrive as named parameters (:p0, :p1, ...) bound by
# spark.sql(..., args=...), never pasted into the SQL text.
#
# The views keep nested JSON (userIdentity, requestParameters, responseElements, resources) as raw JSON text: a
# StringType field in a JSON schema holds the text of whatever object or array is there, so no schema drift in
# real records breaks the read. Each file is read whole by Python in the executors (gzip by its magic bytes) and
# parsed by Spark's from_json; the path column is the path trailgraph listed. Spark's own file sources are not
# used for local folders because Hadoop paths cannot hold ':' and every AWS Config history file name does
# (`..._ConfigHistory_AWS::S3::Bucket_...`): Hadoop refuses them with "Relative path in absolute URI". Objects of
# an S3 trail are read the same way, with boto3 in the executors (so no hadoop-aws jars are needed).
import gzip
import json
import sys
import time

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

CLOUDTRAIL_FIELDS = [
    "eventVersion", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "userAgent",
    "errorCode", "eventID", "eventType", "recipientAccountId", "userIdentity", "requestParameters",
    "responseElements", "resources", "sharedEventID",
]
CONFIG_FIELDS = [
    "resourceType", "resourceId", "resourceName", "ARN", "awsAccountId", "awsRegion", "configurationItemCaptureTime",
]


def schema(container, fields):
    return StructType([StructField(container, ArrayType(StructType([StructField(f, StringType()) for f in fields])))])


S3 = {}


def read_s3(uri):
    """The bytes of s3://BUCKET/KEY, read with boto3 in the executor: its default credential chain, and the endpoint
    in TRAILGRAPH_S3_ENDPOINT when set (an S3-compatible store, a test server; path-style addressing then)."""
    import os

    if "client" not in S3:
        import boto3
        from botocore.config import Config

        endpoint = os.environ.get("TRAILGRAPH_S3_ENDPOINT") or None
        S3["client"] = boto3.client(
            "s3",
            endpoint_url=endpoint,
            config=Config(s3={"addressing_style": "path"} if endpoint else {}, retries={"mode": "standard"}),
        )
    bucket, _, key = uri[len("s3://"):].partition("/")
    return S3["client"].get_object(Bucket=bucket, Key=key)["Body"].read()


def read_file(path):
    """The text of one file (a local path, or s3://BUCKET/KEY), gzip (by its magic bytes, every member) or plain."""
    if path.startswith("s3://"):
        data = read_s3(path)
    else:
        with open(path, "rb") as f:
            data = f.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except Exception:  # a broken file matches nothing here; trailgraph's ingest reports it if fetched
            return ""
    return data.decode("utf-8", "replace").lstrip("\ufeff")


CACHED = {}


def view(spark, table, files):
    """Registers the view of a table over files. The parsed rows are kept (memory, then disk) while later rounds ask
    about the same files: every round reads the same window, and parsing the JSON is most of a round's work."""
    key = (table, tuple(files or []))
    if key in CACHED:
        CACHED[key].createOrReplaceTempView(table)
        return
    for k in [k for k in CACHED if k[0] == table]:
        CACHED.pop(k).unpersist()
    if table == "cloudtrail":
        container, fields = "Records", CLOUDTRAIL_FIELDS
    else:
        container, fields = "configurationItems", CONFIG_FIELDS
    sc = spark.sparkContext
    texts = sc.parallelize(files or [], max(1, min(len(files), sc.defaultParallelism * 8))).map(
        lambda p: (p, read_file(p))
    )
    text_schema = StructType([StructField("path", StringType()), StructField("text", StringType())])
    df = (
        spark.createDataFrame(texts, text_schema)
        .select("path", F.from_json("text", schema(container, fields)).alias("doc"))
        .select("path", F.explode_outer("doc." + container).alias("r"))
        .where(F.col("r").isNotNull())
        .select(*[F.col("r." + f).alias(f.lower()) for f in fields], "path")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    CACHED[key] = df
    df.createOrReplaceTempView(table)


def main():
    builder = SparkSession.builder.appName("trailgraph-collect").master(sys.argv[1])
    for kv in sys.argv[2:]:
        k, _, v = kv.partition("=")
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    out = sys.stdout
    print(json.dumps({"ok": True, "ready": True, "version": spark.version}), file=out, flush=True)
    n = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        n += 1
        started = time.time()
        try:
            req = json.loads(line)
            view(spark, req["table"], req["files"])
            args = {f"p{i}": v for i, v in enumerate(req.get("params", []))}
            rows = spark.sql(req["sql"], args=args).collect() if args else spark.sql(req["sql"]).collect()
            answer = {
                "ok": True,
                "rows": [[r[0], r[1], r[2]] for r in rows],
                "query_id": f"spark-{spark.sparkContext.applicationId}-{n}",
                "seconds": time.time() - started,
            }
        except Exception as e:  # the engine's own message goes back to trailgraph, which exits 2 with it
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), file=out, flush=True)
    spark.stop()


main()
