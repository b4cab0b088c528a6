//! `trailgraph report`: a report from fixtures with hostile strings in every field that reaches the page (user
//! agent, session name, object key, policy text, error message, ANSI escapes). The raw HTML is checked for
//! anything that could run or load, then the page is opened in headless Chromium: the DOM has the expected rows, no
//! script from the data ran, and a screenshot is kept as `target/report.png`. Without Chromium (or Graphviz, for the
//! lineage picture) those checks are skipped with a message, and fail under `CI=true` (docs/testing.md).

use crate::util::*;
use serde_json::json;
use std::path::{Path, PathBuf};

const ACCT: &str = "123456789012";
const SCRIPT: &str = "<script>document.title='pwned'</script>";
const IMG: &str = "\"><img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">";
const ANSI: &str = "\u{1b}[31mred\u{1b}[0m";

fn record(
    id: &str,
    time: &str,
    name: &str,
    ident: serde_json::Value,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut r = json!({
        "eventVersion": "1.09", "userIdentity": ident, "eventTime": time,
        "eventSource": "s3.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.9",
        "userAgent": format!("{SCRIPT} </style> {ANSI}"),
        "eventID": id, "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
        "recipientAccountId": ACCT, "eventCategory": "Management",
    });
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

/// A trail and Config history of a bucket whose every string is hostile.
fn hostile(dir: &Path) -> PathBuf {
    let root = dir.join("hostile");
    std::fs::create_dir_all(&root).unwrap();
    let user = json!({"type": "IAMUser", "principalId": "AIDAATTACKER", "arn": format!("arn:aws:iam::{ACCT}:user/attacker"),
                      "accountId": ACCT, "userName": "attacker", "accessKeyId": "AKIAATTACKER0000001"});
    let session_name = format!("s{IMG}");
    let session_arn = format!("arn:aws:sts::{ACCT}:assumed-role/Ops/{session_name}");
    let session = json!({"type": "AssumedRole", "principalId": format!("AROAOPS:{session_name}"), "arn": session_arn,
        "accountId": ACCT, "accessKeyId": "ASIAHOSTILE00000001",
        "sessionContext": {"attributes": {"creationDate": "2024-04-01T10:00:00Z", "mfaAuthenticated": "false"},
            "sessionIssuer": {"type": "Role", "principalId": "AROAOPS", "arn": format!("arn:aws:iam::{ACCT}:role/Ops"),
                              "accountId": ACCT, "userName": "Ops"}}});
    let policy = format!("{{\"Statement\":[{{\"Sid\":\"{SCRIPT}</style>{IMG}\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::hostile-bucket/*\"}}]}}");
    let key = format!("in/{SCRIPT}{IMG}.csv");
    let records = vec![
        record(
            "a0000000-0000-4000-8000-000000000001",
            "2024-04-01T10:00:00Z",
            "AssumeRole",
            user.clone(),
            json!({
            "eventSource": "sts.amazonaws.com", "readOnly": false,
            "requestParameters": {"roleArn": format!("arn:aws:iam::{ACCT}:role/Ops"), "roleSessionName": session_name},
            "responseElements": {"credentials": {"accessKeyId": "ASIAHOSTILE00000001", "expiration": "Apr 1, 2024, 11:00:00 AM", "sessionToken": "x"},
                "assumedRoleUser": {"assumedRoleId": format!("AROAOPS:{session_name}"), "arn": session_arn}}}),
        ),
        record(
            "a0000000-0000-4000-8000-000000000002",
            "2024-04-01T10:05:00Z",
            "PutBucketPolicy",
            session.clone(),
            json!({
            "requestParameters": {"bucketName": "hostile-bucket", "bucketPolicy": policy, "Host": "hostile-bucket.s3.amazonaws.com", "policy": ""}}),
        ),
        record(
            "a0000000-0000-4000-8000-000000000003",
            "2024-04-01T10:06:00Z",
            "PutBucketPolicy",
            session.clone(),
            json!({
            "errorCode": "AccessDenied", "errorMessage": format!("denied {SCRIPT}"),
            "requestParameters": {"bucketName": "hostile-bucket", "bucketPolicy": policy}}),
        ),
        record(
            "a0000000-0000-4000-8000-000000000004",
            "2024-04-01T10:07:00Z",
            "PutObject",
            session.clone(),
            json!({
            "eventCategory": "Data", "managementEvent": false,
            "requestParameters": {"bucketName": "hostile-bucket", "key": key},
            "resources": [{"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::hostile-bucket/{key}")},
                          {"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::hostile-bucket", "accountId": ACCT}]}),
        ),
        record(
            "a0000000-0000-4000-8000-000000000005",
            "2024-04-01T10:09:00Z",
            "GetObject",
            user.clone(),
            json!({
            "eventCategory": "Data", "managementEvent": false, "readOnly": true,
            "requestParameters": {"bucketName": "hostile-bucket", "key": key},
            "resources": [{"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::hostile-bucket/{key}")},
                          {"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::hostile-bucket", "accountId": ACCT}]}),
        ),
    ];
    std::fs::write(
        root.join("trail.json"),
        serde_json::to_string(&json!({"Records": records})).unwrap(),
    )
    .unwrap();
    let item = |time: &str, state: i64, policy: &str| {
        json!({
        "ARN": "arn:aws:s3:::hostile-bucket", "awsAccountId": ACCT, "awsRegion": "us-east-1",
        "configuration": {"name": "hostile-bucket", "note": format!("{SCRIPT}{ANSI}")},
        "configurationItemCaptureTime": time, "configurationItemStatus": "OK", "configurationItemVersion": "1.3",
        "configurationStateId": state, "relatedEvents": [], "relationships": [], "resourceId": "hostile-bucket",
        "resourceName": "hostile-bucket", "resourceType": "AWS::S3::Bucket",
        "supplementaryConfiguration": {"BucketPolicy": {"policyText": policy}}, "tags": {"x": IMG}})
    };
    std::fs::write(
        root.join("config.json"),
        serde_json::to_string(&json!({"fileVersion": "1.0", "configurationItems": [
            item("2024-04-01T09:00:00.000Z", 1, "{\"Statement\":[]}"),
            item("2024-04-01T10:08:00.000Z", 2, &policy),
        ]}))
        .unwrap(),
    )
    .unwrap();
    root
}

