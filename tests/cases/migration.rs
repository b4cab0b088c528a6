//! A store written by an earlier version answers, once migrated, exactly as a store written by this one: the same
//! events (ids, types, times, strings), resources, sessions, raw records byte for byte, and `sql` views.

use crate::util::*;
use std::path::Path;
use trailgraph::store::Store;

/// Rows of the views every reader uses, the source paths cut to what follows `fixtures/`, sorted.
fn answers(db: &Path) -> String {
    let store = Store::open_read_only(db).unwrap();
    let c = store.conn();
    let queries = [
        "SELECT e.event_id, e.variant, e.recipient_account, e.event_time, e.event_version, e.event_source,
                e.event_name, e.aws_region, e.source_ip, e.user_agent, e.error_code, e.error_message, e.request_id,
                e.event_type, e.event_category, e.read_only, e.management_event, e.shared_event_id,
                e.vpc_endpoint_id, p.key, e.user_identity_type, e.user_identity_arn, e.access_key_id,
                substr(s.path, instr(s.path, 'fixtures/')), e.record_index
           FROM events e JOIN sources s ON s.id = e.source_id JOIN principals p ON p.id = e.principal_id",
        "SELECT e.event_id, e.variant, r.key, r.type, r.arn, r.account_id, r.region, r.resource_id, er.access
           FROM event_resources er JOIN events e ON e.id = er.event JOIN resources r ON r.id = er.resource",
        "SELECT * FROM sessions_v",
        "SELECT eventid, useridentity, requestparameters, responseelements, additionaleventdata, resources,
                eventtype, useridentity_type, eventtime FROM cloudtrail_logs",
        // Without the internal row ids (`event_row`, `event`, `principal_id`): a store written by another version
        // numbered its rows in its own order.
        "SELECT eventtime, eventid, eventsource, eventname, resource_type, resource_id, resource_arn,
                useridentity_arn, useridentity_accesskeyid, sourceipaddress, awsregion, recipientaccountid,
                source_file, integrity, eventtime_ms FROM changes",
        "SELECT event_id, event_time, event_source, event_name, access, resource_type, resource_id, resource_arn,
                user_identity_arn, access_key_id, source_ip FROM flows",
        "SELECT key, type, arn, account_id, region, resource_id FROM resources",
    ];
    // The sources' paths differ by where the repository is: compared from `fixtures/` on.
    let from_fixtures = |cell: String| match cell.find("fixtures/") {
        Some(at) => cell[at..].to_string(),
        None => cell,
    };
    queries
        .iter()
        .map(|q| sorted_rows(c, q, from_fixtures))
        .collect()
}

/// Every event's raw record, by event id and variant.
fn raw_records(db: &Path) -> Vec<(String, i64, Option<String>)> {
    let store = Store::open_read_only(db).unwrap();
    let ids: Vec<(i64, String, i64)> = store
        .conn()
        .prepare("SELECT id, event_id, variant FROM events ORDER BY event_id, variant")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    ids.into_iter()
        .map(|(id, event_id, variant)| (event_id, variant, store.raw_record(id).unwrap()))
        .collect()
}

#[test]
fn a_store_of_schema_11_answers_like_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db");
    std::fs::copy(fixtures().join("stores/schema-11.db"), &old).unwrap();
    // A query command migrates it (a read-only open of an older store runs the missing migrations first).
    let s = stats(&old);
    assert_eq!(s["events"], 329, "{s:#}");
    let fresh = dir.path().join("fresh.db");
    let r = ingest(
        &fresh,
        &[
            &fixtures().join("scenario"),
            &fixtures().join("lineage"),
            &fixtures().join("corpus-samples"),
        ],
    );
    assert_eq!(
        r.code, 1,
        "two corpus samples are broken on purpose: {}",
        r.stderr
    );
    let (a, b) = (answers(&old), answers(&fresh));
    if let Some((x, y)) = a.lines().zip(b.lines()).find(|(x, y)| x != y) {
        panic!("migrated and fresh stores differ:\nmigrated: {x}\nfresh:    {y}");
    }
    assert_eq!(a, b);
    assert!(a.len() > 100_000, "{}", a.len());
    // Raw records: the migrated store reads the chunks written before (every value inside the record), the fresh
    // one rebuilds each record from its chunk and its row; both give the bytes that arrived.
    let (ra, rb) = (raw_records(&old), raw_records(&fresh));
    assert_eq!(ra.len(), 329);
    assert!(ra
        .iter()
        .all(|(_, _, r)| r.as_ref().is_some_and(|r| r.len() > 50)));
    assert_eq!(ra, rb);
    // The fresh store's chunks did leave values out: they are smaller than the records they hold.
    let c = rusqlite::Connection::open(&fresh).unwrap();
    let ids_stored_as_bytes: i64 = c
        .query_row(
            "SELECT count(*) FROM event_rows WHERE typeof(event_id) = 'blob'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(ids_stored_as_bytes > 200, "{ids_stored_as_bytes}");
    // And the migrated store answers the commands as the fresh one does.
    for q in [
        vec![
            "timeline",
            "--principal",
            "arn:aws:iam::399917767858:user/alice",
            "--format",
            "json",
        ],
        vec![
            "lineage",
            "s3://acme-curated/orders/dt=2024-05-06/part-0001.parquet",
            "--both",
            "--format",
            "json",
        ],
    ] {
        let (x, y) = (run(&old, &q), run(&fresh, &q));
        assert_eq!((x.code, y.code), (0, 0), "{q:?}: {}", x.stderr);
        assert!(x.stdout.len() > 2_000, "{q:?}: {}", x.stdout);
        // The old store was written in /work/main; this checkout may be elsewhere (CI's is /check/work/main).
        let cut = |s: &str| {
            s.replace(&format!("{}/", repo().display()), "")
                .replace("/work/main/", "")
        };
        assert_eq!(cut(&x.stdout), cut(&y.stdout), "{q:?}");
    }
}
