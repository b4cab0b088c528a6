"""Unit tests of the oracle on tiny hand-made inputs with known answers (python3 -m unittest, or run.py --self-test)."""

import gzip
import json
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import oracle as O  # noqa: E402


def rec(eid, **kw):
    r = {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice",
                         "accountId": "111122223333"},
        "eventTime": "2024-03-01T10:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateUser",
        "eventID": eid,
        "recipientAccountId": "111122223333",
    }
    r.update(kw)
    return r


class Canon(unittest.TestCase):
    def test_representation_only(self):
        a = rec("1", readOnly=False, requestParameters={"userName": "bob"})
        b = json.loads(json.dumps(a, indent=4))
        b["readOnly"] = "false"
        b["requestParameters"] = json.dumps({"userName": "bob"})
        b["eventTime"] = "2024-03-01 10:00:00.000000000"
        self.assertEqual(O.canon_text(a), O.canon_text(b))

    def test_offset_times_are_instants(self):
        self.assertEqual(O.parse_instant("2022-02-08 09:23:37+11:00"), O.parse_instant("2022-02-07T22:23:37Z"))
        placebo = {"__class__": "datetime", "year": 2016, "month": 12, "day": 11, "hour": 6, "minute": 4,
                   "second": 3, "microsecond": 800000}
        self.assertEqual(O.parse_instant(placebo), O.parse_instant("2016-12-11T06:04:03.800Z"))
        self.assertIsNone(O.parse_instant("redacted"))

    def test_content_differences_are_kept(self):
        a = rec("1")
        self.assertNotEqual(O.canon_text(a), O.canon_text(rec("1", errorCode="AccessDenied")))
        self.assertNotEqual(O.canon_text(a), O.canon_text(rec("1", requestParameters={"userName": "x"})))
        self.assertEqual(O.diff_paths(O.canon(a), O.canon(rec("1", errorCode="X"))), ["/errorCode"])


class Principals(unittest.TestCase):
    def test_records_without_arn_are_tied_to_a_logged_arn(self):
        alice = {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ops/alice", "principalId": "AIDA1",
                 "accountId": "111122223333", "userName": "alice"}
        by_pid = {"type": "IAMUser", "principalId": "AIDA1", "accountId": "111122223333"}
        by_name = {"type": "IAMUser", "principalId": "AIDA9", "accountId": "111122223333", "userName": "alice"}
        other_acct = {"type": "IAMUser", "principalId": "AIDA1", "accountId": "999999999999", "userName": "alice"}
        svc = {"type": "AWSService", "invokedBy": "s3.amazonaws.com"}
        recs = [rec("1", userIdentity=u) for u in (alice, by_pid, by_name, other_acct, svc)]
        pids = O.principal_ids(recs)
        got = [O.principal_of(r, pids) for r in recs]
        self.assertEqual(got, [alice["arn"]] * 3 + ["IAMUser:AIDA1", "AWSService:s3.amazonaws.com"])
        # a placeholder principalId logged with two arns ties nothing
        twice = dict(alice, arn="arn:aws:iam::111122223333:user/bob", userName="bob")
        pids = O.principal_ids([rec("1", userIdentity=alice), rec("2", userIdentity=twice)])
        self.assertEqual(O.principal_of(rec("3", userIdentity=by_pid), pids), "IAMUser:AIDA1")


