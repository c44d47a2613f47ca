//! Ticket attachments: the round trip through the API (upload with a message, list,
//! download with `attachment` and `nosniff`), size and type limits refusing with nothing
//! written, a rolled-back message leaving no object, storage keys made of ids only, and
//! downloads refused (404) across tenants and outside an agent's tickets.

use domain::BuiltinRole;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use store::tickets::TicketScope;
use tenantdesk_tests::{TestApp, TestTenant, spawn_app, tenant_sql, unique_mail_domain};
use uuid::Uuid;
use web::attachments::Upload;

const PASSWORD: &str = "correct horse battery staple";

/// A `multipart/form-data` body by hand: (content type, bytes).
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = format!("----tenantdesk{}", Uuid::now_v7().simple());
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (file_name, content_type, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    app: &TestApp,
    tenant: &TestTenant,
    token: &str,
    path: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> (StatusCode, Value) {
    let (content_type, body) = multipart(fields, files);
    let response = app
        .http
        .post(app.url(path))
        .header("Host", tenant.host())
        .bearer_auth(token)
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn download(app: &TestApp, tenant: &TestTenant, token: &str, id: &str) -> reqwest::Response {
    app.http
        .get(app.url(&format!("/api/v1/attachments/{id}")))
        .header("Host", tenant.host())
        .bearer_auth(token)
        .send()
        .await
        .expect("download")
}

async fn department(tenant: &TestTenant, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    let mut tx = tenant_sql(tenant).await;
    sqlx::query("insert into departments (tenant_id, id, name) values ($1, $2, $3)")
        .bind(tenant.tenant.id.as_uuid())
        .bind(id)
        .bind(name)
        .execute(&mut *tx)
        .await
        .expect("department");
    tx.commit().await.expect("commit");
    id
}

async fn ticket(app: &TestApp, tenant: &TestTenant, token: &str, department: Uuid) -> Uuid {
    let (status, body) = app
        .api(
            tenant,
            token,
            Method::POST,
            "/api/v1/tickets",
            Some(
                json!({"subject": "Broken printer", "message": "See the photos.",
                        "requester_email": "robin@example.com", "department_id": department}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    Uuid::parse_str(body["id"].as_str().expect("id")).expect("uuid")
}

async fn count(tenant: &TestTenant, statement: &str) -> i64 {
    let mut tx = tenant_sql(tenant).await;
    let n: i64 = sqlx::query_scalar(statement)
        .fetch_one(&mut *tx)
        .await
        .expect(statement);
    tx.commit().await.expect("commit");
    n
}

async fn objects_of(app: &TestApp, tenant: &TestTenant) -> Vec<String> {
    app.state
        .attachments
        .keys_under(&tenant.tenant.id.as_uuid().to_string())
        .await
        .expect("listing objects")
}

#[tokio::test]
async fn files_sent_with_a_message_come_back_byte_for_byte_as_downloads() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Attachment Round Trip").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let support = department(&tenant, "Front desk").await;
    let id = ticket(&app, &tenant, &token, support).await;
    let binary: Vec<u8> = (0..=255u8).cycle().take(5000).collect();

    let (status, entry) = upload(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/tickets/{id}/messages"),
        &[("body", "Here are the logs.")],
        &[
            (
                "../../etc/Grüße log.txt",
                "text/plain; charset=utf-8",
                b"line one\nline two\n",
            ),
            ("photo.png", "image/png", &binary),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    assert_eq!(entry["kind"], "message");
    assert_eq!(entry["body_text"], "Here are the logs.");
    let sent = entry["attachments"]
        .as_array()
        .expect("attachments")
        .clone();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["name"], "Grüße log.txt", "the path is gone");
    assert_eq!(sent[0]["content_type"], "text/plain");
    assert_eq!(sent[1]["size_bytes"], 5000);
    let mut tx = tenant_sql(&tenant).await;
    let digest: String = sqlx::query_scalar("select encode(sha256($1), 'hex')")
        .bind(&binary)
        .fetch_one(&mut *tx)
        .await
        .expect("digest");
    tx.commit().await.expect("commit");
    assert_eq!(sent[1]["sha256"], digest);

    let (status, note) = upload(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/tickets/{id}/notes"),
        &[("body", "Internal: serial on the label.")],
        &[("label.txt", "text/plain", b"SN-123")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["kind"], "note");

    let (status, listed) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            &format!("/api/v1/tickets/{id}/attachments"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let listed = listed["data"].as_array().expect("data").clone();
    let names: Vec<&str> = listed.iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["Grüße log.txt", "photo.png", "label.txt"]);
    assert_eq!(listed[2]["entry_id"], note["id"]);

    let response = download(&app, &tenant, &token, sent[1]["id"].as_str().expect("id")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"photo.png\"; filename*=UTF-8''photo.png"
    );
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), binary);

    let response = download(&app, &tenant, &token, sent[0]["id"].as_str().expect("id")).await;
    let disposition = response.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(disposition.starts_with("attachment; "), "{disposition}");
    assert!(
        disposition.ends_with("filename*=UTF-8''Gr%C3%BC%C3%9Fe%20log.txt"),
        "{disposition}"
    );
    assert_eq!(response.text().await.expect("text"), "line one\nline two\n");

    // A JSON reply still works and carries no files.
    let (status, plain) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{id}/messages"),
            Some(json!({"body": "No files this time."})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plain}");
    assert!(plain.get("attachments").is_none());
}

#[tokio::test]
async fn storage_keys_are_ids_only_never_the_names_people_send() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Attachment Keys").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let support = department(&tenant, "Front desk").await;
    let id = ticket(&app, &tenant, &token, support).await;
    let (status, entry) = upload(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/tickets/{id}/messages"),
        &[("body", "Keys")],
        &[("..%2F..%2Fsneaky/../name.txt", "text/plain", b"x")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    let attachment = entry["attachments"][0]["id"].as_str().expect("id");
    let mut tx = tenant_sql(&tenant).await;
    let key: String =
        sqlx::query_scalar("select storage_key from ticket_attachments where id = $1")
            .bind(Uuid::parse_str(attachment).expect("uuid"))
            .fetch_one(&mut *tx)
            .await
            .expect("key");
    tx.commit().await.expect("commit");
    assert_eq!(
        key,
        format!("{}/{id}/{attachment}", tenant.tenant.id.as_uuid())
    );
    assert!(!key.contains("name") && !key.contains("sneaky"));
    assert_eq!(objects_of(&app, &tenant).await, vec![key]);
}

#[tokio::test]
async fn oversized_and_forbidden_files_are_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Attachment Limits").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let support = department(&tenant, "Front desk").await;
    let id = ticket(&app, &tenant, &token, support).await;
    let mut tx = tenant_sql(&tenant).await;
    sqlx::query("update tenant_settings set attachment_max_bytes = 1024")
        .execute(&mut *tx)
        .await
        .expect("limit");
    tx.commit().await.expect("commit");
    let messages = "select count(*) from ticket_entries where kind in ('message', 'note')";
    let before = count(&tenant, messages).await;
    let big = vec![b'a'; 2000];
    let path = format!("/api/v1/tickets/{id}/messages");

    let refused: [(&str, &str, &[u8], &str); 4] = [
        ("big.txt", "text/plain", &big, "larger than"),
        (
            "setup.bin",
            "application/x-msdownload",
            b"MZ",
            "never accepted",
        ),
        ("invoice.exe", "application/pdf", b"MZ", "never accepted"),
        ("run.sh", "application/x-sh", b"#!/bin/sh", "never accepted"),
    ];
    for (name, content_type, bytes, message) in refused {
        let (status, problem) = upload(
            &app,
            &tenant,
            &token,
            &path,
            &[("body", "With a file")],
            &[
                ("fine.txt", "text/plain", b"ok"),
                (name, content_type, bytes),
            ],
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {problem}"
        );
        assert_eq!(problem["errors"][0]["field"], "files[1]", "{problem}");
        let text = problem["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(text.contains(name) && text.contains(message), "{text}");
    }

    // A list of allowed types refuses everything else.
    let mut tx = tenant_sql(&tenant).await;
    sqlx::query("update tenant_settings set attachment_allowed_types = '{image/*}'")
        .execute(&mut *tx)
        .await
        .expect("types");
    tx.commit().await.expect("commit");
    let (status, problem) = upload(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/tickets/{id}/notes"),
        &[("body", "Note")],
        &[("notes.txt", "text/plain", b"hello")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("does not accept")
    );

    assert_eq!(count(&tenant, messages).await, before, "no message or note");
    assert_eq!(
        count(&tenant, "select count(*) from ticket_attachments").await,
        0
    );
    assert!(objects_of(&app, &tenant).await.is_empty(), "no object");

    // Allowed types still pass.
    let (status, entry) = upload(
        &app,
        &tenant,
        &token,
        &path,
        &[("body", "A picture")],
        &[("small.png", "image/png", b"png")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
}

#[tokio::test]
async fn a_rolled_back_message_leaves_no_object_behind() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Attachment Rollback").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let support = department(&tenant, "Front desk").await;
    let id = ticket(&app, &tenant, &token, support).await;
    let files = [Upload {
        name: "draft.txt".into(),
        content_type: Some("text/plain".into()),
        bytes: b"never committed".to_vec(),
    }];
    let body = domain::ticket::MessageBody::parse("Draft", domain::ticket::BodyFormat::Text)
        .expect("body");
    let actor = web::tickets::TicketActor::ApiToken {
        token: Uuid::now_v7(),
        agent: None,
    };

    // Discarded explicitly after the rollback.
    let mut staged = app.state.attachments.stage();
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let (_, _, written) = web::attachments::reply(
        &mut tx,
        &mut staged,
        TicketScope::All,
        actor,
        id,
        &body,
        &files,
    )
    .await
    .expect("reply");
    let key = written[0].storage_key.clone();
    assert!(app.state.attachments.exists(&key).await.expect("head"));
    drop(tx);
    staged.discard().await;
    assert!(!app.state.attachments.exists(&key).await.expect("head"));

    // Dropped without being kept (a failure on the way out): removed in the background.
    let mut staged = app.state.attachments.stage();
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let (_, _, written) = web::attachments::note(
        &mut tx,
        &mut staged,
        TicketScope::All,
        actor,
        id,
        &body,
        &files,
    )
    .await
    .expect("note");
    drop(tx);
    drop(staged);
    let key = written[0].storage_key.clone();
    let mut gone = false;
    for _ in 0..50 {
        if !app.state.attachments.exists(&key).await.expect("head") {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(gone, "the object outlived its rolled-back row");
    assert!(objects_of(&app, &tenant).await.is_empty());
    assert_eq!(
        count(&tenant, "select count(*) from ticket_attachments").await,
        0
    );
}

#[tokio::test]
async fn another_tenants_attachments_are_not_found() {
    let app = spawn_app().await;
    let owner = app.create_tenant("Attachment Owner").await;
    let other = app.create_tenant("Attachment Stranger").await;
    let token = app.issue_token(&owner.tenant, "integration").await;
    let stranger = app.issue_token(&other.tenant, "integration").await;
    let support = department(&owner, "Front desk").await;
    let id = ticket(&app, &owner, &token, support).await;
    let (status, entry) = upload(
        &app,
        &owner,
        &token,
        &format!("/api/v1/tickets/{id}/messages"),
        &[("body", "Secret")],
        &[("secret.txt", "text/plain", b"top secret")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    let attachment = entry["attachments"][0]["id"].as_str().expect("id");

    let response = download(&app, &other, &stranger, attachment).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        !response
            .text()
            .await
            .unwrap_or_default()
            .contains("top secret")
    );
    let unknown = download(&app, &other, &stranger, &Uuid::now_v7().to_string()).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let (status, _) = app
        .api(
            &other,
            &stranger,
            Method::GET,
            &format!("/api/v1/tickets/{id}/attachments"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = upload(
        &app,
        &other,
        &stranger,
        &format!("/api/v1/tickets/{id}/messages"),
        &[("body", "Intrusion")],
        &[("x.txt", "text/plain", b"x")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(objects_of(&app, &other).await.is_empty());

    // An admin of the other tenant, signed in there, gets 404 in the agent panel too.
    let email = format!("{}@{}", Uuid::now_v7().simple(), unique_mail_domain());
    app.create_agent(&other.tenant, BuiltinRole::Admin, &email, PASSWORD)
        .await;
    let mut visitor = app.visitor(&other.host());
    visitor.sign_in_agent(&email, PASSWORD).await;
    let page = visitor
        .get(&format!("/agent/attachments/{attachment}"))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn agents_download_only_attachments_of_tickets_they_may_see() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Attachment Access").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let sales = department(&tenant, "Sales").await;
    let id = ticket(&app, &tenant, &token, sales).await;
    let (status, entry) = upload(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/tickets/{id}/messages"),
        &[("body", "Quote")],
        &[("quote.txt", "text/plain", b"12 chairs")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    let attachment = entry["attachments"][0]["id"].as_str().expect("id");
    let path = format!("/agent/attachments/{attachment}");

    let mut emails = Vec::new();
    for _ in 0..2 {
        let email = format!("{}@{}", Uuid::now_v7().simple(), unique_mail_domain());
        let agent = app
            .create_agent(&tenant.tenant, BuiltinRole::Agent, &email, PASSWORD)
            .await;
        emails.push((email, agent.id));
    }
    let mut tx = tenant_sql(&tenant).await;
    sqlx::query(
        "insert into department_agents (tenant_id, department_id, agent_id) values ($1, $2, $3)",
    )
    .bind(tenant.tenant.id.as_uuid())
    .bind(sales)
    .bind(emails[0].1)
    .execute(&mut *tx)
    .await
    .expect("membership");
    tx.commit().await.expect("commit");

    let mut member = app.visitor(&tenant.host());
    member.sign_in_agent(&emails[0].0, PASSWORD).await;
    let page = member.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body, "12 chairs");
    assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(
        page.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap_or_default()
            .starts_with("attachment;")
    );

    let mut outsider = app.visitor(&tenant.host());
    outsider.sign_in_agent(&emails[1].0, PASSWORD).await;
    assert_eq!(outsider.get(&path).await.status, StatusCode::NOT_FOUND);

    let mut anonymous = app.visitor(&tenant.host());
    let page = anonymous.get(&path).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "sent to sign in");
    assert_ne!(page.body, "12 chairs");

    // The same list, grouped by entry, that the ticket page shows.
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let grouped = web::attachments::by_entry(&mut tx, TicketScope::All, id)
        .await
        .expect("by entry")
        .expect("visible");
    assert_eq!(grouped.len(), 1);
    assert_eq!(
        grouped[0].0.to_string(),
        entry["id"].as_str().unwrap_or_default()
    );
    let hidden = web::attachments::by_entry(&mut tx, TicketScope::Agent(emails[1].1), id)
        .await
        .expect("by entry");
    assert!(hidden.is_none());
}

#[tokio::test]
async fn a_new_ticket_carries_files_on_its_first_message() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Attachment Phone Ticket").await;
    let desk = department(&tenant, "Front desk").await;
    let sam = app
        .create_agent(
            &tenant.tenant,
            BuiltinRole::Admin,
            &format!("{}@{}", Uuid::now_v7().simple(), unique_mail_domain()),
            PASSWORD,
        )
        .await;
    let input = web::tickets::NewTicketInput {
        subject: "Called about the invoice".into(),
        message: "Scan attached.".into(),
        format: domain::ticket::BodyFormat::Text,
        requester: Some(web::tickets::RequesterInput::Email {
            email: domain::EmailAddress::parse("caller@example.com").expect("email"),
            name: None,
        }),
        department_id: Some(desk),
        help_topic_id: None,
        priority: None,
        assignee_agent_id: None,
        assignee_team_id: None,
        collaborators: Vec::new(),
        custom: serde_json::Map::new(),
        source: domain::ticket::Source::Agent,
        idempotency_key: None,
        errors: Vec::new(),
    };
    let files = [Upload {
        name: "scan.pdf".into(),
        content_type: Some("application/pdf".into()),
        bytes: b"%PDF-1.7".to_vec(),
    }];
    let mut staged = app.state.attachments.stage();
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let (ticket, written) = web::attachments::create(
        &mut tx,
        &mut staged,
        web::tickets::TicketActor::Agent(sam.id),
        &input,
        &files,
    )
    .await
    .expect("create");
    tx.commit().await.expect("commit");
    staged.keep();
    assert_eq!(written.len(), 1);
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let thread = store::ticket_thread::thread(&mut tx, ticket.id)
        .await
        .expect("thread");
    let first = thread
        .iter()
        .find(|e| e.kind == store::ticket_thread::EntryKind::Message)
        .expect("first message");
    assert_eq!(written[0].entry_id, first.id);
    tx.commit().await.expect("commit");
    assert!(
        app.state
            .attachments
            .exists(&written[0].storage_key)
            .await
            .expect("head")
    );
}

#[tokio::test]
async fn the_api_creates_a_ticket_with_files_in_one_multipart_request() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Attachment API Create").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    department(&tenant, "Front desk").await;
    let (status, created) = upload(
        &app,
        &tenant,
        &token,
        "/api/v1/tickets",
        &[
            ("subject", "Broken screen"),
            ("message", "Photo attached."),
            ("requester_email", "photo@example.com"),
            ("priority", "high"),
            ("custom", "{}"),
        ],
        &[("screen.png", "image/png", b"\x89PNG\r\n\x1a\nscreen")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["priority"], "high");
    let id = created["id"].as_str().expect("id");
    let (status, files) = app
        .api(
            &tenant,
            &token,
            reqwest::Method::GET,
            &format!("/api/v1/tickets/{id}/attachments"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{files}");
    assert_eq!(files["data"][0]["name"], "screen.png");
    let file_id = files["data"][0]["id"].as_str().expect("file id");
    let response = download(&app, &tenant, &token, file_id).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.bytes().await.expect("bytes").as_ref(),
        b"\x89PNG\r\n\x1a\nscreen"
    );
    // The console's storage figure counts the file (migration 18).
    let usage = app
        .state
        .store
        .tenant_overview(tenant.tenant.slug.as_str(), 1, None)
        .await
        .expect("overview");
    assert_eq!(usage[0].storage_bytes, 14);

    // A refused file or a malformed JSON part: 422 naming it, and no ticket, no object.
    let mut tx = tenant_sql(&tenant).await;
    sqlx::query("update tenant_settings set attachment_max_bytes = 1024")
        .execute(&mut *tx)
        .await
        .expect("limit");
    tx.commit().await.expect("commit");
    let tickets_before = count(&tenant, "select count(*) from tickets").await;
    let objects_before = objects_of(&app, &tenant).await.len();
    let big = vec![b'a'; 2000];
    let base = [
        ("subject", "Too big"),
        ("message", "See file."),
        ("requester_email", "photo@example.com"),
    ];
    let (status, problem) = upload(
        &app,
        &tenant,
        &token,
        "/api/v1/tickets",
        &base,
        &[("big.txt", "text/plain", &big)],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "files[0]");
    let (status, problem) = upload(
        &app,
        &tenant,
        &token,
        "/api/v1/tickets",
        &[base[0], base[1], base[2], ("custom", "{not json")],
        &[("small.txt", "text/plain", b"ok")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "custom");
    let (status, problem) = upload(
        &app,
        &tenant,
        &token,
        "/api/v1/tickets",
        &base,
        &[("setup.exe", "application/octet-stream", b"MZ")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(
        count(&tenant, "select count(*) from tickets").await,
        tickets_before
    );
    assert_eq!(objects_of(&app, &tenant).await.len(), objects_before);
}