/// Every tag (`<...>`) of the page, lowercased.
fn tags(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        let after = &rest[i..];
        let end = after.find('>').map(|e| e + 1).unwrap_or(after.len());
        out.push(after[..end].to_ascii_lowercase());
        rest = &after[end..];
    }
    out
}

fn check_inert(html: &str) {
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "no script element");
    assert!(!html.contains('\u{1b}'), "no raw escape character");
    assert_eq!(lower.matches("<style").count(), 1, "one style element");
    assert_eq!(
        lower.matches("</style").count(),
        1,
        "the data cannot close the style element"
    );
    for t in tags(html) {
        assert!(
            !t.contains("onerror") && !t.contains("onload") && !t.contains(" on"),
            "event handler in {t}"
        );
        assert!(!t.starts_with("<img src=x"), "injected image {t}");
        assert!(
            !t.starts_with("<iframe")
                && !t.starts_with("<object")
                && !t.starts_with("<embed")
                && !t.starts_with("<link"),
            "{t}"
        );
        for attr in [
            "src=\"http",
            "href=\"http",
            "src=\"//",
            "href=\"//",
            "src='http",
            "href='http",
        ] {
            assert!(!t.contains(attr), "external resource in {t}");
        }
        if t.starts_with("<img") {
            assert!(
                t.contains("src=\"data:image/svg+xml;base64,"),
                "only embedded pictures: {t}"
            );
        }
    }
    assert!(!lower.contains("url("), "no CSS url()");
    assert!(!lower.contains("@import"));
    assert!(
        html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"")
    );
}