class Folder(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, value, gz=False):
        p = self.root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(value).encode()
        p.write_bytes(gzip.compress(data) if gz else data)

    def test_events_duplicates_variants_principals(self):
        a, b = rec("A"), rec("B")
        self.write("one.json.gz", {"Records": [a, b]}, gz=True)
        # A delivered again (pretty-printed), B again but refused: a variant
        self.write("two.json", {"Records": [a, rec("B", errorCode="AccessDenied")]})
        svc = rec("C", userIdentity={"type": "AWSService", "invokedBy": "config.amazonaws.com"})
        del svc["recipientAccountId"]
        self.write("eb.json", {"detail-type": "AWS API Call via CloudTrail", "account": "444455556666",
                               "detail": svc})
        self.write("notes.md", "not json")
        (self.root / "notes.md").write_text("# readme\n")
        c = O.load_corpus(self.root)
        self.assertEqual(len(c.records), 5)
        self.assertEqual([u[0] for u in c.unreadable], ["notes.md"])
        ev = O.distinct_events(c.records)
        self.assertEqual(len(ev), 4)
        self.assertEqual(list(O.variants(ev)), [("111122223333", "B")])
        self.assertIn(("444455556666", "C"), {e.key for e in ev})
        pp = O.per_principal(ev)
        self.assertEqual((pp["arn:aws:iam::111122223333:user/alice"]["events"],
                          pp["arn:aws:iam::111122223333:user/alice"]["failed"]), (3, 1))
        self.assertEqual(pp["AWSService:config.amazonaws.com"]["events"], 1)

    def test_config_changes(self):
        def ci(sid, t, cfg, status="OK", **kw):
            d = {"resourceType": "AWS::EC2::SecurityGroup", "resourceId": "sg-1", "configurationStateId": sid,
                 "configurationItemCaptureTime": t, "configurationItemStatus": status, "configuration": cfg,
                 "relationships": [], "tags": {}, "supplementaryConfiguration": {}}
            d.update(kw)
            return d

        self.write("hist.json", {"configurationItems": [
            ci("1", "2024-01-01T00:00:00Z", {"p": [1]}, status="ResourceDiscovered"),
            ci(2, "2024-01-02T00:00:00.000Z", json.dumps({"p": [1]})),  # same state, other representation
            ci("3", "2024-01-03T00:00:00Z", {"p": [1, 2]}),  # change
            ci("4", "2024-01-04T00:00:00Z", {"p": [1, 2]}, relationships=[
                {"resourceType": "AWS::EC2::VPC", "resourceId": "vpc-1", "relationshipName": "Is contained in"}]),
        ]})
        self.write("sns.json", {"Type": "Notification", "Message": json.dumps({
            "messageType": "ConfigurationItemChangeNotification",
            "configurationItemDiff": {"changeType": "DELETE", "changedProperties": {}},
            "configurationItem": ci("5", "2024-01-05T00:00:00Z", None, status="ResourceDeleted")})})
        self.write("rule.json", {"invokingEvent": json.dumps({"messageType": "ScheduledNotification"})})
        c = O.load_corpus(self.root)
        st = O.config_states(c.items)[("AWS::EC2::SecurityGroup", "sg-1")]
        self.assertEqual([s.state_id for s in st], ["1", "2", "3", "4", "5"])
        ch = O.config_changes(st)
        days = [O.iso_of_us(x["capture"])[:10] for x in ch]
        self.assertEqual(days, ["2024-01-03", "2024-01-04", "2024-01-05"])

    def test_s3_objects_and_digests(self):
        def s3(eid, name, key, **kw):
            return rec(eid, eventSource="s3.amazonaws.com", eventName=name,
                       requestParameters={"bucketName": "b", "key": key}, **kw)

        self.write("d.json", {"Records": [
            s3("1", "PutObject", "k"), s3("2", "GetObject", "k"), s3("3", "GetObject", "k", errorCode="AccessDenied"),
            rec("4", eventSource="s3.amazonaws.com", eventName="DeleteObjects",
                requestParameters={"bucketName": "b", "delete": {"Object": [{"Key": "k"}, {"Key": "j"}]}}),
            s3("5", "ListObjects", "k"),
        ]})
        self.write("dig.json", {"digestStartTime": "2024-01-01T00:00:00Z", "logFiles": [
            {"s3Bucket": "t", "s3Object": "AWSLogs/x.json.gz", "hashValue": "00"}]})
        c = O.load_corpus(self.root)
        objs = O.s3_objects(O.distinct_events(c.records))
        alice = "arn:aws:iam::111122223333:user/alice"
        self.assertEqual(objs["b/k"], {"read": {(alice, "2")}, "write": {(alice, "1"), (alice, "4")}})
        self.assertEqual(objs["b/j"], {"read": set(), "write": {(alice, "4")}})
        self.assertEqual([O.digest_summary(d)["log_files"] for d in c.digests], [["t/AWSLogs/x.json.gz"]])


if __name__ == "__main__":
    unittest.main()
