//! CSV import and export of end users and organizations: the API's dry run, all-or-nothing and
//! skip modes, matching (users by email, organizations by customer code or name), refused
//! files, the export round trip, the agent's import page, `tenantdesk import`, and tenants
//! kept apart on every path.

use std::process::Stdio;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantdesk_tests::{TestApp, TestTenant, database, spawn_app, tenantdesk_binary};

/// POST /api/v1/imports with `csv` as the body.
async fn import(
    app: &TestApp,
    tenant: &TestTenant,
    token: &str,
    entity: &str,
    mode: &str,
    csv: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let response = app
        .http
        .post(app.url(&format!("/api/v1/imports?entity={entity}&mode={mode}")))
        .header("Host", tenant.host())
        .header("Content-Type", "text/csv")
        .bearer_auth(token)
        .body(csv)
        .send()
        .await
        .expect("import request");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text })),
    )
}

async fn export(
    app: &TestApp,
    tenant: &TestTenant,
    token: &str,
    path: &str,
) -> (StatusCode, String) {
    let response = app
        .http
        .get(app.url(path))
        .header("Host", tenant.host())
        .bearer_auth(token)
        .send()
        .await
        .expect("export request");
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

/// The emails of the tenant's users, sorted.
async fn emails(app: &TestApp, tenant: &TestTenant, token: &str) -> Vec<String> {
    let (status, page) = app
        .api(tenant, token, Method::GET, "/api/v1/users?limit=200", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut emails: Vec<String> = page["data"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["email"].as_str().expect("email").to_owned())
        .collect();
    emails.sort();
    emails
}

async fn user_by_email(app: &TestApp, tenant: &TestTenant, token: &str, email: &str) -> Value {
    let (_, page) = app
        .api(
            tenant,
            token,
            Method::GET,
            &format!("/api/v1/users?q={email}"),
            None,
        )
        .await;
    page["data"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| {
            u["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
        .cloned()
        .unwrap_or_else(|| panic!("no user {email} in {page}"))
}

/// (line, field) of every reported error.
fn error_lines(report: &Value) -> Vec<(u64, String)> {
    report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().expect("line"),
                e["field"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

const GOOD_AND_BAD: &str = "first_name,last_name,email,city\n\
Ada,Lovelace,ada@import.example,London\n\
Bad,Email,not-an-address,Paris\n\
Grace,Hopper,grace@import.example,Arlington\n\
Nameless,,nameless@import.example,Rome\n";

#[tokio::test]
async fn a_dry_run_reports_every_bad_line_and_writes_nothing() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Dry Run Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;

    let (status, report) = import(&app, &tenant, &token, "users", "dry_run", GOOD_AND_BAD).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["entity"], "users");
    assert_eq!(report["mode"], "dry_run");
    assert_eq!(report["rows"], 4);
    assert_eq!(report["created"], 2, "two rows would be created: {report}");
    assert_eq!(report["skipped"], 2);
    assert_eq!(report["written"], false);
    assert_eq!(
        error_lines(&report),
        vec![(3, "email".to_owned()), (5, "last_name".to_owned())],
        "each bad row by its line and column: {report}"
    );
    assert!(
        emails(&app, &tenant, &token).await.is_empty(),
        "a dry run writes nothing"
    );
}

#[tokio::test]
async fn all_or_nothing_writes_nothing_with_a_bad_row_and_everything_without() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("All Or Nothing Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;

    let (status, report) = import(
        &app,
        &tenant,
        &token,
        "users",
        "all_or_nothing",
        GOOD_AND_BAD,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["written"], false, "{report}");
    assert_eq!(report["skipped"], 2);
    assert!(
        emails(&app, &tenant, &token).await.is_empty(),
        "one bad row: nothing written"
    );

    let good = "first_name,last_name,email,city\n\
                Ada,Lovelace,ada@import.example,London\n\
                Grace,Hopper,grace@import.example,Arlington\n";
    // The default mode is all or nothing.
    let (status, report) = import(&app, &tenant, &token, "users", "", good).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["mode"], "all_or_nothing");
    assert_eq!(report["written"], true, "{report}");
    assert_eq!(report["created"], 2);
    assert_eq!(
        emails(&app, &tenant, &token).await,
        vec!["ada@import.example", "grace@import.example"]
    );
    let ada = user_by_email(&app, &tenant, &token, "ada@import.example").await;
    assert_eq!(ada["city"], "London");
    assert_eq!(ada["first_name"], "Ada");
}

#[tokio::test]
async fn skip_mode_writes_the_good_rows_and_reports_the_bad_ones_database_conflicts_included() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Skip Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;

    // Line 3 takes a login line 2 already has: only the database can tell, and the rows after
    // it must still be written.
    let csv = "first_name,last_name,email,login\n\
               Ada,Lovelace,ada@skip.example,ada\n\
               Ada,Clone,clone@skip.example,ADA\n\
               Bad,Email,nope,\n\
               Grace,Hopper,grace@skip.example,\n";
    let (status, report) = import(&app, &tenant, &token, "users", "skip_bad_rows", csv).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["written"], true);
    assert_eq!(report["created"], 2, "{report}");
    assert_eq!(report["skipped"], 2);
    assert_eq!(
        error_lines(&report),
        vec![(3, "login".to_owned()), (4, "email".to_owned())],
        "{report}"
    );
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("already taken"),
        "{report}"
    );
    assert_eq!(
        emails(&app, &tenant, &token).await,
        vec!["ada@skip.example", "grace@skip.example"]
    );

    // The same email twice in one file is a bad row, not a silent second update.
    let twice =
        "first_name,last_name,email\nAda,Lovelace,ada@skip.example\nAda,Again,ADA@skip.example\n";
    let (_, report) = import(&app, &tenant, &token, "users", "skip_bad_rows", twice).await;
    assert_eq!(report["updated"], 1, "{report}");
    assert_eq!(error_lines(&report), vec![(3, "email".to_owned())]);
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("line 2")
    );
}

