//! The tenant admin's pages: who may open them, the settings form (one parser with the API,
//! optimistic concurrency, CSRF, the portal showing a change on the next request), the email
//! template editor, the outgoing mail log with retry, isolation between tenants, and the same
//! flows driven by Chromium.

use std::time::Duration;

use domain::BuiltinRole;
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use serde_json::Value;
use store::outbox::EmailSummary;
use tenantdesk_tests::{
    AppOptions, MAIL_WORKERS, Page, TestApp, TestTenant, Visitor, browser, spawn_app,
    spawn_app_with,
};
use uuid::Uuid;
use web::mailer::Event;

const PASSWORD: &str = "orbit maple cascade violin";

/// Every page under /admin a GET opens.
const PAGES: [&str; 4] = [
    "/admin/settings",
    "/admin/email-templates",
    "/admin/email-templates/user.invitation",
    "/admin/mail",
];

/// A cache TTL of an hour: only the invalidation on save can explain a change seen at once.
fn long_cache() -> AppOptions {
    AppOptions {
        tenant_cache_ttl: Duration::from_secs(3600),
        ..AppOptions::default()
    }
}

/// An Admin of `tenant`, signed in.
async fn signed_in_admin<'a>(app: &'a TestApp, tenant: &TestTenant, email: &str) -> Visitor<'a> {
    app.create_agent(&tenant.tenant, BuiltinRole::Admin, email, PASSWORD)
        .await;
    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(email, PASSWORD).await;
    visitor
}

/// The `value` of the form field `name` on a page (the first one).
fn field_value(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\"");
    let at = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} on the page"));
    let rest = &body[at..];
    let tag_end = rest.find('>').expect("end of the tag");
    let value = rest[..tag_end]
        .split_once("value=\"")
        .unwrap_or_else(|| panic!("field {name} has no value"))
        .1;
    value[..value.find('"').expect("end of the value")].to_owned()
}

async fn stored_settings(app: &TestApp, tenant: &TestTenant) -> store::settings::WorkspaceSettings {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tenant tx");
    let settings = store::settings::load(&mut tx).await.expect("settings");
    tx.commit().await.expect("commit");
    settings
}

async fn outbox(app: &TestApp, tenant: &TestTenant) -> Vec<EmailSummary> {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tenant tx");
    let rows = store::outbox::recent(&mut tx, 50).await.expect("recent");
    tx.commit().await.expect("commit");
    rows
}

/// A complete settings form as the page sends it, with `changes` replacing the defaults.
fn settings_form<'a>(version: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("version", version),
        ("display_name", "Form Corp"),
        ("primary_colour", "#1d4ed8"),
        ("accent_colour", "#1e3a8a"),
        ("logo_url", ""),
        ("welcome_text", "We answer within a day."),
        ("support_email", ""),
        ("locale", "en"),
        ("timezone", "UTC"),
        ("registration_method", "public"),
    ];
    for (name, value) in changes {
        match form.iter_mut().find(|(field, _)| field == name) {
            Some(field) => field.1 = value,
            None => form.push((name, value)),
        }
    }
    form
}

fn assert_redirects_to_login(page: &Page, what: &str) {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{what}: {}", page.body);
    assert!(
        page.location
            .as_deref()
            .is_some_and(|l| l.starts_with("/agent/login?next=")),
        "{what}: {:?}",
        page.location
    );
}

