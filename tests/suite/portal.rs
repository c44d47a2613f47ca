//! The customer portal through HTTP and Chromium: the six registration modes on the ticket
//! side, guests opening tickets and following the guest link from the autoresponse, agent
//! replies reaching them with their link, the ticket-number access form, organization sharing
//! and customer groups as a matrix, closing and reopening, guest links in the API, the portal
//! options, bad input, and tenants that stay apart.

use domain::RegistrationMethod;
use fantoccini::Locator;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantdesk_tests::mailroom::Mailroom;
use tenantdesk_tests::{
    MAIL_WORKERS, Page, TestApp, TestTenant, Visitor, browser, link_path, spawn_app, tenant_sql,
    unique_mail_domain,
};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

/// The six modes: (required, method).
const MODES: [(bool, RegistrationMethod); 6] = [
    (false, RegistrationMethod::Public),
    (true, RegistrationMethod::Public),
    (false, RegistrationMethod::Private),
    (true, RegistrationMethod::Private),
    (false, RegistrationMethod::Disabled),
    (true, RegistrationMethod::Disabled),
];

/// A file for a multipart form: (field, file name, content type, bytes).
type FilePart<'a> = (&'a str, &'a str, &'a str, Vec<u8>);

/// Posts `multipart/form-data` the way a browser does (Origin, the CSRF token, cookies).
async fn post_multipart(
    app: &TestApp,
    visitor: &mut Visitor<'_>,
    path: &str,
    fields: &[(&str, &str)],
    files: &[FilePart<'_>],
) -> Page {
    if visitor.csrf().is_empty() {
        visitor.get("/").await;
    }
    let boundary = format!("----portal{}", Uuid::now_v7().simple());
    let mut body: Vec<u8> = Vec::new();
    let csrf = visitor.csrf();
    let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    for (name, value) in all {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (name, file_name, content_type, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let cookies = visitor
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let response = app
        .http
        .post(app.url(path))
        .header("Host", &visitor.host)
        .header("Origin", format!("http://{}", visitor.host))
        .header("Cookie", cookies)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("POST multipart");
    let status = response.status();
    let headers = response.headers().clone();
    let location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.text().await.unwrap_or_default();
    Page {
        status,
        location,
        headers,
        body,
    }
}

/// Opens a ticket from the portal form; the page answered.
async fn open_ticket(
    app: &TestApp,
    visitor: &mut Visitor<'_>,
    fields: &[(&str, &str)],
    files: &[FilePart<'_>],
) -> Page {
    visitor.get("/tickets/new").await;
    post_multipart(app, visitor, "/tickets/new", fields, files).await
}

/// The ticket number of a successful open (the answer page's address).
fn opened_number(page: &Page) -> i64 {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location.clone().expect("location");
    assert!(
        location.starts_with("/tickets/opened?number="),
        "{location}"
    );
    location["/tickets/opened?number=".len()..]
        .split('&')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

async fn ticket_count(tenant: &TestTenant) -> i64 {
    let mut tx = tenant_sql(tenant).await;
    let (count,): (i64,) = sqlx::query_as("select count(*) from tickets")
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    tx.commit().await.expect("commit");
    count
}

async fn end_user_count(tenant: &TestTenant) -> i64 {
    let mut tx = tenant_sql(tenant).await;
    let (count,): (i64,) = sqlx::query_as("select count(*) from end_users")
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    tx.commit().await.expect("commit");
    count
}

/// The API's ticket with this number.
async fn api_ticket(app: &TestApp, tenant: &TestTenant, token: &str, number: i64) -> Value {
    let (status, body) = app
        .api(
            tenant,
            token,
            Method::GET,
            &format!("/api/v1/tickets?number={number}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"][0].clone()
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

/// An active end user signed in on a fresh visitor of the tenant's host.
async fn signed_in<'a>(app: &'a TestApp, tenant: &TestTenant, email: &str) -> Visitor<'a> {
    app.create_end_user(tenant, "Sam Signed", email, Some(PASSWORD))
        .await;
    let mut visitor = app.visitor(&tenant.host());
    visitor.get("/login").await;
    let page = visitor
        .post_form(
            "/login",
            &[("email", email), ("password", PASSWORD), ("next", "/")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    visitor
}

async fn sql(tenant: &TestTenant, statement: &str, ids: &[Uuid]) {
    let mut tx = tenant_sql(tenant).await;
    let mut query = sqlx::query(statement).bind(tenant.tenant.id.as_uuid());
    for id in ids {
        query = query.bind(*id);
    }
    query.execute(&mut *tx).await.expect(statement);
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn the_six_registration_modes_decide_who_may_open_tickets() {
    let app = spawn_app().await;
    let domain = unique_mail_domain();
    for (index, (required, method)) in MODES.into_iter().enumerate() {
        let tenant = app.create_tenant("Modes Corp").await;
        app.set_registration_mode(&tenant, required, method).await;
        let label = format!("required={required} method={}", method.as_str());

        // A guest: the home offers opening only when guests may; the form follows.
        let mut guest = app.visitor(&tenant.host());
        let home = guest.get("/").await;
        let guests_may = !required;
        let accepts = !(required && method == RegistrationMethod::Disabled);
        assert_eq!(
            home.body.contains("id=\"portal-open-ticket\""),
            guests_may,
            "{label}: the guest's home"
        );
        assert_eq!(
            home.body.contains("id=\"portal-sign-in-to-open\""),
            accepts && !guests_may,
            "{label}"
        );
        let form = guest.get("/tickets/new").await;
        let email = format!("guest{index}@{domain}");
        let posted = post_multipart(
            &app,
            &mut guest,
            "/tickets/new",
            &[
                ("name", "Gail Guest"),
                ("email", &email),
                ("subject", "Guest question"),
                ("message", "Hello there."),
            ],
            &[],
        )
        .await;
        if guests_may {
            assert_eq!(form.status, StatusCode::OK, "{label}");
            opened_number(&posted);
        } else if accepts {
            assert_eq!(form.status, StatusCode::SEE_OTHER, "{label}");
            assert_eq!(
                form.location.as_deref(),
                Some("/login?next=%2Ftickets%2Fnew"),
                "{label}"
            );
            assert_eq!(posted.status, StatusCode::SEE_OTHER, "{label}");
            assert!(
                posted
                    .location
                    .as_deref()
                    .is_some_and(|l| l.starts_with("/login")),
                "{label}"
            );
        } else {
            assert_eq!(form.status, StatusCode::FORBIDDEN, "{label}");
            assert!(
                form.body.contains("does not accept new requests"),
                "{label}"
            );
            assert_eq!(posted.status, StatusCode::FORBIDDEN, "{label}");
        }
        assert_eq!(
            ticket_count(&tenant).await,
            i64::from(guests_may),
            "{label}: guest tickets"
        );

        // A signed-in end user: may open in every mode that takes tickets at all.
        let mut user = signed_in(&app, &tenant, &format!("user{index}@{domain}")).await;
        let home = user.get("/").await;
        assert_eq!(
            home.body.contains("id=\"portal-open-ticket\""),
            accepts,
            "{label}: the user's home"
        );
        assert!(home.body.contains("id=\"portal-my-tickets\""), "{label}");
        let posted = open_ticket(
            &app,
            &mut user,
            &[("subject", "Member question"), ("message", "Hi.")],
            &[],
        )
        .await;
        if accepts {
            let number = opened_number(&posted);
            let mine = user.get("/tickets").await;
            assert!(mine.body.contains(&format!("#{number}")), "{label}");
        } else {
            assert_eq!(posted.status, StatusCode::FORBIDDEN, "{label}");
        }
        assert_eq!(
            ticket_count(&tenant).await,
            i64::from(guests_may) + i64::from(accepts),
            "{label}: all tickets"
        );
    }
}

#[tokio::test]
async fn a_guest_follows_the_autoresponse_link_replies_and_gets_the_agent_reply() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Guest Link Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let domain = unique_mail_domain();
    let email = format!("gus@{domain}");
    let mail = Mailroom::start();

    let mut guest = app.visitor(&tenant.host());
    let page = open_ticket(
        &app,
        &mut guest,
        &[
            ("name", "Gus Guest"),
            ("email", &email),
            ("subject", "Broken kettle"),
            ("message", "It whistles in C minor."),
        ],
        &[("files", "photo.txt", "text/plain", b"a kettle".to_vec())],
    )
    .await;
    let number = opened_number(&page);
    let answer = guest.get(page.location.as_deref().expect("answer")).await;
    assert!(
        answer.body.contains(&format!("#{number}")),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("id=\"confirmation-sent\""));

    let received = mail
        .received_about(&app, &email, 1, "We received your request")
        .await;
    let link = link_path(&received[0].text, &tenant.host(), "/tickets/");
    let mut reader = app.visitor(&tenant.host());
    let page = reader.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Broken kettle"));
    assert!(page.body.contains("It whistles in C minor."));
    assert!(page.body.contains("photo.txt"));
    assert_eq!(
        page.headers
            .get("referrer-policy")
            .and_then(|v| v.to_str().ok()),
        Some("same-origin")
    );

    // The guest replies through the link.
    let page = post_multipart(
        &app,
        &mut reader,
        &format!("{link}/reply"),
        &[("message", "Also it leaks.")],
        &[],
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let ticket = api_ticket(&app, &tenant, &token, number).await;
    let id = id_of(&ticket);

    // An internal note stays internal; the agent's reply reaches the guest with a link.
    let (status, _) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{id}/notes"),
            Some(json!({"body": "Secret: the customer dropped it."})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{id}/messages"),
            Some(json!({"body": "Please descale it."})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let replies = mail
        .received_about(&app, &email, 1, "Re: Broken kettle")
        .await;
    assert!(replies[0].text.contains("Please descale it."));
    let reply_link = link_path(&replies[0].text, &tenant.host(), "/tickets/");
    let page = reader.get(&reply_link).await;
    assert!(page.body.contains("Also it leaks."), "{}", page.body);
    assert!(page.body.contains("Please descale it."));
    assert!(!page.body.contains("Secret: the customer dropped it."));

    // The link opens only this ticket: another ticket of the same tenant stays shut.
    let other = open_ticket(
        &app,
        &mut app.visitor(&tenant.host()),
        &[
            ("name", "Olga Other"),
            ("email", &format!("olga@{domain}")),
            ("subject", "Other matter"),
            ("message", "Private."),
        ],
        &[("files", "other.txt", "text/plain", b"private".to_vec())],
    )
    .await;
    let other_number = opened_number(&other);
    let other_ticket = api_ticket(&app, &tenant, &token, other_number).await;
    let (_, files) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            &format!("/api/v1/tickets/{}/attachments", id_of(&other_ticket)),
            None,
        )
        .await;
    let other_file = files["data"][0]["id"].as_str().expect("attachment id");
    let page = reader
        .get(&format!("{reply_link}/attachments/{other_file}"))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = reader.get(&format!("/tickets/{other_number}")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "no session: sign in");
    // The secret of this ticket under the other ticket's number opens nothing.
    let moved = reply_link.replacen(
        &format!("/tickets/{number}/"),
        &format!("/tickets/{other_number}/"),
        1,
    );
    assert_ne!(moved, reply_link);
    assert_eq!(reader.get(&moved).await.status, StatusCode::NOT_FOUND);
    let page = post_multipart(
        &app,
        &mut reader,
        &format!("{moved}/reply"),
        &[("message", "Hijack")],
        &[],
    )
    .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = reader.get(&reply_link).await;
    assert!(!page.body.contains("Other matter"));
}

#[tokio::test]
async fn ticket_number_access_mails_a_link_for_a_right_pair_and_answers_alike_otherwise() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Access Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let domain = unique_mail_domain();
    let email = format!("ava@{domain}");
    let collaborator = format!("cole@{domain}");
    let mail = Mailroom::start();
    let cole = app
        .create_end_user(&tenant, "Cole Copy", &collaborator, None)
        .await;
    let (status, ticket) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/tickets",
            Some(json!({"subject": "Lost parcel", "message": "Where is it?",
                        "requester_email": email, "collaborators": [cole.id]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    let number = ticket["number"].as_i64().expect("number").to_string();

    let mut visitor = app.visitor(&tenant.host());
    let form = visitor.get("/access").await;
    assert_eq!(form.status, StatusCode::OK);
    let mut answers = Vec::new();
    for (n, e) in [
        (number.as_str(), email.as_str()),
        (number.as_str(), collaborator.as_str()),
        (number.as_str(), "stranger@example.com"),
        ("999999", email.as_str()),
        ("not a number", "not an email"),
    ] {
        let page = visitor
            .post_form("/access", &[("number", n), ("email", e)])
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        answers.push(page.location.clone());
        let shown = visitor.get(page.location.as_deref().expect("answer")).await;
        assert!(
            shown
                .body
                .contains("If the ticket number and email address match")
        );
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    let received = mail
        .received_about(&app, &email, 1, "Your link to Lost parcel")
        .await;
    let link = link_path(&received[0].text, &tenant.host(), "/tickets/");
    assert!(visitor.get(&link).await.body.contains("Lost parcel"));
    mail.received_about(&app, &collaborator, 1, "Your link to Lost parcel")
        .await;

    // The form is rate limited per client address.
    let mut limited = false;
    for _ in 0..12 {
        let page = visitor
            .post_form("/access", &[("number", "1"), ("email", "x@example.com")])
            .await;
        if page.status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "the access form is rate limited");
}

#[tokio::test]
async fn organization_sharing_and_customer_groups_decide_who_sees_and_writes() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Matrix Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let domain = unique_mail_domain();

    // An organization with a requester, a primary contact and a plain member.
    let (status, org) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/organizations",
            Some(json!({"name": "Widgets Ltd"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let org_id = id_of(&org);
    let mut requester = signed_in(&app, &tenant, &format!("rita@{domain}")).await;
    let mut contact = signed_in(&app, &tenant, &format!("carl@{domain}")).await;
    let mut member = signed_in(&app, &tenant, &format!("mona@{domain}")).await;
    let mut outsider = signed_in(&app, &tenant, &format!("otto@{domain}")).await;
    for (email, primary_contact) in [
        (format!("rita@{domain}"), false),
        (format!("carl@{domain}"), true),
        (format!("mona@{domain}"), false),
    ] {
        let user = {
            let mut tx = tenant_sql(&tenant).await;
            let (id,): (Uuid,) = sqlx::query_as("select id from end_users where email = $1")
                .bind(&email)
                .fetch_one(&mut *tx)
                .await
                .expect("user");
            tx.commit().await.expect("commit");
            id
        };
        let (status, body) = app
            .api(
                &tenant,
                &token,
                Method::PUT,
                &format!("/api/v1/organizations/{org_id}/members/{user}"),
                Some(json!({"primary": true, "primary_contact": primary_contact})),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
    let number = opened_number(
        &open_ticket(
            &app,
            &mut requester,
            &[("subject", "Invoice wrong"), ("message", "Twice.")],
            &[],
        )
        .await,
    );
    let path = format!("/tickets/{number}");

    // Sharing: none, primary contacts, all members.
    for (sharing, sees) in [
        ("none", [true, false, false, false]),
        ("primary_contacts", [true, true, false, false]),
        ("all_members", [true, true, true, false]),
    ] {
        let (status, body) = app
            .api(
                &tenant,
                &token,
                Method::PATCH,
                &format!("/api/v1/organizations/{org_id}"),
                Some(json!({"ticket_sharing": sharing})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for (visitor, expected) in [&mut requester, &mut contact, &mut member, &mut outsider]
            .into_iter()
            .zip(sees)
        {
            let page = visitor.get(&path).await;
            let seen = page.status == StatusCode::OK;
            assert_eq!(seen, expected, "{sharing}: {}", page.status);
            if !seen {
                assert_eq!(page.status, StatusCode::NOT_FOUND);
            }
            let listed = visitor.get("/tickets?reach=organization").await;
            if expected && listed.status == StatusCode::OK {
                assert!(
                    listed.body.contains("Invoice wrong")
                        || visitor.get("/tickets").await.body.contains("Invoice wrong"),
                    "{sharing}"
                );
            }
        }
    }

    // Customer groups on the department: none, ro, rw for the requester.
    let (status, group) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/groups",
            Some(json!({"name": "Billing customers"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let group_id = Uuid::parse_str(&id_of(&group)).expect("uuid");
    sql(
        &tenant,
        "update departments set customer_group_id = $2 where tenant_id = $1",
        &[group_id],
    )
    .await;
    let rita = {
        let mut tx = tenant_sql(&tenant).await;
        let (id,): (Uuid,) = sqlx::query_as("select id from end_users where email = $1")
            .bind(format!("rita@{domain}"))
            .fetch_one(&mut *tx)
            .await
            .expect("user");
        tx.commit().await.expect("commit");
        id
    };
    for (grant, sees, writes) in [
        (None, false, false),
        (Some("ro"), true, false),
        (Some("rw"), true, true),
    ] {
        if let Some(permission) = grant {
            let (status, body) = app
                .api(
                    &tenant,
                    &token,
                    Method::PUT,
                    &format!("/api/v1/users/{rita}/groups/{group_id}"),
                    Some(json!({"permission": permission})),
                )
                .await;
            assert!(status.is_success(), "{body}");
        }
        let label = format!("group grant {grant:?}");
        let page = requester.get(&path).await;
        assert_eq!(page.status == StatusCode::OK, sees, "{label}");
        if sees {
            assert_eq!(page.body.contains("id=\"reply-form\""), writes, "{label}");
        }
        let replied = post_multipart(
            &app,
            &mut requester,
            &format!("{path}/reply"),
            &[("message", "Any news?")],
            &[],
        )
        .await;
        let expected = if writes {
            StatusCode::SEE_OTHER
        } else if sees {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(replied.status, expected, "{label}");
        // Opening a ticket in the department needs rw too.
        let opened = open_ticket(
            &app,
            &mut requester,
            &[("subject", "Another"), ("message", "One more.")],
            &[],
        )
        .await;
        assert_eq!(opened.status == StatusCode::SEE_OTHER, writes, "{label}");
    }
}

#[tokio::test]
async fn end_users_close_and_reopen_as_the_portal_options_allow() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Close Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let domain = unique_mail_domain();
    let mut user = signed_in(&app, &tenant, &format!("cleo@{domain}")).await;
    let number = opened_number(
        &open_ticket(
            &app,
            &mut user,
            &[("subject", "Done soon"), ("message", "Hi.")],
            &[],
        )
        .await,
    );
    let path = format!("/tickets/{number}");

    let (status, body) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            "/api/v1/portal-settings",
            Some(json!({"users_may_close": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!user.get(&path).await.body.contains("id=\"close-ticket\""));
    let page = user.post_form(&format!("{path}/close"), &[]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    app.api(
        &tenant,
        &token,
        Method::PATCH,
        "/api/v1/portal-settings",
        Some(json!({"users_may_close": true, "reopen_days": 7})),
    )
    .await;
    assert!(user.get(&path).await.body.contains("id=\"close-ticket\""));
    let page = user.post_form(&format!("{path}/close"), &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let ticket = api_ticket(&app, &tenant, &token, number).await;
    assert_eq!(ticket["state"], "closed");
    let page = user.get(&path).await;
    assert!(page.body.contains("id=\"reopen-ticket\""));
    assert!(!page.body.contains("id=\"reply-form\""));

    let page = user.post_form(&format!("{path}/reopen"), &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        api_ticket(&app, &tenant, &token, number).await["state"],
        "open"
    );

    // A reopen window of 0: closed stays closed.
    app.api(
        &tenant,
        &token,
        Method::PATCH,
        "/api/v1/portal-settings",
        Some(json!({"reopen_days": 0})),
    )
    .await;
    user.post_form(&format!("{path}/close"), &[]).await;
    assert!(!user.get(&path).await.body.contains("id=\"reopen-ticket\""));
    let page = user.post_form(&format!("{path}/reopen"), &[]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    // My tickets filter by state.
    let closed = user.get("/tickets?state=closed").await;
    assert!(closed.body.contains("Done soon"));
    let open = user.get("/tickets?state=open").await;
    assert!(!open.body.contains("Done soon"));
}

#[tokio::test]
async fn guest_links_are_listed_minted_revoked_and_stay_in_their_tenant() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Links Corp").await;
    let other = app.create_tenant("Other Links Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let other_token = app.issue_token(&other.tenant, "admin").await;
    let domain = unique_mail_domain();
    let (status, ticket) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/tickets",
            Some(json!({"subject": "Link me", "message": "Please.",
                        "requester_email": format!("lia@{domain}")})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    let id = id_of(&ticket);
    let number = ticket["number"].as_i64().expect("number");
    let requester = ticket["requester"]["id"]
        .as_str()
        .expect("requester")
        .to_owned();

    let (status, minted) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{id}/guest-links"),
            Some(json!({"end_user_id": requester})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let url = minted["url"].as_str().expect("url").to_owned();
    let path = url[url.find("/tickets/").expect("guest path")..].to_owned();
    let mut visitor = app.visitor(&tenant.host());
    assert!(visitor.get(&path).await.body.contains("Link me"));

    // Tenant B: the secret, the ticket number and the API ids are all unknown there.
    let mut stranger = app.visitor(&other.host());
    assert_eq!(stranger.get(&path).await.status, StatusCode::NOT_FOUND);
    let page = stranger.get(&format!("/tickets/{number}")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "sign in first on B");
    for (method, suffix) in [
        (Method::GET, String::new()),
        (
            Method::DELETE,
            format!("/{}", minted["link"]["id"].as_str().expect("link id")),
        ),
    ] {
        let (status, _) = app
            .api(
                &other,
                &other_token,
                method,
                &format!("/api/v1/tickets/{id}/guest-links{suffix}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = app
        .api(
            &other,
            &other_token,
            Method::POST,
            &format!("/api/v1/tickets/{id}/guest-links"),
            Some(json!({"end_user_id": requester})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Someone not on the ticket gets no link; a missing field is named.
    let stranger_user = app
        .create_end_user(&tenant, "Nosy", &format!("nosy@{domain}"), None)
        .await;
    let (status, body) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{id}/guest-links"),
            Some(json!({"end_user_id": stranger_user.id})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "end_user_id");
    let (status, body) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{id}/guest-links"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "end_user_id");

    let (status, list) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            &format!("/api/v1/tickets/{id}/guest-links"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    assert!(list["data"][0]["last_used_at"].is_string());
    let link_id = list["data"][0]["id"].as_str().expect("id").to_owned();
    let (status, _) = app
        .api(
            &tenant,
            &token,
            Method::DELETE,
            &format!("/api/v1/tickets/{id}/guest-links/{link_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(visitor.get(&path).await.status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .api(
            &tenant,
            &token,
            Method::DELETE,
            &format!("/api/v1/tickets/{id}/guest-links/{link_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "revoked once only");
}

#[tokio::test]
async fn an_agent_revokes_a_guest_link_from_the_panel() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Revoke Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let domain = unique_mail_domain();
    let agent_email = format!("ada@{domain}");
    app.create_agent(
        &tenant.tenant,
        domain::BuiltinRole::Admin,
        &agent_email,
        PASSWORD,
    )
    .await;
    let (_, ticket) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/tickets",
            Some(json!({"subject": "Revoke me", "message": "Hi.",
                        "requester_email": format!("rex@{domain}")})),
        )
        .await;
    let id = id_of(&ticket);
    let number = ticket["number"].as_i64().expect("number");
    let (_, minted) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{id}/guest-links"),
            Some(json!({"end_user_id": ticket["requester"]["id"]})),
        )
        .await;
    let url = minted["url"].as_str().expect("url");
    let path = url[url.find("/tickets/").expect("path")..].to_owned();
    let link_id = minted["link"]["id"].as_str().expect("id");

    let mut agent = app.visitor(&tenant.host());
    agent.sign_in_agent(&agent_email, PASSWORD).await;
    let page = agent
        .get(&format!("/agent/tickets/{number}/guest-links"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!("rex@{domain}")));
    let page = agent
        .post_form(
            &format!("/agent/tickets/{number}/guest-links/{link_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        app.visitor(&tenant.host()).get(&path).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_input_is_refused_clearly_and_nothing_is_half_written() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Bad Input Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let domain = unique_mail_domain();
    let mut guest = app.visitor(&tenant.host());
    let users_before = end_user_count(&tenant).await;

    // A malformed email and a missing subject: the form again, values kept, fields named.
    let page = open_ticket(
        &app,
        &mut guest,
        &[
            ("name", "Bea Bad"),
            ("email", "not-an-email"),
            ("subject", ""),
            ("message", "Kept message"),
        ],
        &[],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body
            .contains("Email address: is not a valid email address"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Kept message"));
    let page = open_ticket(
        &app,
        &mut guest,
        &[
            ("name", "Bea Bad"),
            ("email", &format!("bea@{domain}")),
            ("subject", ""),
            ("message", "Hello"),
        ],
        &[],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Subject:"), "{}", page.body);

    // An attachment over the workspace's limit.
    app.api(
        &tenant,
        &token,
        Method::PATCH,
        "/api/v1/ticket-settings",
        Some(json!({"attachment_max_bytes": 1024})),
    )
    .await;
    let page = open_ticket(
        &app,
        &mut guest,
        &[
            ("name", "Bea Bad"),
            ("email", &format!("bea@{domain}")),
            ("subject", "Big file"),
            ("message", "Attached."),
        ],
        &[(
            "files",
            "big.bin",
            "application/octet-stream",
            vec![7u8; 4096],
        )],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body.contains("big.bin is larger than the limit"),
        "{}",
        page.body
    );

    // A topic the visitor may not use (granted to someone else only).
    let (status, support) = app
        .api(&tenant, &token, Method::GET, "/api/v1/departments", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let department = support["data"][0]["id"]
        .as_str()
        .expect("department")
        .to_owned();
    let (status, open_topic) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/help-topics",
            Some(json!({"name": "General", "department_id": department})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{open_topic}");
    let (status, private_topic) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/help-topics",
            Some(json!({"name": "VIP line", "department_id": department, "for_everyone": false})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{private_topic}");
    let form = guest.get("/tickets/new").await;
    assert!(form.body.contains("General"));
    assert!(!form.body.contains("VIP line"));
    let page = post_multipart(
        &app,
        &mut guest,
        "/tickets/new",
        &[
            ("name", "Bea Bad"),
            ("email", &format!("bea@{domain}")),
            ("help_topic_id", &id_of(&private_topic)),
            ("subject", "Sneaky"),
            ("message", "Let me in."),
        ],
        &[],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body
            .contains("Topic: is not a topic you may open requests under")
    );
    assert_eq!(ticket_count(&tenant).await, 0, "nothing was written");
    assert_eq!(
        end_user_count(&tenant).await,
        users_before,
        "no guest was made"
    );

    // Forged and expired guest links.
    for forged in [
        "/tickets/1/guest/tdg_forged",
        "/tickets/1/guest/nonsense",
        "/tickets/1/guest/tdg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_eq!(guest.get(forged).await.status, StatusCode::NOT_FOUND);
    }
    let page = open_ticket(
        &app,
        &mut guest,
        &[
            ("name", "Eve Expired"),
            ("email", &format!("eve@{domain}")),
            ("help_topic_id", &id_of(&open_topic)),
            ("subject", "Soon closed"),
            ("message", "Bye."),
        ],
        &[],
    )
    .await;
    let number = opened_number(&page);
    let ticket = api_ticket(&app, &tenant, &token, number).await;
    let (_, minted) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{}/guest-links", id_of(&ticket)),
            Some(json!({"end_user_id": ticket["requester"]["id"]})),
        )
        .await;
    let url = minted["url"].as_str().expect("url");
    let path = url[url.find("/tickets/").expect("path")..].to_owned();
    assert_eq!(guest.get(&path).await.status, StatusCode::OK);
    let page = post_multipart(
        &app,
        &mut guest,
        &format!("{path}/reply"),
        &[("message", "")],
        &[],
    )
    .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an empty reply"
    );
    app.api(
        &tenant,
        &token,
        Method::PATCH,
        "/api/v1/portal-settings",
        Some(json!({"guest_link_days_after_close": 0})),
    )
    .await;
    let (status, body) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            &format!("/api/v1/tickets/{}", id_of(&ticket)),
            Some(json!({"state": "closed"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        guest.get(&path).await.status,
        StatusCode::NOT_FOUND,
        "expired"
    );

    // Bad portal options are named; a form from another site is refused.
    let (status, body) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            "/api/v1/portal-settings",
            Some(json!({"reopen_days": -1, "colour": "red"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"reopen_days") && fields.contains(&"colour"),
        "{body}"
    );
    let page = guest
        .post_raw(
            "/access",
            &[("csrf", "x"), ("number", "1"), ("email", "a@b.example")],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn portal_options_are_saved_from_the_admin_page_and_the_api() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Options Corp").await;
    let other = app.create_tenant("Other Options Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let domain = unique_mail_domain();
    let admin_email = format!("root@{domain}");
    app.create_agent(
        &tenant.tenant,
        domain::BuiltinRole::Admin,
        &admin_email,
        PASSWORD,
    )
    .await;
    let mut admin = app.visitor(&tenant.host());
    admin.sign_in_agent(&admin_email, PASSWORD).await;
    let page = admin.get("/admin/portal").await;
    assert_eq!(page.status, StatusCode::OK);
    let page = admin
        .post_form(
            "/admin/portal",
            &[
                ("users_may_close", "on"),
                ("reopen_days", "3"),
                ("guest_link_days_after_close", "9"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let (status, body) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/portal-settings",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"autoresponse": false, "users_may_close": true, "reopen_days": 3,
               "guest_link_days_after_close": 9})
    );
    let page = admin
        .post_form(
            "/admin/portal",
            &[
                ("reopen_days", "lots"),
                ("guest_link_days_after_close", "9"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("reopen_days"));
    // Another tenant's options are untouched; its admin session is nobody here.
    let other_token = app.issue_token(&other.tenant, "admin").await;
    let (_, body) = app
        .api(
            &other,
            &other_token,
            Method::GET,
            "/api/v1/portal-settings",
            None,
        )
        .await;
    assert_eq!(body["reopen_days"], 14);
    let mut cross = app.visitor(&other.host());
    cross.cookies = admin.cookies.clone();
    let page = cross.get("/admin/portal").await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "a session of A is anonymous on B"
    );

    // With the autoresponse off, the answer page says nothing about a mail.
    let mut guest = app.visitor(&tenant.host());
    let page = open_ticket(
        &app,
        &mut guest,
        &[
            ("name", "Quiet Quinn"),
            ("email", &format!("quinn@{domain}")),
            ("subject", "Shh"),
            ("message", "No mail please."),
        ],
        &[],
    )
    .await;
    opened_number(&page);
    let answer = guest.get(page.location.as_deref().expect("answer")).await;
    assert!(!answer.body.contains("id=\"confirmation-sent\""));
    let mut tx = tenant_sql(&tenant).await;
    let (queued,): (i64,) = sqlx::query_as(
        "select count(*) from outbound_emails where event = 'ticket.created.autoresponse'",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("count");
    tx.commit().await.expect("commit");
    assert_eq!(queued, 0);
}

// ---------------------------------------------------------------------------------------
// Chromium

async fn type_into(client: &fantoccini::Client, id: &str, text: &str) {
    client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|_| panic!("#{id}"))
        .send_keys(text)
        .await
        .expect("type");
}

#[tokio::test]
async fn in_chromium_the_portal_offers_what_three_modes_allow() {
    let app = spawn_app().await;
    let client = browser::open().await;
    for (required, method, open_link, sign_in_link) in [
        (false, RegistrationMethod::Public, true, false),
        (true, RegistrationMethod::Private, false, true),
        (true, RegistrationMethod::Disabled, false, false),
    ] {
        let tenant = app.create_tenant("Browser Modes Corp").await;
        app.set_registration_mode(&tenant, required, method).await;
        client
            .goto(&app.browser_url(&tenant.host(), "/"))
            .await
            .expect("open the portal");
        let actions = client
            .find(Locator::Id("portal-ticket-actions"))
            .await
            .expect("actions")
            .html(false)
            .await
            .expect("html");
        assert_eq!(
            actions.contains("portal-open-ticket"),
            open_link,
            "{actions}"
        );
        assert_eq!(
            actions.contains("portal-sign-in-to-open"),
            sign_in_link,
            "{actions}"
        );
        client
            .goto(&app.browser_url(&tenant.host(), "/tickets/new"))
            .await
            .expect("open the form");
        let body = client
            .find(Locator::Css("main"))
            .await
            .expect("main")
            .text()
            .await
            .expect("text");
        match (required, method) {
            (false, _) => assert!(body.contains("Open a new request"), "{body}"),
            (true, RegistrationMethod::Disabled) => {
                assert!(body.contains("does not accept new requests"), "{body}")
            }
            _ => assert!(body.contains("Sign in"), "{body}"),
        }
    }
    client.close().await.expect("close the browser");
}

#[tokio::test]
async fn in_chromium_a_guest_opens_a_ticket_and_answers_through_the_mailed_link() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Browser Guest Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let domain = unique_mail_domain();
    let email = format!("bria@{domain}");
    let mail = Mailroom::start();
    let client = browser::open().await;
    client
        .goto(&app.browser_url(&tenant.host(), "/"))
        .await
        .expect("portal");
    client
        .find(Locator::Id("portal-open-ticket"))
        .await
        .expect("open link")
        .click()
        .await
        .expect("click");
    client
        .wait()
        .for_element(Locator::Id("new-ticket-form"))
        .await
        .expect("form");
    type_into(&client, "name", "Bria Browser").await;
    type_into(&client, "email", &email).await;
    type_into(&client, "subject", "Screen flickers").await;
    type_into(&client, "message", "Since Tuesday.").await;
    client
        .find(Locator::Id("open-ticket"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    let number = client
        .wait()
        .for_element(Locator::Id("ticket-number"))
        .await
        .expect("answer page")
        .text()
        .await
        .expect("text");
    let number: i64 = number.trim_start_matches('#').parse().expect("number");

    let received = mail
        .received_about(&app, &email, 1, "We received your request")
        .await;
    let link = link_path(&received[0].text, &tenant.host(), "/tickets/");
    client
        .goto(&app.browser_url(&tenant.host(), &link))
        .await
        .expect("follow the link");
    client
        .wait()
        .for_element(Locator::Id("reply-form"))
        .await
        .expect("the ticket page");
    type_into(&client, "message", "It got worse.").await;
    client
        .find(Locator::Id("send-reply"))
        .await
        .expect("send")
        .click()
        .await
        .expect("click");
    if client
        .wait()
        .for_element(Locator::Id("notice"))
        .await
        .is_err()
    {
        let source = client.source().await.unwrap_or_default();
        panic!("no notice after the reply: {source}");
    }

    let ticket = api_ticket(&app, &tenant, &token, number).await;
    let (status, _) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{}/messages", id_of(&ticket)),
            Some(json!({"body": "Try another cable."})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let replies = mail
        .received_about(&app, &email, 1, "Re: Screen flickers")
        .await;
    let reply_link = link_path(&replies[0].text, &tenant.host(), "/tickets/");
    client
        .goto(&app.browser_url(&tenant.host(), &reply_link))
        .await
        .expect("follow the reply's link");
    let thread = client
        .wait()
        .for_element(Locator::Id("thread"))
        .await
        .expect("thread")
        .text()
        .await
        .expect("text");
    assert!(thread.contains("It got worse."), "{thread}");
    assert!(thread.contains("Try another cable."), "{thread}");
    let subject = client
        .find(Locator::Id("ticket-subject"))
        .await
        .expect("subject")
        .text()
        .await
        .expect("text");
    assert_eq!(subject, format!("#{number} Screen flickers"));
    client.close().await.expect("close the browser");
}

#[tokio::test]
async fn topics_bring_their_fields_grants_count_and_invalid_users_are_refused() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Topics Corp").await;
    let other = app.create_tenant("Other Topics Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let domain = unique_mail_domain();
    let (_, departments) = app
        .api(&tenant, &token, Method::GET, "/api/v1/departments", None)
        .await;
    let department = departments["data"][0]["id"]
        .as_str()
        .expect("department")
        .to_owned();
    let (status, field) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/fields/ticket",
            Some(
                json!({"key": "order_number", "label": "Order number", "field_type": "text",
                        "end_user_editable": true}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{field}");
    let (status, topic) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/help-topics",
            Some(json!({"name": "Orders", "department_id": department,
                        "field_ids": [field["id"]]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{topic}");
    let (status, vip) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/help-topics",
            Some(json!({"name": "VIP desk", "department_id": department, "for_everyone": false})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{vip}");

    // The topic's field is asked for and stored on the ticket.
    let mut user = signed_in(&app, &tenant, &format!("vera@{domain}")).await;
    let form = user
        .get(&format!("/tickets/new?topic={}", id_of(&topic)))
        .await;
    assert!(
        form.body.contains("name=\"custom.order_number\""),
        "{}",
        form.body
    );
    assert!(!form.body.contains("VIP desk"));
    let page = post_multipart(
        &app,
        &mut user,
        "/tickets/new",
        &[
            ("help_topic_id", &id_of(&topic)),
            ("custom.order_number", "A-1001"),
            ("subject", "Where is my order"),
            ("message", "Late."),
        ],
        &[],
    )
    .await;
    let number = opened_number(&page);
    let ticket = api_ticket(&app, &tenant, &token, number).await;
    assert_eq!(ticket["custom"]["order_number"], "A-1001", "{ticket}");
    assert_eq!(ticket["help_topic"]["name"], "Orders");

    // A grant to the user offers the restricted topic to them.
    let vera = ticket["requester"]["id"].clone();
    let (status, body) = app
        .api(
            &tenant,
            &token,
            Method::PUT,
            &format!("/api/v1/help-topics/{}/grants", id_of(&vip)),
            Some(json!({"end_user_id": vera})),
        )
        .await;
    assert!(status.is_success(), "{body}");
    assert!(user.get("/tickets/new").await.body.contains("VIP desk"));
    let page = open_ticket(
        &app,
        &mut user,
        &[
            ("help_topic_id", &id_of(&vip)),
            ("subject", "Priority please"),
            ("message", "Thanks."),
        ],
        &[],
    )
    .await;
    opened_number(&page);

    // A user the directory marks invalid cannot open a ticket, not even as a guest.
    let mut tx = tenant_sql(&tenant).await;
    sqlx::query("update end_users set validity = 'invalid' where email = $1")
        .bind(format!("vera@{domain}"))
        .execute(&mut *tx)
        .await
        .expect("invalidate");
    tx.commit().await.expect("commit");
    let before = ticket_count(&tenant).await;
    let mut guest = app.visitor(&tenant.host());
    let page = open_ticket(
        &app,
        &mut guest,
        &[
            ("name", "Vera"),
            ("email", &format!("vera@{domain}")),
            ("help_topic_id", &id_of(&topic)),
            ("subject", "Again"),
            ("message", "Hello?"),
        ],
        &[],
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("contact the help desk"), "{}", page.body);
    assert_eq!(ticket_count(&tenant).await, before);

    // An end user's session of tenant A is nobody on tenant B.
    let mut member = signed_in(&app, &tenant, &format!("mia@{domain}")).await;
    assert_eq!(member.get("/tickets").await.status, StatusCode::OK);
    let mut cross = app.visitor(&other.host());
    cross.cookies = member.cookies.clone();
    let page = cross.get("/tickets").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "sign in on B first");
    let page = cross.get(&format!("/tickets/{number}")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}