#[tokio::test]
async fn an_existing_user_is_updated_by_email_with_custom_fields_by_key() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Update Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let (status, field) = app.api(&tenant, &token, Method::POST, "/api/v1/fields/user",
        Some(json!({"key": "tier", "label": "Tier", "field_type": "choice", "options": ["Bronze", "Gold"]}))).await;
    assert_eq!(status, StatusCode::CREATED, "{field}");

    let first =
        "first_name,last_name,email,city,tier\nAda,Lovelace,ada@update.example,London,bronze\n";
    let (_, report) = import(&app, &tenant, &token, "users", "all_or_nothing", first).await;
    assert_eq!(report["created"], 1, "{report}");
    let before = user_by_email(&app, &tenant, &token, "ada@update.example").await;
    assert_eq!(before["custom"]["tier"], "Bronze", "the option as defined");

    // Matched ignoring case; columns in any order and case; an absent column stays as it was.
    let second = "EMAIL,Tier,first_name,last_name\nADA@Update.Example,Gold,Ada,King\n";
    let (_, report) = import(&app, &tenant, &token, "users", "all_or_nothing", second).await;
    assert_eq!(report["updated"], 1, "{report}");
    assert_eq!(report["created"], 0);
    let after = user_by_email(&app, &tenant, &token, "ada@update.example").await;
    assert_eq!(after["id"], before["id"], "the same person");
    assert_eq!(
        after["email"], "ADA@Update.Example",
        "spelled as the file now spells it"
    );
    assert_eq!(after["last_name"], "King");
    assert_eq!(after["custom"]["tier"], "Gold");
    assert_eq!(after["city"], "London", "a column the file lacks is kept");
    assert_eq!(emails(&app, &tenant, &token).await.len(), 1);

    let (_, report) = import(
        &app,
        &tenant,
        &token,
        "users",
        "dry_run",
        "first_name,last_name,email,tier\nAda,Lovelace,ada@update.example,Platinum\n",
    )
    .await;
    assert_eq!(
        error_lines(&report),
        vec![(2, "custom.tier".to_owned())],
        "{report}"
    );
}