#[tokio::test]
async fn only_agents_allowed_to_configure_the_workspace_open_the_admin_pages() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Door Corp").await;

    let mut anonymous = app.visitor(&tenant.host());
    for path in PAGES {
        let page = anonymous.get(path).await;
        assert_redirects_to_login(&page, path);
        assert!(
            page.location
                .as_deref()
                .is_some_and(|l| l.contains("admin")),
            "the sign-in page comes back here: {:?}",
            page.location
        );
    }
    let page = anonymous
        .post_form("/admin/settings", &settings_form("1", &[]))
        .await;
    assert_redirects_to_login(&page, "POST /admin/settings");

    for (role, email) in [
        (BuiltinRole::Manager, "manager@door.example"),
        (BuiltinRole::Agent, "agent@door.example"),
    ] {
        app.create_agent(&tenant.tenant, role, email, PASSWORD)
            .await;
        let mut visitor = app.visitor(&tenant.host());
        visitor.sign_in_agent(email, PASSWORD).await;
        for path in PAGES {
            let page = visitor.get(path).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{role:?} {path}");
            assert!(page.body.contains("Not allowed"), "{}", page.body);
        }
        let page = visitor
            .post_form(
                "/admin/settings",
                &settings_form("1", &[("display_name", "Taken Over")]),
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{role:?} saving");
        let page = visitor
            .post_form(
                "/admin/email-templates/user.invitation/save",
                &[
                    ("locale", "en"),
                    ("subject", "x"),
                    ("html", "x"),
                    ("text", "x"),
                ],
            )
            .await;
        assert_eq!(
            page.status,
            StatusCode::FORBIDDEN,
            "{role:?} saving a template"
        );
        let home = visitor.get("/agent").await;
        assert!(
            !home.body.contains("/admin/settings"),
            "{role:?} is not offered the admin pages"
        );
    }
    assert_eq!(
        stored_settings(&app, &tenant).await.display_name,
        "Door Corp"
    );
    assert!(outbox(&app, &tenant).await.is_empty());

    let mut admin = signed_in_admin(&app, &tenant, "admin@door.example").await;
    for path in PAGES {
        let page = admin.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "Admin {path}: {}", page.body);
        assert!(page.body.contains("Door Corp"), "{path} wears the brand");
        assert!(
            page.body.contains("href=\"/agent\""),
            "{path} links back to /agent"
        );
    }
    let page = admin.get("/admin/email-templates/user.nope").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn saved_settings_show_on_the_portal_at_the_next_request() {
    let app = spawn_app_with(long_cache()).await;
    let tenant = app.create_tenant("Paint Corp").await;
    let mut admin = signed_in_admin(&app, &tenant, "admin@paint.example").await;
    // Warm the portal's settings cache.
    let portal = admin.get("/").await;
    assert!(portal.body.contains(&tenant.primary_colour.to_string()));

    let form = admin.get("/admin/settings").await;
    assert_eq!(form.status, StatusCode::OK);
    for field in [
        "display_name",
        "primary_colour",
        "primary_colour_picker",
        "accent_colour",
        "logo_url",
        "welcome_text",
        "support_email",
        "locale",
        "timezone",
        "registration_required",
        "registration_method",
    ] {
        assert!(
            form.body.contains(&format!("name=\"{field}\"")),
            "the form has {field}"
        );
    }
    assert!(form.body.contains("type=\"color\""));
    assert!(form.body.contains("id=\"brand-preview\""));
    assert!(
        form.body
            .contains(&format!("--preview-primary: {}", tenant.primary_colour))
    );
    assert_eq!(
        form.body.matches("data-method=").count(),
        6,
        "the six registration modes are explained"
    );
    assert_eq!(
        field_value(&form.body, "primary_colour"),
        tenant.primary_colour.to_string()
    );
    let version = field_value(&form.body, "version");

    let page = admin
        .post_form(
            "/admin/settings",
            &settings_form(
                &version,
                &[
                    ("display_name", "Paint Corp Renamed"),
                    ("primary_colour", "#0B7A75"),
                    ("primary_colour_initial", &tenant.primary_colour.to_string()),
                    ("accent_colour", "#fde68a"),
                    ("logo_url", "https://cdn.paint.example/logo.svg"),
                    ("support_email", "help@paint.example"),
                    ("locale", "de_de"),
                    ("timezone", "Europe/Berlin"),
                    ("registration_required", "on"),
                    ("registration_method", "private"),
                ],
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/admin/settings?saved=1"));

    let portal = admin.get("/").await;
    assert!(
        portal.body.contains("--brand-primary: #0b7a75"),
        "the portal shows the new colour at once"
    );
    assert!(portal.body.contains("Paint Corp Renamed"));

    let saved = stored_settings(&app, &tenant).await;
    assert_eq!(saved.primary_colour.to_string(), "#0b7a75");
    assert_eq!(saved.locale.as_str(), "de-DE");
    assert!(saved.registration_required);
    assert_eq!(saved.registration_method.as_str(), "private");
    assert_eq!(
        saved.support_email.as_ref().map(|e| e.as_str()),
        Some("help@paint.example")
    );

    let shown = admin.get("/admin/settings?saved=1").await;
    assert!(shown.body.contains("Settings saved."));
    assert_eq!(
        field_value(&shown.body, "version"),
        saved.version.to_string()
    );
    assert!(
        shown.body.contains("id=\"accent_colour-warning\""),
        "a pale accent earns a contrast warning beside its field"
    );
    assert!(
        !shown.body.contains("id=\"primary_colour-warning\""),
        "a dark primary does not"
    );
    assert!(
        shown
            .body
            .contains("aria-describedby=\"accent_colour-hint accent_colour-warning\"")
    );

    // Without scripts, a colour changed only in the picker wins over the unchanged text.
    let version = saved.version.to_string();
    let page = admin
        .post_form(
            "/admin/settings",
            &settings_form(
                &version,
                &[
                    ("primary_colour", "#0b7a75"),
                    ("primary_colour_initial", "#0b7a75"),
                    ("primary_colour_picker", "#7c2d12"),
                ],
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(
        admin
            .get("/")
            .await
            .body
            .contains("--brand-primary: #7c2d12")
    );
    let saved = stored_settings(&app, &tenant).await;
    assert!(!saved.registration_required, "an unchecked box is false");
    assert_eq!(saved.support_email, None, "an emptied field clears");
}

#[tokio::test]
async fn invalid_settings_come_back_with_messages_and_nothing_is_saved() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Typo Corp").await;
    let mut admin = signed_in_admin(&app, &tenant, "admin@typo.example").await;
    let before = stored_settings(&app, &tenant).await;
    let version = before.version.to_string();

    let page = admin
        .post_form(
            "/admin/settings",
            &settings_form(
                &version,
                &[
                    ("display_name", "Typo Corp Changed"),
                    ("primary_colour", "blue"),
                    ("timezone", "Mars/Olympus"),
                    ("logo_url", "ftp://files.typo.example/logo.png"),
                    ("support_email", "not an address"),
                ],
            ),
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("Nothing was saved"));
    for (field, words) in [
        ("primary_colour", "#rrggbb"),
        ("timezone", "IANA time zone"),
        ("logo_url", "https://"),
        ("support_email", "email address"),
    ] {
        let marker = format!("<p class=\"field-error\" id=\"{field}-error\">");
        let at = page
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("a message beside {field}"));
        assert!(
            page.body[at..]
                .split("</p>")
                .next()
                .is_some_and(|m| m.contains(words)),
            "{field}: {}",
            &page.body[at..at + 200]
        );
        assert!(
            page.body
                .contains(&format!("{field}-error\" aria-invalid=\"true\"")),
            "{field} names its message in aria-describedby"
        );
    }
    assert!(!page.body.contains("id=\"display_name-error\""));
    for kept in [
        "value=\"blue\"",
        "value=\"Mars/Olympus\"",
        "value=\"ftp://files.typo.example/logo.png\"",
        "value=\"not an address\"",
        "value=\"Typo Corp Changed\"",
    ] {
        assert!(page.body.contains(kept), "the submitted {kept} is kept");
    }

    let after = stored_settings(&app, &tenant).await;
    assert_eq!(after.version, before.version, "nothing was saved");
    assert_eq!(after.display_name, "Typo Corp");
    assert_eq!(after.timezone, before.timezone);
}

#[tokio::test]
async fn a_stale_form_is_refused_with_the_current_values() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Race Corp").await;
    let mut first = signed_in_admin(&app, &tenant, "first@race.example").await;
    let mut second = signed_in_admin(&app, &tenant, "second@race.example").await;
    let version = field_value(&first.get("/admin/settings").await.body, "version");
    let same = field_value(&second.get("/admin/settings").await.body, "version");
    assert_eq!(version, same);

    let page = second
        .post_form(
            "/admin/settings",
            &settings_form(&same, &[("display_name", "Race Corp by Second")]),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);

    let page = first
        .post_form(
            "/admin/settings",
            &settings_form(&version, &[("display_name", "Race Corp by First")]),
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.body);
    assert!(
        page.body
            .contains("Someone else saved the settings meanwhile; review the current values")
    );
    assert_eq!(
        field_value(&page.body, "display_name"),
        "Race Corp by Second",
        "the form shows the current values"
    );
    assert!(
        page.body.contains("Race Corp by First"),
        "and what this admin had entered beside the field"
    );
    let current = stored_settings(&app, &tenant).await;
    assert_eq!(current.display_name, "Race Corp by Second");
    assert_eq!(
        field_value(&page.body, "version"),
        current.version.to_string(),
        "saving the refreshed form works"
    );
}

#[tokio::test]
async fn settings_forms_need_the_token_and_this_origin() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Forgery Corp").await;
    let mut admin = signed_in_admin(&app, &tenant, "admin@forgery.example").await;
    let before = stored_settings(&app, &tenant).await;
    let version = before.version.to_string();
    let origin = format!("http://{}", tenant.host());
    let form = settings_form(&version, &[("display_name", "Forged")]);

    let page = admin
        .post_raw("/admin/settings", &form, Some(&origin))
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "no token");

    let csrf = admin.csrf();
    let mut with_token = vec![("csrf", csrf.as_str())];
    with_token.extend_from_slice(&form);
    let page = admin
        .post_raw("/admin/settings", &with_token, Some("http://evil.example"))
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "a foreign origin");
    let page = admin.post_raw("/admin/settings", &with_token, None).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "no origin");
    let forged = "A".repeat(43);
    let mut wrong = vec![("csrf", forged.as_str())];
    wrong.extend_from_slice(&form);
    let page = admin
        .post_raw("/admin/settings", &wrong, Some(&origin))
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "another token");

    let after = stored_settings(&app, &tenant).await;
    assert_eq!(after.version, before.version);
    assert_eq!(after.display_name, "Forgery Corp");
}

