//! Email templates through the API: the catalogue, overrides per locale with fallback, reset,
//! validation with line and column, previews with sample data, test sends through the outbox,
//! the mailer's fallback to the shipped default, and isolation between tenants.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use store::outbox::EmailSummary;
use tenantdesk_tests::{TestApp, TestTenant, spawn_app};
use uuid::Uuid;

/// A tenant and an API token of it.
struct Admin {
    tenant: TestTenant,
    token: String,
}

async fn admin(app: &TestApp, name: &str) -> Admin {
    let tenant = app.create_tenant(name).await;
    let token = app.issue_token(&tenant.tenant, "templates").await;
    Admin { tenant, token }
}

/// One request with `admin`'s token on `host`; the body is JSON when given. Answers the status
/// and the JSON body (null when there is none).
async fn call(
    app: &TestApp,
    host: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .http
        .request(method, app.url(path))
        .header(reqwest::header::HOST, host)
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"))
    };
    (status, json)
}

impl Admin {
    async fn call(
        &self,
        app: &TestApp,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call(app, &self.tenant.host(), &self.token, method, path, body).await
    }

    async fn get(&self, app: &TestApp, path: &str) -> Value {
        let (status, body) = self.call(app, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn put(&self, app: &TestApp, path: &str, template: Value) -> (StatusCode, Value) {
        self.call(app, Method::PUT, path, Some(template)).await
    }

    /// The tenant's recent outbound mail, read as the runtime role (the owner may be a superuser,
    /// which row-level security does not restrict).
    async fn outbox(&self, app: &TestApp) -> Vec<EmailSummary> {
        let mut tx = app
            .state
            .store
            .begin_tenant(self.tenant.tenant.id)
            .await
            .expect("tenant tx");
        let rows = store::outbox::recent(&mut tx, 10).await.expect("recent");
        tx.commit().await.expect("commit");
        rows
    }
}

fn template(subject: &str, html: &str, text: &str) -> Value {
    json!({"subject": subject, "html": html, "text": text})
}

/// The `errors` of a 422 problem, as (field, message) pairs.
fn field_errors(status: StatusCode, problem: &Value) -> Vec<(String, String)> {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["type"], "urn:tenantdesk:problem:validation");
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| {
            (
                error["field"].as_str().expect("field").to_owned(),
                error["message"].as_str().expect("message").to_owned(),
            )
        })
        .collect()
}

const INVITATION: &str = "/api/v1/email-templates/user.invitation";