#[test]
fn hostile_strings_are_inert_and_the_page_has_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let f = fixtures();
    let h = hostile(dir.path());
    let r = ingest(
        &db,
        &[&f.join("scenario/AWSLogs"), &f.join("lineage/AWSLogs"), &h],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.path().join("report.html");
    let r = run(
        &db,
        &[
            "report",
            "--resource",
            "hostile-bucket",
            "--resource",
            "scenario-data",
            "--resource",
            "acme-curated",
            "--principal",
            &format!("arn:aws:iam::{ACCT}:user/attacker"),
            "--principal",
            "arn:aws:iam::111111111111:user/bob",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(&out).unwrap();
    check_inert(&html);

    // The hostile strings are there, as text.
    assert!(html.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=&quot;document.body.setAttribute(&#39;data-pwned&#39;,&#39;1&#39;)&quot;&gt;"));
    assert!(html.contains("\\u{1b}[31mred"), "ANSI escapes are shown");
    assert!(html.contains("&lt;/style&gt;"));

    // Rows: hostile-bucket has one change and one failed attempt, scenario-data three changes (who-changed).
    let sections: Vec<&str> = html.split("<section ").collect();
    let section = |id: &str| {
        *sections
            .iter()
            .find(|s| {
                s.starts_with(&format!("class=\"resource\" id=\"{id}\""))
                    || s.starts_with(&format!("class=\"principal\" id=\"{id}\""))
            })
            .unwrap()
    };
    let hb = section("resource-1");
    assert_eq!(hb.matches("<tr class=\"change\">").count(), 1);
    assert_eq!(hb.matches("<tr class=\"failed\">").count(), 1);
    assert!(hb.contains("a0000000-0000-4000-8000-000000000002"));
    assert!(hb.contains("a0000000-0000-4000-8000-000000000003"));
    assert!(hb.contains("<span class=\"flag\">FAILED</span> AccessDenied"));
    assert!(
        hb.contains("<td class=\"mono\">/supplementaryConfiguration/BucketPolicy/policyText</td>"),
        "the diff shows the changed path"
    );
    assert!(
        hb.contains("arn:aws:iam::123456789012:user/attacker"),
        "the human behind the session"
    );
    assert!(hb.contains("trail.json"), "evidence names the source file");
    assert!(hb.contains("<span class=\"integrity unverified\">unverified</span>"));
    let sd = section("resource-2");
    assert_eq!(sd.matches("<tr class=\"change\">").count(), 3);
    assert!(
        sd.contains("arn:aws:iam::222222222222:user/alice"),
        "the human behind DataOps/alice-dataops"
    );
    let ac = section("resource-3");
    if require_tool(&DOT) {
        assert!(ac.contains("<img class=\"lineage\""), "the lineage picture");
    } else {
        assert!(ac.contains("Graphviz <code>dot</code> is not installed"));
    }
    assert!(ac.contains("class=\"lineage-edges\""));
    let tl = section("principal-1");
    assert!(tl.contains("<span class=\"failed-count\">1</span> failed"));
    assert_eq!(tl.matches("<tr class=\"failed\">").count(), 1);
    assert_eq!(
        tl.matches("<tr class=\"ok\">").count(),
        4,
        "own calls and the session's calls"
    );
    assert!(tl.contains("<svg class=\"strip\""));

    // Same store, same options: same bytes.
    let again = dir.path().join("again.html");
    let r = run(
        &db,
        &[
            "report",
            "--resource",
            "hostile-bucket",
            "--resource",
            "scenario-data",
            "--resource",
            "acme-curated",
            "--principal",
            &format!("arn:aws:iam::{ACCT}:user/attacker"),
            "--principal",
            "arn:aws:iam::111111111111:user/bob",
            "-o",
            again.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0);
    assert_eq!(std::fs::read_to_string(&again).unwrap(), html);

    // An unknown resource is a usage error.
    let r = run(
        &db,
        &[
            "report",
            "--resource",
            "no-such-thing",
            "-o",
            dir.path().join("x.html").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2);

    chromium_checks(&out);
}

/// Headless Chromium: the DOM as the browser built it, and a screenshot (target/report.png).
fn chromium_checks(page: &Path) {
    if !require_tool(&CHROMIUM) {
        return;
    }
    let browser = chromium().expect("found by require_tool");
    let url = format!("file://{}", page.display());
    let profile = tempfile::tempdir().unwrap();
    let base = |c: &mut std::process::Command| {
        c.args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()));
    };
    let mut c = std::process::Command::new(browser);
    base(&mut c);
    let out = c.args(["--dump-dom", &url]).output().expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("<title>trailgraph evidence report</title>"),
        "title untouched: {}",
        &dom[..dom.len().min(500)]
    );
    assert!(
        !dom.contains("pwned\"") && !dom.contains("data-pwned=\"1\""),
        "no script from the data ran"
    );
    assert!(!dom.contains("<title>pwned"));
    let sections: Vec<&str> = dom.split("<section ").collect();
    let hb = sections
        .iter()
        .find(|s| s.starts_with("class=\"resource\" id=\"resource-1\""))
        .expect("section in the DOM");
    let changes = hb
        .split("<table class=\"changes\">")
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    assert_eq!(
        changes.matches("<tr class=\"change\">").count(),
        1,
        "the changes table has its row"
    );
    let sd = sections
        .iter()
        .find(|s| s.starts_with("class=\"resource\" id=\"resource-2\""))
        .unwrap();
    let changes = sd
        .split("<table class=\"changes\">")
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    assert_eq!(changes.matches("<tr class=\"change\">").count(), 3);
    // The parser saw no injected element.
    assert!(!dom.to_ascii_lowercase().contains("<img src=\"x\""));
    assert!(!dom.to_ascii_lowercase().contains("<script"));

    let shot = repo().join("target").join("report.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let mut c = std::process::Command::new(browser);
    base(&mut c);
    let out = c
        .args(["--window-size=1400,3000", "--hide-scrollbars"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "screenshot written"
    );
}

/// The real corpus (SANS lab, invictus): the report holds the rows `who-changed` and `timeline` give, and is inert.
#[test]
fn corpus_report_matches_the_query_commands() {
    let Some(root) = crate::corpus::corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    ingest(
        &db,
        &[
            &root.join("sans504-s3-ransomware-lab"),
            &root.join("invictus-aws-dataset"),
        ],
    );
    let resources = ["falsimentis-log", "sg-04cfb7a4712d75b00"];
    let principals = [
        "arn:aws:iam::342082656213:user/FalsimentisRoot",
        "arn:aws:iam::123837392027:user/bert-jan",
    ];
    let out = dir.path().join("corpus.html");
    let mut args = vec!["report".to_string()];
    for r in resources {
        args.extend(["--resource".into(), r.into()]);
    }
    for p in principals {
        args.extend(["--principal".into(), p.into()]);
    }
    args.extend(["-o".into(), out.display().to_string()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&db, &refs);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(&out).unwrap();
    check_inert(&html);
    let sections: Vec<&str> = html.split("<section ").collect();
    for (i, res) in resources.iter().enumerate() {
        let w = run(&db, &["who-changed", res, "--format", "json"]).json();
        let s = sections
            .iter()
            .find(|s| s.starts_with(&format!("class=\"resource\" id=\"resource-{}\"", i + 1)))
            .unwrap();
        let n = w["changes"].as_array().unwrap().len().min(200);
        assert_eq!(s.matches("<tr class=\"change\">").count(), n, "{res}");
        let f = w["failed_attempts"].as_array().unwrap().len().min(200);
        let attempts = s.split("<table class=\"attempts\">").nth(1).unwrap();
        assert_eq!(
            attempts
                .split("</table>")
                .next()
                .unwrap()
                .matches("<tr class=\"failed\">")
                .count(),
            f
        );
    }
    for (i, p) in principals.iter().enumerate() {
        let t = run(&db, &["timeline", "--principal", p, "--format", "json"]).json();
        let n = t["events"].as_array().unwrap().len();
        let s = sections
            .iter()
            .find(|s| s.starts_with(&format!("class=\"principal\" id=\"principal-{}\"", i + 1)))
            .unwrap();
        let rows =
            s.matches("<tr class=\"ok\">").count() + s.matches("<tr class=\"failed\">").count();
        assert_eq!(rows, n.min(200), "{p}");
    }
    if require_tool(&CHROMIUM) {
        let browser = chromium().expect("found by require_tool");
        let shot = repo().join("target").join("report-corpus.png");
        let profile = tempfile::tempdir().unwrap();
        let st = std::process::Command::new(browser)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--window-size=1400,3000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--screenshot={}", shot.display()))
            .arg(format!("file://{}", out.display()))
            .output()
            .unwrap();
        assert!(st.status.success());
    }
}