/// `raw` as the pages write text into HTML (askama's escaping).
fn escaped(raw: &str) -> String {
    raw.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

const EDITOR: &str = "/admin/email-templates/user.invitation";

async fn api_template(app: &TestApp, tenant: &TestTenant, token: &str, locale: &str) -> Value {
    let response = app
        .get(
            &tenant.host(),
            &format!("/api/v1/email-templates/user.invitation?locale={locale}"),
        )
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

#[tokio::test]
async fn templates_are_saved_checked_previewed_tested_and_reset_through_the_pages() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Letter Corp").await;
    let token = app.issue_token(&tenant.tenant, "check").await;
    let mut admin = signed_in_admin(&app, &tenant, "admin@letter.example").await;

    let list = admin.get("/admin/email-templates").await;
    assert_eq!(list.status, StatusCode::OK);
    for event in Event::ALL {
        assert!(
            list.body
                .contains(&format!("href=\"/admin/email-templates/{}\"", event.key())),
            "{} is listed with a link",
            event.key()
        );
        assert!(list.body.contains(event.description()));
    }

    let editor = admin.get(EDITOR).await;
    assert!(
        editor
            .body
            .contains("The default template shipped with Tenantdesk")
    );
    assert!(
        editor
            .body
            .contains(&escaped("You're invited to {{ tenant.name }}"))
    );
    for variable in Event::UserInvitation.variables() {
        assert!(editor.body.contains(variable.path), "{}", variable.path);
        assert!(editor.body.contains(&escaped(variable.description)));
    }

    // Save an override for German.
    let subject = "Einladung zu {{ tenant.name }} für {{ user.name }}";
    let html =
        "<p>Hallo {{ user.name }},</p>\r\n<p><a href=\"{{ invitation_url }}\">Annehmen</a></p>";
    let text = "Hallo {{ user.name }},\r\n{{ invitation_url }}";
    let page = admin
        .post_form(
            &format!("{EDITOR}/save"),
            &[
                ("locale", "de"),
                ("subject", subject),
                ("html", html),
                ("text", text),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location.expect("a redirect");
    assert!(
        location.contains("locale=de") && location.contains("saved=1"),
        "{location}"
    );
    let saved = api_template(&app, &tenant, &token, "de").await;
    assert_eq!(saved["source"], "override");
    assert_eq!(saved["subject"], subject);
    assert_eq!(
        saved["html"],
        html.replace("\r\n", "\n"),
        "stored with plain newlines"
    );
    let shown = admin.get(&location).await;
    assert!(shown.body.contains("Template saved for de."));
    assert!(shown.body.contains("Your override for de"));
    let list = admin.get("/admin/email-templates").await;
    assert!(
        list.body.contains("<td>de</td>"),
        "the list names the override's locale"
    );

    // A syntax error on line 3 of the HTML part: shown beside it, nothing saved.
    let broken = "<p>\n  {% if user.name %}\n  {{ user.name }</p>";
    let page = admin
        .post_form(
            &format!("{EDITOR}/save"),
            &[
                ("locale", "de"),
                ("subject", "Kaputt"),
                ("html", broken),
                ("text", "ok"),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    let at = page
        .body
        .find("id=\"html-error\"")
        .expect("a message beside the HTML part");
    assert!(
        page.body[at..].contains("line 3, column"),
        "{}",
        &page.body[at..at + 300]
    );
    assert!(page.body.contains("aria-describedby=\"html-error\""));
    assert!(
        page.body.contains(&escaped(broken)),
        "the submitted text is kept"
    );
    assert!(!page.body.contains("id=\"subject-error\""));
    assert_eq!(
        api_template(&app, &tenant, &token, "de").await["subject"],
        subject
    );

    // Preview renders the unsaved text with sample data.
    let page = admin
        .post_form(
            &format!("{EDITOR}/preview"),
            &[
                ("locale", "de"),
                ("subject", "Vorschau für {{ user.name }}"),
                (
                    "html",
                    "<p>Hi <b>{{ user.name }}</b> <script>alert(1)</script></p>",
                ),
                ("text", "Text für {{ user.name }}"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Vorschau für Dana Whitfield"));
    let srcdoc = escaped("<p>Hi <b>Dana Whitfield</b> <script>alert(1)</script></p>");
    assert!(
        page.body.contains(&format!(
            "<iframe class=\"preview-html\" sandbox srcdoc=\"{srcdoc}\""
        )),
        "the HTML part is shown in a sandboxed frame"
    );
    assert!(
        page.body.contains(
            "<pre class=\"preview-text\" id=\"preview-text\">Text für Dana Whitfield</pre>"
        )
    );
    assert_eq!(
        api_template(&app, &tenant, &token, "de").await["subject"],
        subject,
        "a preview saves nothing"
    );
    let page = admin
        .post_form(
            &format!("{EDITOR}/preview"),
            &[
                ("locale", "de"),
                ("subject", "Hi"),
                ("html", "{{ user.password }}"),
                ("text", "x"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("line 1, column"));

    // A test of the saved German template goes to the admin's own address.
    let page = admin
        .post_form(&format!("{EDITOR}/test"), &[("locale", "de")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location.expect("a redirect");
    let shown = admin.get(&location).await;
    assert!(
        shown
            .body
            .contains("Test mail queued to admin@letter.example."),
        "{}",
        shown.body
    );
    let queued = outbox(&app, &tenant).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].recipient, "admin@letter.example");
    assert_eq!(queued[0].event, "user.invitation");
    assert_eq!(
        queued[0].subject,
        "Einladung zu Letter Corp für Dana Whitfield"
    );

    // Reset: the German override is gone, the default applies again.
    let page = admin
        .post_form(&format!("{EDITOR}/reset"), &[("locale", "de")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let back = api_template(&app, &tenant, &token, "de").await;
    assert_eq!(back["source"], "default");
    let shown = admin.get(&page.location.expect("a redirect")).await;
    assert!(
        shown
            .body
            .contains("The default template shipped with Tenantdesk")
    );
    assert!(
        !shown.body.contains("Reset to default"),
        "nothing left to reset"
    );

    let page = admin
        .post_form("/admin/email-templates/user.nope/save", &[("subject", "x")])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = admin.get(&format!("{EDITOR}?locale=klingon!")).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
}

/// Marks a message dead as the worker would after giving up (as the owner, naming the tenant).
async fn make_dead(tenant: &TestTenant, id: Uuid) {
    let owner = sqlx::PgPool::connect(&tenantdesk_tests::database().owner_url)
        .await
        .expect("owner pool");
    let mut tx = owner.begin().await.expect("tx");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(tenant.tenant.id.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .expect("set tenant");
    let updated = sqlx::query(
        "update outbound_emails
            set status = 'dead', attempts = 3, last_error = '550 mailbox unavailable'
          where tenant_id = $1 and id = $2",
    )
    .bind(tenant.tenant.id.as_uuid())
    .bind(id)
    .execute(&mut *tx)
    .await
    .expect("update")
    .rows_affected();
    tx.commit().await.expect("commit");
    owner.close().await;
    assert_eq!(updated, 1);
}

#[tokio::test]
async fn the_mail_page_lists_mail_and_retries_dead_mail_of_this_tenant_only() {
    // No delivery worker runs meanwhile, so the mail stays as this test leaves it.
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Postbox Corp").await;
    let other = app.create_tenant("Other Postbox").await;
    let mut admin = signed_in_admin(&app, &tenant, "admin@postbox.example").await;
    let mut other_admin = signed_in_admin(&app, &other, "admin@other-postbox.example").await;

    let page = admin.get("/admin/mail").await;
    assert!(page.body.contains("No mail has been sent yet."));

    for visitor in [&mut admin, &mut other_admin] {
        let page = visitor
            .post_form("/admin/email-templates/ticket.closed/test", &[])
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    }
    let mine = outbox(&app, &tenant).await;
    assert_eq!(mine.len(), 1);
    let theirs = outbox(&app, &other).await;
    assert_eq!(theirs.len(), 1);

    let page = admin.get("/admin/mail").await;
    assert!(page.body.contains("admin@postbox.example"));
    assert!(page.body.contains("ticket.closed"));
    assert!(page.body.contains(&escaped(&mine[0].subject)));
    assert!(page.body.contains("Queued"));
    assert!(
        !page.body.contains("admin@other-postbox.example"),
        "only this tenant's mail"
    );
    assert!(!page.body.contains("/retry"), "nothing to retry yet");

    make_dead(&tenant, mine[0].id).await;
    make_dead(&other, theirs[0].id).await;
    let page = admin.get("/admin/mail").await;
    assert!(page.body.contains("550 mailbox unavailable"));
    let retry = format!("/admin/mail/{}/retry", mine[0].id);
    assert!(page.body.contains(&format!("action=\"{retry}\"")));

    let page = admin.post_form(&retry, &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/admin/mail?retried=1"));
    let shown = admin.get("/admin/mail?retried=1").await;
    assert!(shown.body.contains("The mail is queued again"));
    let mine = outbox(&app, &tenant).await;
    assert_eq!(mine[0].status, "queued");
    assert_eq!(mine[0].attempts, 0);

    // Another tenant's id is a 404 and changes nothing there.
    let page = admin
        .post_form(&format!("/admin/mail/{}/retry", theirs[0].id), &[])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(outbox(&app, &other).await[0].status, "dead");
    for id in [Uuid::now_v7().to_string(), "not-an-id".to_owned()] {
        let page = admin
            .post_form(&format!("/admin/mail/{id}/retry"), &[])
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{id}");
    }
    let page = admin
        .post_raw(&retry, &[], Some(&format!("http://{}", tenant.host())))
        .await;
    assert_eq!(
        page.status,
        StatusCode::FORBIDDEN,
        "retry needs the CSRF token"
    );

    // Leave nothing due for other tests' workers.
    make_dead(&tenant, mine[0].id).await;
}

#[tokio::test]
async fn an_admin_session_of_one_tenant_is_nobody_on_another() {
    let app = spawn_app().await;
    let a = app.create_tenant("Admin A").await;
    let b = app.create_tenant("Admin B").await;
    let on_a = signed_in_admin(&app, &a, "admin@a-admin.example").await;
    let before = stored_settings(&app, &b).await;

    let mut on_b = app.visitor(&b.host());
    on_b.cookies = on_a.cookies.clone();
    for path in PAGES {
        let page = on_b.get(path).await;
        assert_redirects_to_login(&page, path);
    }
    let version = before.version.to_string();
    let page = on_b
        .post_form(
            "/admin/settings",
            &settings_form(&version, &[("display_name", "Taken by A")]),
        )
        .await;
    assert_redirects_to_login(&page, "POST on B");
    let page = on_b
        .post_form(
            "/admin/email-templates/user.invitation/save",
            &[("subject", "x"), ("html", "x"), ("text", "x")],
        )
        .await;
    assert_redirects_to_login(&page, "template on B");

    let after = stored_settings(&app, &b).await;
    assert_eq!(after.version, before.version);
    assert_eq!(after.display_name, "Admin B");
    let mut tx = app.state.store.begin_tenant(b.tenant.id).await.expect("tx");
    assert!(
        store::email_templates::list(&mut tx)
            .await
            .expect("list")
            .is_empty()
    );
    tx.commit().await.expect("commit");
}

// ---------------------------------------------------------------------------------------------
// Chromium
// ---------------------------------------------------------------------------------------------

async fn browser_sign_in(client: &Client, app: &TestApp, tenant: &TestTenant, email: &str) {
    client
        .goto(&app.browser_url(&tenant.host(), "/agent/login"))
        .await
        .expect("open the sign-in page");
    client
        .find(Locator::Id("email"))
        .await
        .expect("email field")
        .send_keys(email)
        .await
        .expect("type the email");
    client
        .find(Locator::Id("password"))
        .await
        .expect("password field")
        .send_keys(PASSWORD)
        .await
        .expect("type the password");
    client
        .find(Locator::Css(
            "form[action='/agent/login'] button[type=submit]",
        ))
        .await
        .expect("sign-in button")
        .click()
        .await
        .expect("sign in");
    client
        .wait()
        .for_element(Locator::Css(".panel-links"))
        .await
        .expect("the agent panel after signing in");
}

#[tokio::test]
async fn in_chromium_an_admin_repaints_the_portal() {
    let app = spawn_app_with(long_cache()).await;
    let tenant = app.create_tenant("Browser Paint Corp").await;
    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Admin,
        "admin@bpaint.example",
        PASSWORD,
    )
    .await;
    let client = browser::open().await;
    browser_sign_in(&client, &app, &tenant, "admin@bpaint.example").await;

    client
        .goto(&app.browser_url(&tenant.host(), "/admin/settings"))
        .await
        .expect("open the settings");
    let colour = client
        .find(Locator::Id("primary_colour"))
        .await
        .expect("the primary colour");
    colour.clear().await.expect("clear");
    colour.send_keys("#0b7a75").await.expect("type a colour");
    let previewed = client
        .execute(
            "return getComputedStyle(document.querySelector('.brand-preview-header')).backgroundColor",
            vec![],
        )
        .await
        .expect("preview style");
    client
        .find(Locator::Css(".settings-form button[type=submit]"))
        .await
        .expect("save button")
        .click()
        .await
        .expect("save");
    let notice = client
        .wait()
        .for_element(Locator::Css("p.notice"))
        .await
        .expect("a notice after saving")
        .text()
        .await
        .expect("text");
    client
        .goto(&app.browser_url(&tenant.host(), "/"))
        .await
        .expect("open the portal");
    let header = client
        .execute(
            "return getComputedStyle(document.querySelector('.site-header')).backgroundColor",
            vec![],
        )
        .await
        .expect("computed style");
    client.close().await.expect("close the browser");

    assert_eq!(notice, "Settings saved.");
    assert_eq!(
        previewed.as_str(),
        Some("rgb(11, 122, 117)"),
        "the preview follows the typed colour"
    );
    assert_eq!(header.as_str(), Some("rgb(11, 122, 117)"));
}

#[tokio::test]
async fn in_chromium_a_template_error_names_its_line() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Browser Letter Corp").await;
    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Admin,
        "admin@bletter.example",
        PASSWORD,
    )
    .await;
    let client = browser::open().await;
    browser_sign_in(&client, &app, &tenant, "admin@bletter.example").await;

    client
        .goto(&app.browser_url(&tenant.host(), EDITOR))
        .await
        .expect("open the editor");
    let html = client
        .find(Locator::Id("html"))
        .await
        .expect("the HTML part");
    html.clear().await.expect("clear");
    html.send_keys("<p>Hello</p>\n<p>\n{{ user.name }</p>\n")
        .await
        .expect("type a broken template");
    client
        .find(Locator::Css(
            ".template-form button[type=submit]:not([formaction])",
        ))
        .await
        .expect("save button")
        .click()
        .await
        .expect("save");
    let message = client
        .wait()
        .for_element(Locator::Id("html-error"))
        .await
        .expect("a message beside the HTML part")
        .text()
        .await
        .expect("text");
    client.close().await.expect("close the browser");

    assert!(message.contains("line 3, column"), "{message}");
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    assert!(
        store::email_templates::list(&mut tx)
            .await
            .expect("list")
            .is_empty()
    );
    tx.commit().await.expect("commit");
}
