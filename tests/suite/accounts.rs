//! End-user accounts and password resets: the six registration modes, registration confirmed
//! through a real SMTP server, guests becoming accounts, sign-in and profile, forgotten
//! passwords of end users and agents, answers that reveal no account, links and sessions that
//! never cross tenants, and rate limits.

use domain::{BuiltinRole, RegistrationMethod};
use reqwest::StatusCode;
use store::end_users::{EndUser, EndUserStatus};
use tenantdesk_tests::mailroom::Mailroom;
use tenantdesk_tests::{
    MAIL_WORKERS, Page, TestApp, TestTenant, Visitor, link_path, spawn_app, unique_mail_domain,
};

const PASSWORD: &str = "orbit maple cascade violin";
const NEW_PASSWORD: &str = "harbour velvet quartz meadow";
const SIGN_IN_FAILED: &str = "The email address or password is incorrect.";

async fn end_user(app: &TestApp, tenant: &TestTenant, email: &str) -> Option<EndUser> {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let user = store::end_users::by_email(&mut tx, email)
        .await
        .expect("lookup");
    tx.commit().await.expect("commit");
    user
}

/// Runs SQL as the schema owner inside one tenant's transaction (as the worker or an operator
/// would; the runtime role has no way to age a token).
async fn as_owner(tenant: &TestTenant, sql: &str) -> Vec<String> {
    let owner = sqlx::PgPool::connect(&tenantdesk_tests::database().owner_url)
        .await
        .expect("owner pool");
    let mut tx = owner.begin().await.expect("tx");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(tenant.tenant.id.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .expect("set tenant");
    let rows: Vec<String> = sqlx::query_scalar(sql)
        .bind(tenant.tenant.id.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .expect("owner query");
    tx.commit().await.expect("commit");
    owner.close().await;
    rows
}

/// The text bodies of the tenant's queued mail of `event` to `recipient`, oldest first.
async fn queued_texts(tenant: &TestTenant, event: &str, recipient: &str) -> Vec<String> {
    as_owner(
        tenant,
        &format!(
            "select text_body from outbound_emails
              where tenant_id = $1 and event = '{event}' and lower(recipient) = lower('{recipient}')
              order by created_at, id"
        ),
    )
    .await
}

/// Makes every token of the tenant expire.
async fn expire_tokens(tenant: &TestTenant) {
    as_owner(
        tenant,
        "update auth_tokens set expires_at = now() - interval '1 minute'
          where tenant_id = $1 returning id::text",
    )
    .await;
}

async fn sign_in(visitor: &mut Visitor<'_>, email: &str, password: &str) -> Page {
    visitor.get("/login").await;
    visitor
        .post_form("/login", &[("email", email), ("password", password)])
        .await
}

async fn register(visitor: &mut Visitor<'_>, name: &str, email: &str, password: &str) -> Page {
    visitor.get("/login").await;
    visitor
        .post_form(
            "/register",
            &[
                ("name", name),
                ("email", email),
                ("password", password),
                ("confirm", password),
            ],
        )
        .await
}

fn signed_in(page: &Page) -> bool {
    page.status == StatusCode::SEE_OTHER
        && page
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|c| c.starts_with("tdk_user=") && !c.starts_with("tdk_user=;"))
}

#[tokio::test]
async fn the_six_registration_modes_offer_and_refuse_what_they_should() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Modes Corp").await;
    let domain = unique_mail_domain();
    let modes = [
        (
            false,
            RegistrationMethod::Public,
            true,
            "without an account",
        ),
        (
            true,
            RegistrationMethod::Public,
            true,
            "Sign in, or create an account",
        ),
        (
            false,
            RegistrationMethod::Private,
            false,
            "without an account",
        ),
        (
            true,
            RegistrationMethod::Private,
            false,
            "invited customers",
        ),
        (
            false,
            RegistrationMethod::Disabled,
            false,
            "without an account",
        ),
        (
            true,
            RegistrationMethod::Disabled,
            false,
            "does not accept new requests",
        ),
    ];
    for (index, (required, method, open, tickets)) in modes.into_iter().enumerate() {
        let mode = format!("required={required} method={}", method.as_str());
        app.set_registration_mode(&tenant, required, method).await;
        let mut visitor = app.visitor(&tenant.host());

        let home = visitor.get("/").await;
        assert_eq!(home.status, StatusCode::OK, "{mode}");
        assert_eq!(
            home.body.contains("id=\"portal-register\""),
            open,
            "{mode}: the portal offers registration only in public modes"
        );
        assert!(
            home.body.contains("id=\"portal-sign-in\""),
            "{mode}: existing accounts can always sign in"
        );
        assert!(home.body.contains(tickets), "{mode}: {}", home.body);
        assert!(!home.body.contains("id=\"portal-profile\""), "{mode}");

        let login = visitor.get("/login").await;
        assert_eq!(login.status, StatusCode::OK, "{mode}");
        assert_eq!(login.body.contains("href=\"/register\""), open, "{mode}");

        let form = visitor.get("/register").await;
        let email = format!("mode{index}@{domain}");
        let posted = register(&mut visitor, "Mode Tester", &email, PASSWORD).await;
        if open {
            assert_eq!(form.status, StatusCode::OK, "{mode}");
            assert!(form.body.contains("Create an account"), "{mode}");
            assert_eq!(posted.status, StatusCode::SEE_OTHER, "{mode}");
            assert_eq!(posted.location.as_deref(), Some("/register?sent=1"));
            let user = end_user(&app, &tenant, &email).await.expect("registered");
            assert_eq!(user.status, EndUserStatus::Pending, "{mode}");
        } else {
            assert_eq!(form.status, StatusCode::FORBIDDEN, "{mode}");
            assert!(form.body.contains("Registration is closed"), "{mode}");
            assert!(
                form.body.contains("Modes Corp"),
                "{mode}: the refusal wears the tenant's brand"
            );
            let reason = match method {
                RegistrationMethod::Private => "invitation",
                _ => "does not offer accounts",
            };
            let reason = if (required, method) == (true, RegistrationMethod::Disabled) {
                "neither new accounts nor new requests"
            } else {
                reason
            };
            assert!(form.body.contains(reason), "{mode}: {}", form.body);
            assert_eq!(posted.status, StatusCode::FORBIDDEN, "{mode}");
            assert!(
                end_user(&app, &tenant, &email).await.is_none(),
                "{mode}: a refused registration creates nothing"
            );
        }
    }
    assert!(
        queued_texts(
            &tenant,
            "user.registration_confirm",
            &format!("mode0@{domain}")
        )
        .await
        .len()
            == 1
    );
    assert!(
        queued_texts(
            &tenant,
            "user.registration_confirm",
            &format!("mode2@{domain}")
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn registration_is_confirmed_once_through_the_mail_and_then_signs_in() {
    let _turn = MAIL_WORKERS.lock().await;
    let mail = Mailroom::start();
    let app = spawn_app().await;
    let tenant = app.create_tenant("Register Corp").await;
    let host = tenant.host();
    let email = format!("dana@{}", unique_mail_domain());
    let mut visitor = app.visitor(&host);

    let weak = register(&mut visitor, "Dana Whitfield", &email, "password1").await;
    assert_eq!(weak.status, StatusCode::OK, "a weak password is refused");
    assert!(weak.body.contains("The password"), "{}", weak.body);
    assert!(
        weak.body.contains("value=\"Dana Whitfield\""),
        "values are kept"
    );
    let bad_email = register(&mut visitor, "Dana", "not-an-address", PASSWORD).await;
    assert!(bad_email.body.contains("Enter an email address"));
    assert!(end_user(&app, &tenant, &email).await.is_none());

    let sent = register(&mut visitor, "Dana Whitfield", &email, PASSWORD).await;
    assert_eq!(sent.location.as_deref(), Some("/register?sent=1"));
    assert!(
        visitor
            .get("/register?sent=1")
            .await
            .body
            .contains("Check your mail")
    );
    let pending = sign_in(&mut app.visitor(&host), &email, PASSWORD).await;
    assert_eq!(
        pending.status,
        StatusCode::OK,
        "pending accounts cannot sign in"
    );
    assert!(pending.body.contains(SIGN_IN_FAILED));

    let message = mail
        .received(&app, &email, 1, "Confirm your email address")
        .await
        .remove(0);
    assert!(
        message
            .header("From")
            .is_some_and(|from| from.contains("Register Corp"))
    );
    let link = link_path(&message.text, &host, "/register/confirm/");
    let form = visitor.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(&email), "{}", form.body);
    let wrong = visitor
        .post_form(&link, &[("password", "not what I chose at all")])
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(wrong.body.contains("not the password you chose"));
    assert_eq!(
        end_user(&app, &tenant, &email).await.expect("user").status,
        EndUserStatus::Pending,
        "a wrong password confirms nothing"
    );

    let confirmed = visitor.post_form(&link, &[("password", PASSWORD)]).await;
    assert!(
        signed_in(&confirmed),
        "confirming signs in: {}",
        confirmed.body
    );
    assert_eq!(confirmed.location.as_deref(), Some("/account?welcome=1"));
    let profile = visitor.get("/account?welcome=1").await;
    assert_eq!(profile.status, StatusCode::OK);
    assert!(profile.body.contains("Dana Whitfield") && profile.body.contains("confirmed"));
    let home = visitor.get("/").await;
    assert!(home.body.contains("id=\"portal-profile\"") && home.body.contains("Dana Whitfield"));
    assert!(!home.body.contains("id=\"portal-register\""));

    let mut again = app.visitor(&host);
    assert_eq!(
        again.get(&link).await.status,
        StatusCode::FORBIDDEN,
        "the link works once"
    );
    assert_eq!(
        again
            .post_form(&link, &[("password", PASSWORD)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert!(!again.cookies.contains_key("tdk_user"));

    let page = sign_in(&mut again, &email.to_uppercase(), PASSWORD).await;
    assert!(signed_in(&page), "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/"));
    assert_eq!(again.get("/account").await.status, StatusCode::OK);

    // Registering the address again says the same and sends nothing.
    let repeat = register(
        &mut app.visitor(&host),
        "Someone Else",
        &email,
        NEW_PASSWORD,
    )
    .await;
    assert_eq!(repeat.location.as_deref(), Some("/register?sent=1"));
    assert_eq!(
        queued_texts(&tenant, "user.registration_confirm", &email)
            .await
            .len(),
        1
    );
    assert!(signed_in(
        &sign_in(&mut app.visitor(&host), &email, PASSWORD).await
    ));
}

#[tokio::test]
async fn a_guest_who_registers_keeps_their_record() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Guest Corp").await;
    let host = tenant.host();
    let email = format!("guest@{}", unique_mail_domain());
    let guest = app
        .create_end_user(&tenant, "Gail Guest", &email, None)
        .await;
    assert_eq!(guest.status, EndUserStatus::Guest);
    assert!(
        !signed_in(&sign_in(&mut app.visitor(&host), &email, "").await),
        "guests cannot sign in"
    );

    let mut visitor = app.visitor(&host);
    let sent = register(&mut visitor, "Mallory", &email.to_uppercase(), PASSWORD).await;
    assert_eq!(sent.location.as_deref(), Some("/register?sent=1"));
    let pending = end_user(&app, &tenant, &email).await.expect("user");
    assert_eq!(pending.id, guest.id, "the guest's row becomes the account");
    assert_eq!(pending.status, EndUserStatus::Pending);
    assert_eq!(
        pending.name, "Gail Guest",
        "nobody renames a guest before proving the address"
    );

    let text = queued_texts(&tenant, "user.registration_confirm", &email)
        .await
        .pop()
        .expect("a confirmation mail");
    assert!(text.contains("Hello Gail Guest"));
    let link = link_path(&text, &host, "/register/confirm/");
    let done = visitor.post_form(&link, &[("password", PASSWORD)]).await;
    assert!(signed_in(&done), "{}", done.body);
    let active = end_user(&app, &tenant, &email).await.expect("user");
    assert_eq!(active.id, guest.id);
    assert_eq!(active.status, EndUserStatus::Active);
}

#[tokio::test]
async fn the_profile_changes_name_and_password_and_signs_out_everywhere() {
    let _turn = MAIL_WORKERS.lock().await;
    let mail = Mailroom::start();
    let app = spawn_app().await;
    let tenant = app.create_tenant("Profile Corp").await;
    let host = tenant.host();
    let email = format!("pat@{}", unique_mail_domain());
    app.create_end_user(&tenant, "Pat Profile", &email, Some(PASSWORD))
        .await;

    let guarded = app.visitor(&host).get("/account").await;
    assert_eq!(guarded.location.as_deref(), Some("/login?next=%2Faccount"));

    let mut laptop = app.visitor(&host);
    let mut phone = app.visitor(&host);
    assert!(signed_in(&sign_in(&mut laptop, &email, PASSWORD).await));
    assert!(signed_in(&sign_in(&mut phone, &email, PASSWORD).await));

    let empty = laptop.post_form("/account/name", &[("name", "  ")]).await;
    assert!(empty.body.contains("Enter your name."));
    let renamed = laptop
        .post_form("/account/name", &[("name", "Patricia Profile")])
        .await;
    assert_eq!(renamed.location.as_deref(), Some("/account?saved=name"));
    assert!(
        laptop
            .get("/account")
            .await
            .body
            .contains("Patricia Profile")
    );

    let wrong = laptop
        .post_form(
            "/account/password",
            &[
                ("current", "not my password at all"),
                ("password", NEW_PASSWORD),
                ("confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert!(wrong.body.contains("not your current password"));
    assert_eq!(phone.get("/account").await.status, StatusCode::OK);

    let changed = laptop
        .post_form(
            "/account/password",
            &[
                ("current", PASSWORD),
                ("password", NEW_PASSWORD),
                ("confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(changed.location.as_deref(), Some("/account?saved=password"));
    assert_eq!(
        laptop.get("/account").await.status,
        StatusCode::OK,
        "this browser stays signed in"
    );
    assert_eq!(
        phone.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "the other device is signed out"
    );
    let notice = mail
        .received(&app, &email, 1, "password was changed")
        .await
        .remove(0);
    assert!(notice.text.contains("Patricia Profile"), "{}", notice.text);

    assert!(!signed_in(&sign_in(&mut phone, &email, PASSWORD).await));
    assert!(signed_in(&sign_in(&mut phone, &email, NEW_PASSWORD).await));
    let out = laptop.post_form("/logout-everywhere", &[]).await;
    assert_eq!(out.location.as_deref(), Some("/login?signed_out=1"));
    assert_eq!(phone.get("/account").await.status, StatusCode::SEE_OTHER);
    assert_eq!(laptop.get("/account").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_end_user_resets_a_forgotten_password_through_the_mail() {
    let _turn = MAIL_WORKERS.lock().await;
    let mail = Mailroom::start();
    let app = spawn_app().await;
    let tenant = app.create_tenant("Reset Corp").await;
    let host = tenant.host();
    let email = format!("robin@{}", unique_mail_domain());
    app.create_end_user(&tenant, "Robin Reset", &email, Some(PASSWORD))
        .await;
    let mut old_session = app.visitor(&host);
    assert!(signed_in(
        &sign_in(&mut old_session, &email, PASSWORD).await
    ));

    let mut visitor = app.visitor(&host);
    assert!(
        visitor
            .get("/login")
            .await
            .body
            .contains("href=\"/password/forgot\"")
    );
    assert_eq!(visitor.get("/password/forgot").await.status, StatusCode::OK);
    let asked = visitor
        .post_form("/password/forgot", &[("email", &email)])
        .await;
    assert_eq!(asked.location.as_deref(), Some("/password/forgot?sent=1"));
    let message = mail.received(&app, &email, 1, "Reset your").await.remove(0);
    assert!(message.text.contains("60 minutes"), "{}", message.text);
    let link = link_path(&message.text, &host, "/password/reset/");

    let form = visitor.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(&email));
    let weak = visitor
        .post_form(
            &link,
            &[("password", "password1"), ("confirm", "password1")],
        )
        .await;
    assert_eq!(weak.status, StatusCode::OK);
    assert!(weak.body.contains("The password"));
    let done = visitor
        .post_form(
            &link,
            &[("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/login?reset=1"));
    assert!(
        visitor
            .get("/login?reset=1")
            .await
            .body
            .contains("Your password is changed")
    );

    assert_eq!(
        old_session.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "sessions from before the reset are revoked"
    );
    assert_eq!(
        visitor.get(&link).await.status,
        StatusCode::FORBIDDEN,
        "the link works once"
    );
    let reused = visitor
        .post_form(&link, &[("password", PASSWORD), ("confirm", PASSWORD)])
        .await;
    assert_eq!(reused.status, StatusCode::FORBIDDEN);
    assert!(!signed_in(
        &sign_in(&mut app.visitor(&host), &email, PASSWORD).await
    ));
    assert!(signed_in(
        &sign_in(&mut app.visitor(&host), &email, NEW_PASSWORD).await
    ));
    let changed = mail
        .received(&app, &email, 2, "password was changed")
        .await
        .remove(0);
    assert!(changed.text.contains("Robin Reset"));

    // An expired link is refused and changes nothing.
    visitor
        .post_form("/password/forgot", &[("email", &email)])
        .await;
    let expired = mail
        .new_link(
            &app,
            &email,
            3,
            "Reset your",
            &host,
            "/password/reset/",
            &[&link],
        )
        .await;
    expire_tokens(&tenant).await;
    assert_eq!(visitor.get(&expired).await.status, StatusCode::FORBIDDEN);
    let refused = visitor
        .post_form(&expired, &[("password", PASSWORD), ("confirm", PASSWORD)])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(signed_in(
        &sign_in(&mut app.visitor(&host), &email, NEW_PASSWORD).await
    ));
}

#[tokio::test]
async fn an_agent_resets_a_forgotten_password_through_the_mail() {
    let _turn = MAIL_WORKERS.lock().await;
    let mail = Mailroom::start();
    let app = spawn_app().await;
    let tenant = app.create_tenant("Agent Reset Corp").await;
    let host = tenant.host();
    let email = format!("agent@{}", unique_mail_domain());
    app.create_agent(&tenant.tenant, BuiltinRole::Agent, &email, PASSWORD)
        .await;
    let mut old_session = app.visitor(&host);
    old_session.sign_in_agent(&email, PASSWORD).await;

    let mut visitor = app.visitor(&host);
    assert_eq!(
        visitor.get("/agent/password/forgot").await.status,
        StatusCode::OK
    );
    let asked = visitor
        .post_form("/agent/password/forgot", &[("email", &email)])
        .await;
    assert_eq!(
        asked.location.as_deref(),
        Some("/agent/password/forgot?sent=1")
    );
    let message = mail
        .received(&app, &email, 1, "agent password")
        .await
        .remove(0);
    let link = link_path(&message.text, &host, "/agent/password/reset/");
    assert!(
        app.visitor(&host)
            .get(&link.replacen("/agent", "", 1))
            .await
            .status
            == StatusCode::FORBIDDEN,
        "an agent's link is no end user's link"
    );

    assert_eq!(visitor.get(&link).await.status, StatusCode::OK);
    let done = visitor
        .post_form(
            &link,
            &[("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/agent/login?welcome=1"));
    assert_eq!(
        old_session.get("/agent").await.status,
        StatusCode::SEE_OTHER,
        "sessions from before the reset are revoked"
    );
    assert_eq!(visitor.get(&link).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        visitor
            .post_form(&link, &[("password", PASSWORD), ("confirm", PASSWORD)])
            .await
            .status,
        StatusCode::FORBIDDEN,
        "the link works once"
    );
    let mut fresh = app.visitor(&host);
    let old = fresh
        .post_form(
            "/agent/login",
            &[("email", email.as_str()), ("password", PASSWORD)],
        )
        .await;
    assert!(old.body.contains("incorrect"));
    fresh.sign_in_agent(&email, NEW_PASSWORD).await;

    visitor
        .post_form("/agent/password/forgot", &[("email", &email)])
        .await;
    let expired = mail
        .new_link(
            &app,
            &email,
            2,
            "agent password",
            &host,
            "/agent/password/reset/",
            &[&link],
        )
        .await;
    expire_tokens(&tenant).await;
    assert_eq!(visitor.get(&expired).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        visitor
            .post_form(&expired, &[("password", PASSWORD), ("confirm", PASSWORD)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    app.visitor(&host).sign_in_agent(&email, NEW_PASSWORD).await;
}

#[tokio::test]
async fn answers_are_the_same_for_existing_and_unknown_accounts() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Enumeration Accounts Corp").await;
    let host = tenant.host();
    let domain = unique_mail_domain();
    let known = format!("known@{domain}");
    let unknown = format!("unknown@{domain}");
    app.create_end_user(&tenant, "Known Person", &known, Some(PASSWORD))
        .await;
    let agent = format!("staff@{domain}");
    app.create_agent(&tenant.tenant, BuiltinRole::Agent, &agent, PASSWORD)
        .await;

    let mut visitor = app.visitor(&host);
    for path in ["/password/forgot", "/agent/password/forgot"] {
        let existing = if path.starts_with("/agent") {
            &agent
        } else {
            &known
        };
        let a = visitor.post_form(path, &[("email", existing)]).await;
        let b = visitor.post_form(path, &[("email", &unknown)]).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!((a.status, &a.location), (b.status, &b.location), "{path}");
        let page = visitor.get(a.location.as_deref().expect("location")).await;
        assert!(page.body.contains("If an"), "{}", page.body);
    }
    assert_eq!(
        queued_texts(&tenant, "user.password_reset", &known)
            .await
            .len(),
        1,
        "only the real account got a link"
    );
    assert!(
        queued_texts(&tenant, "user.password_reset", &unknown)
            .await
            .is_empty()
    );

    let existing = register(&mut visitor, "Imposter", &known, NEW_PASSWORD).await;
    let new = register(&mut visitor, "Newcomer", &unknown, NEW_PASSWORD).await;
    assert_eq!(existing.status, StatusCode::SEE_OTHER);
    assert_eq!(
        (existing.status, &existing.location),
        (new.status, &new.location)
    );
    assert!(
        signed_in(&sign_in(&mut app.visitor(&host), &known, PASSWORD).await),
        "registering an existing address changes nothing"
    );

    let mut probe = app.visitor(&host);
    let wrong = sign_in(&mut probe, &known, "not the password").await;
    let nobody = sign_in(&mut probe, &unknown, NEW_PASSWORD).await;
    assert_eq!(wrong.status, nobody.status);
    assert_eq!(
        wrong.body.replace(&known, "EMAIL"),
        nobody.body.replace(&unknown, "EMAIL"),
        "a wrong password and a pending account answer alike"
    );

    // A guest without a password gets a link only where registration is public.
    let guest = format!("guest@{domain}");
    app.create_end_user(&tenant, "Guest Person", &guest, None)
        .await;
    app.set_registration_mode(&tenant, false, RegistrationMethod::Disabled)
        .await;
    let mut visitor = app.visitor(&host);
    let refused = visitor
        .post_form("/password/forgot", &[("email", &guest)])
        .await;
    let registered = visitor
        .post_form("/password/forgot", &[("email", &known)])
        .await;
    assert_eq!(refused.location, registered.location);
    assert!(
        queued_texts(&tenant, "user.password_reset", &guest)
            .await
            .is_empty()
    );
    assert_eq!(
        queued_texts(&tenant, "user.password_reset", &known)
            .await
            .len(),
        2,
        "registered accounts can always reset"
    );
    app.set_registration_mode(&tenant, false, RegistrationMethod::Public)
        .await;
    app.visitor(&host)
        .post_form("/password/forgot", &[("email", &guest)])
        .await;
    assert_eq!(
        queued_texts(&tenant, "user.password_reset", &guest)
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn links_and_sessions_of_one_tenant_do_nothing_on_another() {
    let app = spawn_app().await;
    let a = app.create_tenant("Links A").await;
    let b = app.create_tenant("Links B").await;
    let domain = unique_mail_domain();
    let email = format!("cross@{domain}");

    register(
        &mut app.visitor(&a.host()),
        "Cross Tenant",
        &email,
        PASSWORD,
    )
    .await;
    let text = queued_texts(&a, "user.registration_confirm", &email)
        .await
        .pop()
        .expect("confirmation mail");
    let confirm = link_path(&text, &a.host(), "/register/confirm/");
    let mut on_b = app.visitor(&b.host());
    assert_eq!(on_b.get(&confirm).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        on_b.post_form(&confirm, &[("password", PASSWORD)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert!(end_user(&app, &b, &email).await.is_none());

    let member = format!("member@{domain}");
    app.create_end_user(&a, "Member", &member, Some(PASSWORD))
        .await;
    app.visitor(&a.host())
        .post_form("/password/forgot", &[("email", &member)])
        .await;
    let text = queued_texts(&a, "user.password_reset", &member)
        .await
        .pop()
        .expect("reset mail");
    let reset = link_path(&text, &a.host(), "/password/reset/");
    assert_eq!(on_b.get(&reset).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        on_b.post_form(
            &reset,
            &[("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    let mut on_a = app.visitor(&a.host());
    let confirmed = on_a.post_form(&confirm, &[("password", PASSWORD)]).await;
    assert!(
        signed_in(&confirmed),
        "the link still works on its own host"
    );
    assert_eq!(on_a.get("/account").await.status, StatusCode::OK);
    on_b.cookies = on_a.cookies.clone();
    let profile = on_b.get("/account").await;
    assert_eq!(
        profile.status,
        StatusCode::SEE_OTHER,
        "A's session signs nobody in on B"
    );
    assert!(!on_b.get("/").await.body.contains("Cross Tenant"));
    assert_eq!(
        app.visitor(&a.host()).get(&reset).await.status,
        StatusCode::OK,
        "B's attempts used nothing up"
    );
}

#[tokio::test]
async fn forgot_password_and_registration_are_rate_limited() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Reset Limit Corp").await;
    let domain = unique_mail_domain();
    let mut visitor = app.visitor(&tenant.host());
    let target = format!("target@{domain}");
    for _ in 0..5 {
        let page = visitor
            .post_form("/password/forgot", &[("email", &target)])
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
    }
    let refused = visitor
        .post_form("/password/forgot", &[("email", &target)])
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "per account");
    let wait: u64 = refused.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(wait > 0 && wait <= 3600);

    for index in 0..5 {
        let page = visitor
            .post_form(
                "/password/forgot",
                &[("email", &format!("p{index}@{domain}"))],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
    }
    let refused = visitor
        .post_form("/password/forgot", &[("email", &format!("other@{domain}"))])
        .await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "per client address"
    );
    assert!(refused.headers.contains_key("retry-after"));

    for index in 0..10 {
        let page = register(
            &mut visitor,
            "Flood",
            &format!("r{index}@{domain}"),
            PASSWORD,
        )
        .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
    }
    let refused = register(&mut visitor, "Flood", &format!("r10@{domain}"), PASSWORD).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        end_user(&app, &tenant, &format!("r10@{domain}"))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn an_end_user_may_register_a_username_and_sign_in_with_it() {
    let _turn = MAIL_WORKERS.lock().await;
    let mail = Mailroom::start();
    let app = spawn_app().await;
    let tenant = app.create_tenant("Username Corp").await;
    let host = tenant.host();
    let domain = unique_mail_domain();
    let email = format!("robin@{domain}");
    let mut visitor = app.visitor(&host);
    let form = |username: &'static str, email: String| {
        vec![
            ("name", "Robin".to_owned()),
            ("username", username.to_owned()),
            ("email", email),
            ("password", PASSWORD.to_owned()),
            ("confirm", PASSWORD.to_owned()),
        ]
    };
    let post = async |visitor: &mut Visitor<'_>, fields: Vec<(&str, String)>| {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        visitor.post_form("/register", &fields).await
    };

    let bad = post(&mut visitor, form("robin@home", email.clone())).await;
    assert!(
        bad.body.contains("A username must be"),
        "a username is never an address: {}",
        bad.body
    );
    let sent = post(&mut visitor, form("robin_c", email.clone())).await;
    assert_eq!(sent.location.as_deref(), Some("/register?sent=1"));
    let taken = post(&mut visitor, form("ROBIN_C", format!("other@{domain}"))).await;
    assert!(
        taken.body.contains("That username is taken"),
        "{}",
        taken.body
    );

    let message = mail
        .received(&app, &email, 1, "Confirm your email address")
        .await
        .remove(0);
    let link = link_path(&message.text, &host, "/register/confirm/");
    visitor.get(&link).await;
    let confirmed = visitor.post_form(&link, &[("password", PASSWORD)]).await;
    assert_eq!(
        confirmed.status,
        StatusCode::SEE_OTHER,
        "{}",
        confirmed.body
    );

    let by_username = sign_in(&mut app.visitor(&host), "Robin_C", PASSWORD).await;
    assert!(
        signed_in(&by_username),
        "signs in with the username, any case"
    );
    let by_email = sign_in(&mut app.visitor(&host), &email, PASSWORD).await;
    assert!(signed_in(&by_email), "and still with the email");
    let other_tenant = app.create_tenant("Other Username Corp").await;
    let elsewhere = sign_in(&mut app.visitor(&other_tenant.host()), "robin_c", PASSWORD).await;
    assert!(
        !signed_in(&elsewhere),
        "a username means nothing on another tenant"
    );
}