#[tokio::test]
async fn files_with_a_bom_are_read_and_bad_files_are_refused_whole() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Bad Files Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;

    let with_bom = "\u{feff}first_name,last_name,email\nZoë,Brontë,zoe@files.example\n";
    let (status, report) = import(&app, &tenant, &token, "users", "all_or_nothing", with_bom).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(
        user_by_email(&app, &tenant, &token, "zoe@files.example").await["first_name"],
        "Zoë"
    );

    let problem = |report: &Value| -> (String, String) {
        let error = &report["errors"][0];
        (
            error["field"].as_str().unwrap_or("").to_owned(),
            error["message"].as_str().unwrap_or("").to_owned(),
        )
    };

    // "Zoë" in Latin-1 on line 3.
    let mut latin1 = b"first_name,last_name,email\nAda,Lovelace,ada@files.example\nZo".to_vec();
    latin1.extend_from_slice(&[0xeb]);
    latin1.extend_from_slice(b",Bronte,zoe2@files.example\n");
    let (status, report) = import(&app, &tenant, &token, "users", "skip_bad_rows", latin1).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert_eq!(report["type"], "urn:tenantdesk:problem:validation");
    let (field, message) = problem(&report);
    assert_eq!(field, "file");
    assert!(message.contains("line 3 is not UTF-8"), "{message}");

    let (status, report) = import(
        &app,
        &tenant,
        &token,
        "users",
        "all_or_nothing",
        "first_name,last_name\nAda,Lovelace\n",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problem(&report),
        (
            "columns".to_owned(),
            "required columns are missing: email".to_owned()
        )
    );

    let (status, report) = import(
        &app,
        &tenant,
        &token,
        "users",
        "skip_bad_rows",
        "first_name,last_name,email,shoe_size\nAda,Lovelace,ada@files.example,38\n",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (field, message) = problem(&report);
    assert_eq!(field, "columns");
    assert!(message.contains("unknown columns: shoe_size"), "{message}");

    let (status, report) = import(&app, &tenant, &token, "users", "skip_bad_rows", "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem(&report).1.contains("empty"), "{report}");

    // One row more than the default limit of 200,000 (about 5 MB, past axum's default body
    // limit): refused by the first pass, before any row is written.
    let mut big = String::from("first_name,last_name,email\n");
    for n in 0..200_001 {
        big.push_str(&format!("A,B,user{n}@big.example\n"));
    }
    let (status, report) = import(&app, &tenant, &token, "users", "skip_bad_rows", big).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert!(
        problem(&report).1.contains("more than 200000 rows"),
        "{report}"
    );

    let (status, report) = import(&app, &tenant, &token, "tickets", "dry_run", "x\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(&report).0, "entity");
    let (status, report) = import(&app, &tenant, &token, "users", "sometimes", "x\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(&report).0, "mode");

    assert_eq!(
        emails(&app, &tenant, &token).await,
        vec!["zoe@files.example"],
        "no refused file wrote anything"
    );
}

#[tokio::test]
async fn organizations_match_by_code_or_name_and_users_join_them() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Org Import Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;

    let orgs = "name,customer_code,city,country,domains,ticket_sharing\n\
                Analytical Engines,AE-1,London,gb,ae.example|engines.example,all_members\n\
                Harvard Mark,,Cambridge,US,,\n\
                Bad Country,BC-1,,Atlantis,,\n";
    let (status, report) = import(
        &app,
        &tenant,
        &token,
        "organizations",
        "skip_bad_rows",
        orgs,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 2, "{report}");
    assert_eq!(error_lines(&report), vec![(4, "country".to_owned())]);

    // By code (renaming it), and by name when the row has no code.
    let again = "name,customer_code,city\n\
                 Analytical Engines Ltd,ae-1,Manchester\n\
                 harvard mark,,Boston\n";
    let (_, report) = import(
        &app,
        &tenant,
        &token,
        "organizations",
        "all_or_nothing",
        again,
    )
    .await;
    assert_eq!(report["updated"], 2, "{report}");
    assert_eq!(report["created"], 0, "{report}");
    let (_, list) = app
        .api(&tenant, &token, Method::GET, "/api/v1/organizations", None)
        .await;
    let names: Vec<&str> = list["data"]
        .as_array()
        .expect("orgs")
        .iter()
        .map(|o| o["name"].as_str().expect("name"))
        .collect();
    // Matched ignoring case; the file's spelling is the new one.
    assert_eq!(
        names,
        vec!["Analytical Engines Ltd", "harvard mark"],
        "{list}"
    );
    let engines = &list["data"][0];
    assert_eq!(engines["city"], "Manchester");
    assert_eq!(
        engines["ticket_sharing"], "all_members",
        "an absent column stays"
    );

    // A domain another organization lists is a bad row naming it.
    let (_, report) = import(
        &app,
        &tenant,
        &token,
        "organizations",
        "dry_run",
        "name,domains\nCopycat,ae.example\n",
    )
    .await;
    assert_eq!(
        error_lines(&report),
        vec![(2, "domains".to_owned())],
        "{report}"
    );
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("Analytical Engines Ltd")
    );

    // Users join by organization name or code; the domain rule applies to imported users too.
    let users = "first_name,last_name,email,organization\n\
                 Ada,Lovelace,ada@elsewhere.example,AE-1\n\
                 Howard,Aiken,howard@elsewhere.example,HARVARD MARK\n\
                 Charles,Babbage,charles@engines.example,\n\
                 Nobody,Known,nobody@elsewhere.example,No Such Org\n";
    let (_, report) = import(&app, &tenant, &token, "users", "skip_bad_rows", users).await;
    assert_eq!(report["created"], 3, "{report}");
    assert_eq!(
        error_lines(&report),
        vec![(5, "organization".to_owned())],
        "{report}"
    );
    for (email, organization) in [
        ("ada@elsewhere.example", "Analytical Engines Ltd"),
        ("howard@elsewhere.example", "harvard mark"),
        ("charles@engines.example", "Analytical Engines Ltd"),
    ] {
        let user = user_by_email(&app, &tenant, &token, email).await;
        assert_eq!(
            user["primary_organization"]["name"], organization,
            "{email}"
        );
    }
    assert_eq!(
        emails(&app, &tenant, &token).await.len(),
        3,
        "the bad row was rolled back whole"
    );
}

#[tokio::test]
async fn an_export_imports_again_unchanged() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Round Trip Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let (status, _) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/fields/user",
            Some(json!({"key": "vip", "label": "VIP", "field_type": "boolean"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let orgs = "name,customer_code,website,domains\nAnalytical Engines,AE-1,https://ae.example,ae.example|engines.example\n";
    let (_, report) = import(
        &app,
        &tenant,
        &token,
        "organizations",
        "all_or_nothing",
        orgs,
    )
    .await;
    assert_eq!(report["written"], true, "{report}");
    let users = "first_name,last_name,email,phone,comment,organization,vip,validity\n\
                 Ada,Lovelace,ada@ae.example,+44 20 7946 0958,\"Says \"\"hi\"\", often\nand twice\",AE-1,yes,\n\
                 Formula,Fan,formula@round.example,,=HYPERLINK(\"http://evil.example\"),,no,invalid\n";
    let (_, report) = import(&app, &tenant, &token, "users", "all_or_nothing", users).await;
    assert_eq!(report["created"], 2, "{report}");

    let (status, users_csv) = export(&app, &tenant, &token, "/api/v1/users.csv").await;
    assert_eq!(status, StatusCode::OK);
    let mut lines = users_csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "title,first_name,last_name,email,login,phone,fax,mobile,street,zip,city,country,comment,validity,organization,vip"
        )
    );
    assert!(users_csv.contains("Analytical Engines,yes"), "{users_csv}");
    assert!(
        users_csv.contains("'=HYPERLINK"),
        "a formula is exported as text: {users_csv}"
    );
    let (status, orgs_csv) = export(&app, &tenant, &token, "/api/v1/organizations.csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        orgs_csv.contains("ae.example|engines.example"),
        "{orgs_csv}"
    );

    let (_, report) = import(
        &app,
        &tenant,
        &token,
        "users",
        "all_or_nothing",
        users_csv.clone(),
    )
    .await;
    assert_eq!(
        (
            report["updated"].as_u64(),
            report["created"].as_u64(),
            report["skipped"].as_u64()
        ),
        (Some(2), Some(0), Some(0)),
        "{report}"
    );
    let (_, report) = import(
        &app,
        &tenant,
        &token,
        "organizations",
        "all_or_nothing",
        orgs_csv.clone(),
    )
    .await;
    assert_eq!(report["updated"], 1, "{report}");
    let formula = user_by_email(&app, &tenant, &token, "formula@round.example").await;
    assert_eq!(
        formula["comment"], "=HYPERLINK(\"http://evil.example\")",
        "the quote mark is taken off again"
    );
    assert_eq!(formula["validity"], "invalid");
    let ada = user_by_email(&app, &tenant, &token, "ada@ae.example").await;
    assert_eq!(ada["comment"], "Says \"hi\", often\nand twice");
    assert_eq!(ada["custom"]["vip"], true);

    let (_, users_again) = export(&app, &tenant, &token, "/api/v1/users.csv").await;
    assert_eq!(
        users_again, users_csv,
        "re-importing an export changes nothing"
    );
    let (_, orgs_again) = export(&app, &tenant, &token, "/api/v1/organizations.csv").await;
    assert_eq!(orgs_again, orgs_csv);
}

#[tokio::test]
async fn imports_and_exports_stay_in_their_tenant_and_need_their_permissions() {
    let app = spawn_app().await;
    let a = app.create_tenant("Import Tenant A").await;
    let b = app.create_tenant("Import Tenant B").await;
    let token_a = app.issue_token(&a.tenant, "admin").await;
    let token_b = app.issue_token(&b.tenant, "admin").await;
    // The same email in B: an import on A must create A's own person, not touch B's.
    let (_, report) = import(
        &app,
        &b,
        &token_b,
        "users",
        "all_or_nothing",
        "first_name,last_name,email,city\nAda,Lovelace,ada@both.example,Berlin\n",
    )
    .await;
    assert_eq!(report["created"], 1);

    let (_, report) = import(
        &app,
        &a,
        &token_a,
        "users",
        "all_or_nothing",
        "first_name,last_name,email,city\nAda,Lovelace,ada@both.example,London\n",
    )
    .await;
    assert_eq!(
        report["created"], 1,
        "B's user is invisible to A's import: {report}"
    );
    assert_eq!(
        user_by_email(&app, &b, &token_b, "ada@both.example").await["city"],
        "Berlin"
    );
    assert_eq!(
        user_by_email(&app, &a, &token_a, "ada@both.example").await["city"],
        "London"
    );

    let (_, export_b) = export(&app, &b, &token_b, "/api/v1/users.csv").await;
    assert!(
        export_b.contains("Berlin") && !export_b.contains("London"),
        "{export_b}"
    );

    // B's token on A's host is unknown there.
    let (status, _) = import(
        &app,
        &a,
        &token_b,
        "users",
        "all_or_nothing",
        "first_name,last_name,email\nEve,Intruder,eve@both.example\n",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for path in ["/api/v1/users.csv", "/api/v1/organizations.csv"] {
        let (status, body) = export(&app, &a, &token_b, path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(!body.contains("ada@both.example"));
    }

    // A token that may read users may export but not import.
    let (status, issued) = app
        .api(
            &a,
            &token_a,
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": "reader", "permissions": ["users.read"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let reader = issued["secret"].as_str().expect("secret").to_owned();
    let (status, report) = import(
        &app,
        &a,
        &reader,
        "users",
        "dry_run",
        "first_name,last_name,email\n",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{report}");
    assert!(
        report["detail"]
            .as_str()
            .expect("detail")
            .contains("users.manage")
    );
    let (status, _) = export(&app, &a, &reader, "/api/v1/users.csv").await;
    assert_eq!(status, StatusCode::OK);
    let (status, issued) = app
        .api(
            &a,
            &token_a,
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": "settings only", "permissions": ["workspace.settings"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let other = issued["secret"].as_str().expect("secret").to_owned();
    let (status, _) = export(&app, &a, &other, "/api/v1/organizations.csv").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// A multipart body as a browser sends the import form, fields in document order.
fn multipart_form(
    csrf: &str,
    entity: &str,
    mode: &str,
    file_name: &str,
    csv: &[u8],
) -> (String, Vec<u8>) {
    let boundary = "----tenantdeskTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in [("csrf", csrf), ("entity", entity), ("mode", mode)] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(csv);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn the_import_page_uploads_reports_every_bad_line_and_offers_the_exports() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Import Page Corp").await;
    let other = app.create_tenant("Other Page Corp").await;
    app.create_agent(
        &tenant.tenant,
        domain::BuiltinRole::Admin,
        "admin@page.example",
        "correct horse battery staple",
    )
    .await;
    app.create_agent(
        &other.tenant,
        domain::BuiltinRole::Admin,
        "admin@other.example",
        "correct horse battery staple",
    )
    .await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let mut visitor = app.visitor(&tenant.host());
    visitor
        .sign_in_agent("admin@page.example", "correct horse battery staple")
        .await;

    let form = visitor.get("/agent/import").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("enctype=\"multipart/form-data\""));
    assert!(form.body.contains("href=\"/agent/import/users.csv\""));

    let send =
        |csrf: String, mode: &'static str, csv: &'static str, origin: String, cookies: String| {
            let (content_type, body) =
                multipart_form(&csrf, "users", mode, "people.csv", csv.as_bytes());
            app.http
                .post(app.url("/agent/import"))
                .header("Host", tenant.host())
                .header("Origin", origin)
                .header("Cookie", cookies)
                .header("Content-Type", content_type)
                .body(body)
                .send()
        };
    let cookies = visitor
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let origin = format!("http://{}", tenant.host());

    let page = send(
        visitor.csrf(),
        "dry_run",
        GOOD_AND_BAD,
        origin.clone(),
        cookies.clone(),
    )
    .await
    .expect("post");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("Dry run of 4 rows"), "{html}");
    assert!(
        html.contains("<td>3</td><td>email</td>"),
        "line 3 is listed: {html}"
    );
    assert!(
        html.contains("<td>5</td><td>last_name</td>"),
        "line 5 is listed"
    );
    assert!(emails(&app, &tenant, &token).await.is_empty());

    let page = send(
        visitor.csrf(),
        "skip_bad_rows",
        GOOD_AND_BAD,
        origin.clone(),
        cookies.clone(),
    )
    .await
    .expect("post");
    let html = page.text().await.expect("html");
    assert!(html.contains("2 created"), "{html}");
    assert_eq!(
        emails(&app, &tenant, &token).await,
        vec!["ada@import.example", "grace@import.example"]
    );

    let page = send(
        visitor.csrf(),
        "all_or_nothing",
        "first_name,email\nAda,x@y.example\n",
        origin.clone(),
        cookies.clone(),
    )
    .await
    .expect("post");
    let html = page.text().await.expect("html");
    assert!(
        html.contains("required columns are missing: last_name"),
        "{html}"
    );

    // A forged post: another site's origin, or no token, is refused and writes nothing.
    let forged = send(
        visitor.csrf(),
        "skip_bad_rows",
        "first_name,last_name,email\nEve,X,eve@forged.example\n",
        "http://evil.example".into(),
        cookies.clone(),
    )
    .await
    .expect("post");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let forged = send(
        String::new(),
        "skip_bad_rows",
        "first_name,last_name,email\nEve,X,eve@forged.example\n",
        origin.clone(),
        cookies.clone(),
    )
    .await
    .expect("post");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(emails(&app, &tenant, &token).await.len(), 2);

    let download = visitor.get("/agent/import/users.csv").await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(
        download.body.contains("ada@import.example"),
        "{}",
        download.body
    );
    assert!(
        download.headers["content-disposition"]
            .to_str()
            .expect("header")
            .contains(".csv"),
    );

    // Another tenant's agent, with their cookies on this host, is not signed in here.
    let mut outsider = app.visitor(&other.host());
    outsider
        .sign_in_agent("admin@other.example", "correct horse battery staple")
        .await;
    let mut stranger = app.visitor(&tenant.host());
    stranger.cookies = outsider.cookies.clone();
    for path in [
        "/agent/import",
        "/agent/import/users.csv",
        "/agent/import/organizations.csv",
    ] {
        let page = stranger.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            page.location
                .as_deref()
                .unwrap_or("")
                .starts_with("/agent/login"),
            "{path}"
        );
        assert!(!page.body.contains("ada@import.example"));
    }
    let own = outsider.get("/agent/import/users.csv").await;
    assert!(
        !own.body.contains("ada@import.example"),
        "the other tenant exports only its own"
    );
}

fn tenantdesk() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(tenantdesk_binary());
    command
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("TENANTDESK_REDIS_URL")
        .env_remove("TENANTDESK_IMPORT_MAX_ROWS")
        .env_remove("TENANTDESK_IMPORT_MAX_BYTES")
        .env("TENANTDESK_DATABASE_URL", &database().runtime_url)
        .env("TENANTDESK_MIGRATION_URL", &database().owner_url)
        .stdin(Stdio::null());
    command
}

struct Outcome {
    success: bool,
    stdout: String,
    stderr: String,
}

async fn run(command: &mut tokio::process::Command) -> Outcome {
    let output = command.output().await.expect("running tenantdesk");
    Outcome {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test]
async fn the_cli_imports_summarises_and_fails_naming_the_problem() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("CLI Import Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let slug = tenant.tenant.slug.as_str().to_owned();
    let dir = tenantdesk_tests::programs::scratch_dir("import-cli");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("writing a CSV file");
        path.to_string_lossy().into_owned()
    };
    let good = write("good.csv", b"first_name,last_name,email\nAda,Lovelace,ada@cli.example\nGrace,Hopper,grace@cli.example\n");
    let bad = write("bad.csv", GOOD_AND_BAD.as_bytes());
    let latin1 = write(
        "latin1.csv",
        b"first_name,last_name,email\nZo\xeb,Bronte,zoe@cli.example\n",
    );
    let orgs = write("orgs.csv", b"name,customer_code\nCLI Org,CLI-1\n");

    let dry =
        run(tenantdesk().args(["import", "users", "--tenant", &slug, &good, "--dry-run"])).await;
    assert!(dry.success, "{}", dry.stderr);
    assert!(
        dry.stdout
            .contains("2 rows, 2 to create, 0 to update, 0 bad; nothing written"),
        "{}",
        dry.stdout
    );
    assert!(emails(&app, &tenant, &token).await.is_empty());

    let real = run(tenantdesk().args(["import", "users", "--tenant", &slug, &good])).await;
    assert!(real.success, "{}", real.stderr);
    assert!(
        real.stdout
            .contains("2 rows, 2 created, 0 updated, 0 bad; saved"),
        "{}",
        real.stdout
    );
    assert_eq!(
        emails(&app, &tenant, &token).await,
        vec!["ada@cli.example", "grace@cli.example"]
    );

    let refused = run(tenantdesk().args(["import", "users", "--tenant", &slug, &bad])).await;
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("line 3: email:"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("line 5: last_name:"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("2 rows are bad"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("nothing was written"),
        "{}",
        refused.stderr
    );

    let skipped = run(tenantdesk().args([
        "import",
        "users",
        "--tenant",
        &slug,
        &bad,
        "--skip-bad-rows",
    ]))
    .await;
    assert!(
        !skipped.success,
        "bad rows make a non-zero exit even when the rest is imported"
    );
    assert!(
        skipped
            .stdout
            .contains("4 rows, 2 created, 0 updated, 2 bad; saved"),
        "{}",
        skipped.stdout
    );

    let encoding = run(tenantdesk().args(["import", "users", "--tenant", &slug, &latin1])).await;
    assert!(!encoding.success);
    assert!(
        encoding.stderr.contains("line 2 is not UTF-8"),
        "{}",
        encoding.stderr
    );

    let limited = run(tenantdesk()
        .env("TENANTDESK_IMPORT_MAX_ROWS", "1")
        .args(["import", "users", "--tenant", &slug, &good]))
    .await;
    assert!(!limited.success);
    assert!(
        limited.stderr.contains("more than 1 rows"),
        "{}",
        limited.stderr
    );
    let limited = run(tenantdesk()
        .env("TENANTDESK_IMPORT_MAX_BYTES", "20")
        .args(["import", "users", "--tenant", &slug, &good]))
    .await;
    assert!(!limited.success);
    assert!(
        limited.stderr.contains("larger than the limit of 20 bytes"),
        "{}",
        limited.stderr
    );

    let organizations = run(tenantdesk().args(["import", "orgs", "--tenant", &slug, &orgs])).await;
    assert!(organizations.success, "{}", organizations.stderr);
    assert!(
        organizations.stdout.contains("organizations import"),
        "{}",
        organizations.stdout
    );

    let unknown =
        run(tenantdesk().args(["import", "users", "--tenant", "no-such-tenant-here", &good])).await;
    assert!(!unknown.success);
    assert!(
        unknown
            .stderr
            .contains("no tenant has the slug no-such-tenant-here"),
        "{}",
        unknown.stderr
    );
    let missing = run(tenantdesk().args([
        "import",
        "users",
        "--tenant",
        &slug,
        "/nonexistent/file.csv",
    ]))
    .await;
    assert!(!missing.success);
    assert!(
        missing.stderr.contains("cannot open /nonexistent/file.csv"),
        "{}",
        missing.stderr
    );
    let usage = run(tenantdesk().args(["import", "tickets", "--tenant", &slug, &good])).await;
    assert!(!usage.success);
    assert!(
        usage.stderr.contains("must be users or orgs"),
        "{}",
        usage.stderr
    );

    assert_eq!(
        emails(&app, &tenant, &token).await,
        vec![
            "ada@cli.example",
            "ada@import.example",
            "grace@cli.example",
            "grace@import.example"
        ],
        "only the good rows of the successful runs were written"
    );
}