#[tokio::test]
async fn the_catalogue_lists_every_event_with_its_variables_and_overrides() {
    let app = spawn_app().await;
    let admin = admin(&app, "Catalogue Corp").await;

    let list = admin.get(&app, "/api/v1/email-templates").await;
    let data = list["data"].as_array().expect("data");
    assert_eq!(data.len(), web::mailer::Event::ALL.len(), "{list}");
    assert_eq!(list["next_cursor"], Value::Null);
    let keys: Vec<&str> = data
        .iter()
        .map(|e| e["event"].as_str().expect("event"))
        .collect();
    for key in [
        "user.invitation",
        "user.registration_confirm",
        "user.password_reset",
        "user.password_changed",
        "agent.invitation",
        "agent.password_reset",
        "ticket.created.autoresponse",
        "ticket.created.alert",
        "ticket.reply.to_user",
        "ticket.message.alert",
        "ticket.assigned.alert",
        "ticket.closed",
        "ticket.access_link",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    for entry in data {
        assert!(
            !entry["description"]
                .as_str()
                .expect("description")
                .is_empty()
        );
        let paths: Vec<&str> = entry["variables"]
            .as_array()
            .expect("variables")
            .iter()
            .map(|v| v["path"].as_str().expect("path"))
            .collect();
        assert!(paths.contains(&"tenant.name"), "{entry}");
        assert_eq!(entry["overridden"], false);
        assert_eq!(entry["overridden_locales"], json!([]));
    }

    for locale in ["de", "en"] {
        let (status, body) = admin
            .put(
                &app,
                &format!("{INVITATION}?locale={locale}"),
                template("Hi {{ user.name }}", "<p>Hi</p>", "Hi"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let list = admin.get(&app, "/api/v1/email-templates").await;
    let invitation = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|e| e["event"] == "user.invitation")
        .expect("user.invitation");
    assert_eq!(invitation["overridden"], true);
    assert_eq!(invitation["overridden_locales"], json!(["de", "en"]));

    let openapi = admin.get(&app, "/api/v1/openapi.json").await;
    for path in [
        "/api/v1/email-templates",
        "/api/v1/email-templates/{event}",
        "/api/v1/email-templates/{event}/preview",
        "/api/v1/email-templates/{event}/test",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} not documented");
    }
    for method in ["get", "put", "delete"] {
        assert!(
            openapi["paths"]["/api/v1/email-templates/{event}"][method].is_object(),
            "{method} not documented"
        );
    }
}

#[tokio::test]
async fn an_override_applies_to_its_locale_its_regions_and_resets_to_the_default() {
    let app = spawn_app().await;
    let admin = admin(&app, "Locale Corp").await;

    let shipped = admin.get(&app, INVITATION).await;
    assert_eq!(shipped["source"], "default");
    assert_eq!(shipped["locale"], "en", "the tenant's default locale");
    assert_eq!(shipped["override_locale"], Value::Null);
    assert!(
        shipped["subject"]
            .as_str()
            .expect("subject")
            .contains("{{ tenant.name }}")
    );
    assert!(
        shipped["variables"]
            .as_array()
            .expect("variables")
            .iter()
            .any(|v| v["path"] == "invitation_url")
    );

    let german = template(
        "Einladung zu {{ tenant.name }}",
        "<p>Hallo {{ user.name }},</p>\n<p><a href=\"{{ invitation_url }}\">Annehmen</a></p>",
        "Hallo {{ user.name }},\n{{ invitation_url }}",
    );
    let (status, saved) = admin
        .put(&app, &format!("{INVITATION}?locale=de"), german.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["source"], "override");
    assert_eq!(saved["locale"], "de");
    assert_eq!(saved["override_locale"], "de");
    assert_eq!(saved["subject"], german["subject"]);
    assert!(saved["updated_at"].is_string());

    let shown = admin.get(&app, &format!("{INVITATION}?locale=de")).await;
    assert_eq!(shown["source"], "override");
    assert_eq!(shown["html"], german["html"]);
    assert_eq!(shown["text"], german["text"]);

    let austrian = admin.get(&app, &format!("{INVITATION}?locale=de-AT")).await;
    assert_eq!(austrian["source"], "override");
    assert_eq!(austrian["locale"], "de-AT");
    assert_eq!(austrian["override_locale"], "de");
    assert_eq!(austrian["subject"], german["subject"]);

    let french = admin.get(&app, &format!("{INVITATION}?locale=fr")).await;
    assert_eq!(french["source"], "default", "no override for fr or en yet");
    assert_eq!(french["subject"], shipped["subject"]);

    // Without ?locale= a PUT saves the tenant's default locale, which then serves fr too.
    let (status, english) = admin
        .put(
            &app,
            INVITATION,
            template("Welcome, {{ user.name }}", "<p>Welcome</p>", "Welcome"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{english}");
    assert_eq!(english["override_locale"], "en");
    let french = admin.get(&app, &format!("{INVITATION}?locale=fr")).await;
    assert_eq!(french["source"], "override");
    assert_eq!(french["override_locale"], "en");
    assert_eq!(french["subject"], "Welcome, {{ user.name }}");

    // Saving again replaces.
    let (status, replaced) = admin
        .put(
            &app,
            &format!("{INVITATION}?locale=de"),
            template("Neu: {{ tenant.name }}", "<p>Neu</p>", "Neu"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let shown = admin.get(&app, &format!("{INVITATION}?locale=de-AT")).await;
    assert_eq!(shown["subject"], "Neu: {{ tenant.name }}");

    // Reset de: de-AT falls back to the default locale's override, then to the shipped default.
    let (status, body) = admin
        .call(
            &app,
            Method::DELETE,
            &format!("{INVITATION}?locale=de"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let austrian = admin.get(&app, &format!("{INVITATION}?locale=de-AT")).await;
    assert_eq!(austrian["override_locale"], "en");
    let (status, problem) = admin
        .call(
            &app,
            Method::DELETE,
            &format!("{INVITATION}?locale=de"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing left to reset");
    assert_eq!(problem["type"], "urn:tenantdesk:problem:not-found");

    let (status, _) = admin.call(&app, Method::DELETE, INVITATION, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let back = admin.get(&app, &format!("{INVITATION}?locale=de-AT")).await;
    assert_eq!(back["source"], "default");
    assert_eq!(back["subject"], shipped["subject"]);
    assert_eq!(back["html"], shipped["html"]);
}

#[tokio::test]
async fn bad_templates_are_refused_with_line_and_column_and_nothing_is_saved() {
    let app = spawn_app().await;
    let admin = admin(&app, "Strict Corp").await;
    let path = format!("{INVITATION}?locale=de");

    // A tag left open on line 3.
    let (status, problem) = admin
        .put(
            &app,
            &path,
            template(
                "Hi",
                "<p>\n  {% if user.name %}\n  {{ user.name }</p>",
                "ok",
            ),
        )
        .await;
    let errors = field_errors(status, &problem);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "html");
    assert!(
        errors[0].1.starts_with("line 3, column "),
        "line and column lead the message: {}",
        errors[0].1
    );
    assert!(errors[0].1.contains("syntax error"), "{}", errors[0].1);

    let (status, problem) = admin
        .put(
            &app,
            &path,
            template("Hi {{ user.name }}", "<p>\n{{ user.password }}</p>", "ok"),
        )
        .await;
    let errors = field_errors(status, &problem);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "html");
    assert!(
        errors[0].1.starts_with("line 2, column 4: "),
        "{}",
        errors[0].1
    );
    assert!(errors[0].1.contains("`user.password`"), "{}", errors[0].1);

    let bomb = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
    let (status, problem) = admin.put(&app, &path, template("Hi", bomb, "ok")).await;
    let errors = field_errors(status, &problem);
    assert_eq!(errors[0].0, "html");
    assert!(errors[0].1.contains("fuel"), "{}", errors[0].1);

    // Every part is named, and a subject problem is reported beside a text problem.
    let (status, problem) = admin
        .put(&app, &path, template("{{ nope }}", "<p>ok</p>", "{% if %}"))
        .await;
    let fields: Vec<String> = field_errors(status, &problem)
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(fields, ["subject", "text"]);

    let (status, problem) = admin
        .put(
            &app,
            &path,
            json!({"subject": "Hi", "html": 3, "colour": "red"}),
        )
        .await;
    let fields: Vec<String> = field_errors(status, &problem)
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    for field in ["html", "text", "colour"] {
        assert!(fields.iter().any(|f| f == field), "{field}: {fields:?}");
    }

    let (status, problem) = admin
        .put(
            &app,
            &format!("{INVITATION}?locale=klingon!"),
            template("Hi", "<p>Hi</p>", "Hi"),
        )
        .await;
    let errors = field_errors(status, &problem);
    assert_eq!(errors[0].0, "locale");

    let (status, problem) = admin
        .call(&app, Method::GET, &format!("{INVITATION}?locale=x"), None)
        .await;
    assert_eq!(field_errors(status, &problem)[0].0, "locale");

    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let (status, problem) = admin
            .call(
                &app,
                method.clone(),
                "/api/v1/email-templates/user.nope",
                Some(template("Hi", "<p>Hi</p>", "Hi")),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(problem["type"], "urn:tenantdesk:problem:not-found");
    }

    let shown = admin.get(&app, &format!("{INVITATION}?locale=de")).await;
    assert_eq!(shown["source"], "default", "nothing was saved");
    let list = admin.get(&app, "/api/v1/email-templates").await;
    assert!(
        list["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|e| e["overridden"] == false)
    );
}

#[tokio::test]
async fn previews_render_sample_data_and_escape_the_html_part() {
    let app = spawn_app().await;
    let admin = admin(&app, "Preview Corp").await;
    let preview = format!("{INVITATION}/preview");

    // No body: the effective template (here the shipped one) with the sample data.
    let response = app
        .http
        .post(app.url(&preview))
        .header(reqwest::header::HOST, admin.tenant.host())
        .bearer_auth(&admin.token)
        .send()
        .await
        .expect("preview");
    assert_eq!(response.status(), StatusCode::OK);
    let shipped: Value = response.json().await.expect("json");
    assert_eq!(shipped["subject"], "You're invited to Acme Support");
    assert!(
        shipped["html"]
            .as_str()
            .expect("html")
            .contains("Dana Whitfield")
    );
    assert!(!shipped["text"].as_str().expect("text").contains("{{"));

    // Unsaved edits: literal text renders as written, values are escaped in the HTML part only.
    let (status, rendered) = admin
        .call(
            &app,
            Method::POST,
            &preview,
            Some(template(
                "Plain subject for {{ user.name }}",
                "<p>Literal text</p>{{ \"<b>\" }}",
                "Text {{ \"<b>\" }}",
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rendered}");
    assert_eq!(rendered["subject"], "Plain subject for Dana Whitfield");
    assert_eq!(rendered["html"], "<p>Literal text</p>&lt;b&gt;");
    assert_eq!(rendered["text"], "Text <b>");

    // A part left out comes from the effective template: the saved override.
    let (status, _) = admin
        .put(
            &app,
            INVITATION,
            template("Saved {{ tenant.name }}", "<p>Saved</p>", "Saved"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, rendered) = admin
        .call(
            &app,
            Method::POST,
            &preview,
            Some(json!({"html": "<p>{{ expires_in_hours }}</p>"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rendered}");
    assert_eq!(rendered["subject"], "Saved Acme Support");
    assert_eq!(rendered["html"], "<p>72</p>");
    assert_eq!(rendered["text"], "Saved");

    let (status, problem) = admin
        .call(
            &app,
            Method::POST,
            &preview,
            Some(json!({"html": "<p>\n{{ user.secret }}</p>"})),
        )
        .await;
    let errors = field_errors(status, &problem);
    assert_eq!(errors[0].0, "html");
    assert!(
        errors[0].1.starts_with("line 2, column 4: "),
        "{}",
        errors[0].1
    );
    assert!(errors[0].1.contains("`user.secret`"), "{}", errors[0].1);

    let (status, problem) = admin
        .call(
            &app,
            Method::POST,
            "/api/v1/email-templates/nope/preview",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
}

#[tokio::test]
async fn a_test_send_queues_one_rendered_mail_to_the_given_address() {
    let app = spawn_app().await;
    let admin = admin(&app, "Test Send Co").await;
    let (status, _) = admin
        .put(
            &app,
            INVITATION,
            template(
                "Test for {{ user.name }} at {{ tenant.name }}",
                "<p>Hi {{ user.name }}</p>",
                "Hi {{ user.name }}",
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, queued) = admin
        .call(
            &app,
            Method::POST,
            &format!("{INVITATION}/test"),
            Some(json!({"to": "admin@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["queued"], true);
    let id: Uuid = queued["id"].as_str().expect("id").parse().expect("uuid");

    let outbox = admin.outbox(&app).await;
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    let mail = &outbox[0];
    assert_eq!(mail.id, id);
    assert_eq!(mail.event, "user.invitation");
    assert_eq!(mail.recipient, "admin@example.com");
    // Sample data for the event's own variables, the tenant's real name for tenant.*.
    assert_eq!(mail.subject, "Test for Dana Whitfield at Test Send Co");

    for (body, field) in [
        (json!({"to": "not an address"}), "to"),
        (json!({}), "to"),
        (json!({"to": "a@example.com", "cc": "b@example.com"}), "cc"),
    ] {
        let (status, problem) = admin
            .call(
                &app,
                Method::POST,
                &format!("{INVITATION}/test"),
                Some(body),
            )
            .await;
        let errors = field_errors(status, &problem);
        assert!(errors.iter().any(|(f, _)| f == field), "{errors:?}");
    }
    assert_eq!(admin.outbox(&app).await.len(), 1, "refusals queue nothing");

    // Another locale without an override of its own sends the default locale's override.
    let (status, _) = admin
        .call(
            &app,
            Method::POST,
            &format!("{INVITATION}/test?locale=pt-BR"),
            Some(json!({"to": "admin@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let outbox = admin.outbox(&app).await;
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[0].subject, "Test for Dana Whitfield at Test Send Co");
}

#[tokio::test]
async fn a_stored_override_that_fails_to_render_never_blocks_mail() {
    let app = spawn_app().await;
    let admin = admin(&app, "Fallback Co").await;
    let en = domain::Locale::parse("en").expect("locale");

    // Stored without validation (as if saved by an older, laxer version).
    let mut tx = app
        .owner
        .begin_tenant(admin.tenant.tenant.id)
        .await
        .expect("tx");
    store::email_templates::put(
        &mut tx,
        &store::email_templates::NewOverride {
            event: "user.invitation",
            locale: &en,
            subject: "Broken {{ tenant.name }}",
            html: "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            text: "Broken",
        },
    )
    .await
    .expect("put");
    tx.commit().await.expect("commit");

    // The admin testing it is told what is wrong.
    let (status, problem) = admin
        .call(
            &app,
            Method::POST,
            &format!("{INVITATION}/test"),
            Some(json!({"to": "admin@example.com"})),
        )
        .await;
    let errors = field_errors(status, &problem);
    assert_eq!(errors[0].0, "html");
    assert!(errors[0].1.contains("fuel"), "{}", errors[0].1);
    assert!(admin.outbox(&app).await.is_empty());

    // Real mail goes out with the shipped default instead.
    let mut tx = app
        .state
        .store
        .begin_tenant(admin.tenant.tenant.id)
        .await
        .expect("tx");
    let settings = store::settings::load(&mut tx).await.expect("settings");
    let portal_url = web::mailer::portal_url(&app.state.config, &admin.tenant.tenant);
    let sender = web::mailer::Sender {
        settings: &settings,
        platform_from: &app.state.config.mail_from,
        portal_url: &portal_url,
    };
    let recipient = domain::EmailAddress::parse("dana@example.com").expect("address");
    let id = web::mailer::queue(
        &mut tx,
        &sender,
        web::mailer::Mail {
            event: web::mailer::Event::UserInvitation,
            locale: None,
            recipient: &recipient,
            context: json!({
                "user": {"name": "Dana", "email": "dana@example.com"},
                "invitation_url": "http://example.com/i/1",
                "expires_in_hours": 72,
            }),
        },
    )
    .await
    .expect("queued despite the broken override");
    tx.commit().await.expect("commit");

    let outbox = admin.outbox(&app).await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].id, id);
    assert_eq!(outbox[0].subject, "You're invited to Fallback Co");
    assert_eq!(outbox[0].recipient, "dana@example.com");
}

/// A transaction of the owner role with the tenant set, for what the API does not show. The owner
/// may be a superuser, whom row-level security does not restrict: queries name the tenant too.
async fn owner_tx(
    pool: &sqlx::PgPool,
    tenant: &TestTenant,
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(tenant.tenant.id.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .expect("set tenant");
    tx
}

/// (from_name, from_address, reply_to, message_id) of a queued message.
type Envelope = (String, Option<String>, Option<String>, String);

#[tokio::test]
async fn mail_comes_from_the_support_address_only_once_verified() {
    let app = spawn_app().await;
    let admin = admin(&app, "Sender Co").await;
    let owner = sqlx::PgPool::connect(&tenantdesk_tests::database().owner_url)
        .await
        .expect("owner pool");
    let send_and_read = async |admin: &Admin| -> Envelope {
        let (status, queued) = admin
            .call(
                &app,
                Method::POST,
                &format!("{INVITATION}/test"),
                Some(json!({"to": "admin@example.com"})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
        let id: Uuid = queued["id"].as_str().expect("id").parse().expect("uuid");
        let mut tx = owner_tx(&owner, &admin.tenant).await;
        sqlx::query_as(
            "select from_name, from_address, reply_to, message_id from outbound_emails
              where tenant_id = $1 and id = $2",
        )
        .bind(admin.tenant.tenant.id.as_uuid())
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .expect("the queued row")
    };

    // No support address: From the platform's address (null here), no Reply-To.
    let (from_name, from, reply_to, message_id) = send_and_read(&admin).await;
    assert_eq!(from_name, "Sender Co");
    assert_eq!((from, reply_to), (None, None));
    let platform_domain = tenantdesk_tests::MAIL_FROM
        .rsplit_once('@')
        .expect("address")
        .1;
    assert!(
        message_id.ends_with(&format!("@{platform_domain}>")),
        "{message_id}"
    );

    // An unverified support address: Reply-To only.
    let (status, body) = admin
        .call(
            &app,
            Method::PATCH,
            "/api/v1/settings",
            Some(json!({"support_email": "help@sender.example"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, from, reply_to, _) = send_and_read(&admin).await;
    assert_eq!(from, None);
    assert_eq!(reply_to.as_deref(), Some("help@sender.example"));

    // Verified (the verification flow is another capability; set it directly): From too.
    let mut tx = owner_tx(&owner, &admin.tenant).await;
    sqlx::query(
        "update tenant_settings set support_email_verified_at = now() where tenant_id = $1",
    )
    .bind(admin.tenant.tenant.id.as_uuid())
    .execute(&mut *tx)
    .await
    .expect("verify");
    tx.commit().await.expect("commit");
    let (_, from, reply_to, _) = send_and_read(&admin).await;
    assert_eq!(from.as_deref(), Some("help@sender.example"));
    assert_eq!(reply_to.as_deref(), Some("help@sender.example"));
}

#[tokio::test]
async fn templates_never_cross_tenants() {
    let app = spawn_app().await;
    let a = admin(&app, "Tenant A Templates").await;
    let b = admin(&app, "Tenant B Templates").await;

    let (status, _) = a
        .put(
            &app,
            INVITATION,
            template("Secret of A {{ tenant.name }}", "<p>A</p>", "A"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // A's token on B's host is nobody there, for every endpoint.
    let b_host = b.tenant.host();
    for (method, path, body) in [
        (Method::GET, "/api/v1/email-templates".to_owned(), None),
        (Method::GET, INVITATION.to_owned(), None),
        (
            Method::PUT,
            INVITATION.to_owned(),
            Some(template("Hi", "<p>Hi</p>", "Hi")),
        ),
        (Method::DELETE, INVITATION.to_owned(), None),
        (Method::POST, format!("{INVITATION}/preview"), None),
        (
            Method::POST,
            format!("{INVITATION}/test"),
            Some(json!({"to": "admin@example.com"})),
        ),
    ] {
        let (status, problem) = call(&app, &b_host, &a.token, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(problem["type"], "urn:tenantdesk:problem:unauthorized");
        assert!(!problem.to_string().contains("Secret of A"));
    }

    // B sees only its own (none): the default, no overrides, nothing to reset.
    let shown = b.get(&app, INVITATION).await;
    assert_eq!(shown["source"], "default");
    assert!(!shown.to_string().contains("Secret of A"));
    let list = b.get(&app, "/api/v1/email-templates").await;
    assert!(!list.to_string().contains("\"overridden\":true"), "{list}");
    let (status, _) = b.call(&app, Method::DELETE, INVITATION, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, rendered) = b
        .call(&app, Method::POST, &format!("{INVITATION}/preview"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!rendered.to_string().contains("Secret of A"));
    let (status, _) = b
        .call(
            &app,
            Method::POST,
            &format!("{INVITATION}/test"),
            Some(json!({"to": "admin@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let outbox = b.outbox(&app).await;
    assert_eq!(outbox.len(), 1);
    assert!(
        outbox[0]
            .subject
            .starts_with("You're invited to Tenant B Templates")
    );
    assert!(
        a.outbox(&app).await.is_empty(),
        "B's test mail is B's alone"
    );

    // A's override is untouched by all of that.
    let still = a.get(&app, INVITATION).await;
    assert_eq!(still["source"], "override");
}
