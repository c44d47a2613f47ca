//! The identity issue's remaining pieces: "Forgot your password?" on both sign-in pages, agents
//! inviting end users, agents helping people who cannot sign in (a reset link, a temporary
//! password that must be changed), unlocking sign-in, and two registration modes in Chromium.

use domain::{BuiltinRole, RegistrationMethod};
use fantoccini::Locator;
use reqwest::StatusCode;
use store::end_users::{EndUser, EndUserStatus};
use tenantdesk_tests::mailroom::Mailroom;
use tenantdesk_tests::{
    MAIL_WORKERS, Page, TestApp, TestTenant, Visitor, browser, link_path, spawn_app,
    unique_mail_domain,
};

const PASSWORD: &str = "orbit maple cascade violin";
const NEW_PASSWORD: &str = "harbour velvet quartz meadow";
const TEMPORARY: &str = "lantern thistle copper glacier";

async fn end_user(app: &TestApp, tenant: &TestTenant, email: &str) -> EndUser {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let user = store::end_users::by_email(&mut tx, email)
        .await
        .expect("lookup")
        .expect("the end user exists");
    tx.commit().await.expect("commit");
    user
}

async fn user_sign_in(visitor: &mut Visitor<'_>, email: &str, password: &str) -> Page {
    visitor.get("/login").await;
    visitor
        .post_form("/login", &[("email", email), ("password", password)])
        .await
}

async fn agent_sign_in(visitor: &mut Visitor<'_>, email: &str, password: &str) -> Page {
    visitor.get("/agent/login").await;
    visitor
        .post_form("/agent/login", &[("email", email), ("password", password)])
        .await
}

fn signed_in(page: &Page, cookie: &str) -> bool {
    page.status == StatusCode::SEE_OTHER
        && page
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|c| c.starts_with(&format!("{cookie}=")) && !c.starts_with(&format!("{cookie}=;")))
}

/// A signed-in agent of `tenant` with `role`.
async fn signed_in_agent<'a>(
    app: &'a TestApp,
    tenant: &TestTenant,
    role: BuiltinRole,
    email: &str,
) -> Visitor<'a> {
    app.create_agent(&tenant.tenant, role, email, PASSWORD)
        .await;
    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(email, PASSWORD).await;
    visitor
}

#[tokio::test]
async fn both_sign_in_pages_offer_forgot_your_password() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Forgot Link Corp").await;
    let mut visitor = app.visitor(&tenant.host());
    let agent_login = visitor.get("/agent/login").await;
    assert!(
        agent_login
            .body
            .contains("<a href=\"/agent/password/forgot\">Forgot your password?</a>"),
        "{}",
        agent_login.body
    );
    let user_login = visitor.get("/login").await;
    assert!(
        user_login
            .body
            .contains("<a href=\"/password/forgot\">Forgot your password?</a>")
    );
    assert_eq!(
        visitor.get("/agent/password/forgot").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_agent_invites_an_end_user_in_invitation_only_mode() {
    let _turn = MAIL_WORKERS.lock().await;
    let mail = Mailroom::start();
    let app = spawn_app().await;
    let tenant = app.create_tenant("Invite Only Corp").await;
    app.set_registration_mode(&tenant, true, RegistrationMethod::Private)
        .await;
    let host = tenant.host();
    let domain = unique_mail_domain();
    let mut admin = signed_in_agent(
        &app,
        &tenant,
        BuiltinRole::Manager,
        &format!("manager@{domain}"),
    )
    .await;
    let guest_email = format!("guest@{domain}");
    let guest = app
        .create_end_user(&tenant, "Robin Customer", &guest_email, None)
        .await;

    let list = admin.get("/admin/users").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains(&guest_email));
    assert!(list.body.contains("Guest, no account"));

    // Bad input is refused and changes nothing.
    let bad = admin
        .post_form("/admin/users", &[("name", ""), ("email", "not an address")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("Enter the person&#x27;s name.") || bad.body.contains("Enter the person")
    );

    // Inviting the guest keeps their record.
    let invited = admin
        .post_form(
            "/admin/users",
            &[("name", "Robin Invited"), ("email", &guest_email)],
        )
        .await;
    assert_eq!(
        invited.location.as_deref(),
        Some(format!("/admin/users?done=invited&user={}", guest.id).as_str())
    );
    assert_eq!(
        end_user(&app, &tenant, &guest_email).await.status,
        EndUserStatus::Pending
    );
    let after = admin
        .get(invited.location.as_deref().expect("location"))
        .await;
    assert!(after.body.contains("is invited"), "{}", after.body);
    assert!(after.body.contains("Invited, no password yet"));

    // A new address gets a new pending account.
    let new_email = format!("newcomer@{domain}");
    let fresh = admin
        .post_form(
            "/admin/users",
            &[("name", "Nia Newcomer"), ("email", &new_email)],
        )
        .await;
    assert_eq!(fresh.status, StatusCode::SEE_OTHER);
    assert_eq!(
        end_user(&app, &tenant, &new_email).await.status,
        EndUserStatus::Pending
    );

    let message = mail
        .received_about(&app, &guest_email, 1, "You're invited")
        .await
        .remove(0);
    let link = link_path(&message.text, &host, "/invitation/");
    let mut person = app.visitor(&host);
    let form = person.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(&guest_email));
    let weak = person
        .post_form(&link, &[("password", "short"), ("confirm", "short")])
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.body.contains("The password"));
    let mismatch = person
        .post_form(&link, &[("password", PASSWORD), ("confirm", NEW_PASSWORD)])
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    let done = person
        .post_form(&link, &[("password", PASSWORD), ("confirm", PASSWORD)])
        .await;
    assert_eq!(done.location.as_deref(), Some("/login?invited=1"));
    assert!(
        person
            .get("/login?invited=1")
            .await
            .body
            .contains("Your account is ready")
    );
    let user = end_user(&app, &tenant, &guest_email).await;
    assert_eq!(user.status, EndUserStatus::Active);
    assert_eq!(user.id, guest.id, "the guest's record became the account");
    assert!(signed_in(
        &user_sign_in(&mut app.visitor(&host), &guest_email, PASSWORD).await,
        "tdk_user"
    ));

    // The link works once; an active account cannot be invited again.
    assert_eq!(person.get(&link).await.status, StatusCode::FORBIDDEN);
    let reused = person
        .post_form(
            &link,
            &[("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(reused.status, StatusCode::FORBIDDEN);
    let again = admin
        .post_form(
            "/admin/users",
            &[("name", "Robin Invited"), ("email", &guest_email)],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("already has an account"));

    // The invitation link of one tenant is nothing on another's host.
    let other = app.create_tenant("Other Invite Corp").await;
    assert_eq!(
        app.visitor(&other.host()).get(&link).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn agents_send_reset_links_and_set_temporary_passwords() {
    let _turn = MAIL_WORKERS.lock().await;
    let mail = Mailroom::start();
    let app = spawn_app().await;
    let tenant = app.create_tenant("Helpdesk Help Corp").await;
    let host = tenant.host();
    let domain = unique_mail_domain();
    let mut admin = signed_in_agent(
        &app,
        &tenant,
        BuiltinRole::Admin,
        &format!("admin@{domain}"),
    )
    .await;
    let user_email = format!("robin@{domain}");
    let user = app
        .create_end_user(&tenant, "Robin Customer", &user_email, Some(PASSWORD))
        .await;
    let agent_email = format!("agent@{domain}");
    let agent = app
        .create_agent(&tenant.tenant, BuiltinRole::Agent, &agent_email, PASSWORD)
        .await;

    // A reset link for the end user, through the forgot-password path.
    let sent = admin
        .post_form(&format!("/admin/users/{}/reset-link", user.id), &[])
        .await;
    assert_eq!(
        sent.location.as_deref(),
        Some(format!("/admin/users?done=reset-link&user={}", user.id).as_str())
    );
    let message = mail
        .received_about(&app, &user_email, 1, "Reset your")
        .await
        .remove(0);
    let link = link_path(&message.text, &host, "/password/reset/");
    let reset = app
        .visitor(&host)
        .post_form(
            &link,
            &[("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(reset.location.as_deref(), Some("/login?reset=1"));

    // A reset link for the agent.
    let sent = admin
        .post_form(&format!("/admin/agents/{}/reset-link", agent.id), &[])
        .await;
    assert_eq!(
        sent.location.as_deref(),
        Some(format!("/admin/agents?done=reset-link&agent={}", agent.id).as_str())
    );
    let message = mail
        .received_about(&app, &agent_email, 1, "agent password")
        .await
        .remove(0);
    link_path(&message.text, &host, "/agent/password/reset/");

    // A temporary password for the end user: their sessions end, and until they choose
    // their own password every page but the password form leads there.
    let mut old_session = app.visitor(&host);
    assert!(signed_in(
        &user_sign_in(&mut old_session, &user_email, NEW_PASSWORD).await,
        "tdk_user"
    ));
    assert_eq!(old_session.get("/account").await.status, StatusCode::OK);
    let weak = admin
        .post_form(
            &format!("/admin/users/{}/temporary-password", user.id),
            &[("password", "short")],
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    let set = admin
        .post_form(
            &format!("/admin/users/{}/temporary-password", user.id),
            &[("password", TEMPORARY)],
        )
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER);
    assert!(
        end_user(&app, &tenant, &user_email)
            .await
            .must_change_password
    );
    assert_eq!(
        old_session.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "the user's sessions ended"
    );
    let mut person = app.visitor(&host);
    assert!(signed_in(
        &user_sign_in(&mut person, &user_email, TEMPORARY).await,
        "tdk_user"
    ));
    let profile = person.get("/account").await;
    assert_eq!(profile.status, StatusCode::OK);
    assert!(profile.body.contains("temporary password"));
    let renamed = person
        .post_form("/account/name", &[("name", "Sneaky")])
        .await;
    assert!(
        renamed
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/account?")),
        "{:?}",
        renamed.location
    );
    assert_eq!(
        end_user(&app, &tenant, &user_email).await.name,
        "Robin Customer"
    );
    let changed = person
        .post_form(
            "/account/password",
            &[
                ("current", TEMPORARY),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(changed.location.as_deref(), Some("/account?saved=password"));
    assert!(
        !end_user(&app, &tenant, &user_email)
            .await
            .must_change_password
    );
    let renamed = person
        .post_form("/account/name", &[("name", "Robin Renamed")])
        .await;
    assert_eq!(renamed.location.as_deref(), Some("/account?saved=name"));

    // A temporary password for the agent: the panel leads to the profile until it changes.
    let mut agent_old = app.visitor(&host);
    agent_old.sign_in_agent(&agent_email, PASSWORD).await;
    let set = admin
        .post_form(
            &format!("/admin/agents/{}/temporary-password", agent.id),
            &[("password", TEMPORARY)],
        )
        .await;
    assert_eq!(
        set.location.as_deref(),
        Some(format!("/admin/agents?done=temporary-password&agent={}", agent.id).as_str())
    );
    assert!(
        agent_old
            .get("/agent")
            .await
            .location
            .is_some_and(|l| l.starts_with("/agent/login")),
        "the agent's sessions ended"
    );
    let mut helped = app.visitor(&host);
    assert!(signed_in(
        &agent_sign_in(&mut helped, &agent_email, TEMPORARY).await,
        "tdk_agent"
    ));
    for path in ["/agent", "/admin/users", "/agent/profile?saved=profile"] {
        let page = helped.get(path).await;
        if path.starts_with("/agent/profile") {
            assert_eq!(page.status, StatusCode::OK);
            continue;
        }
        assert!(
            page.location
                .as_deref()
                .is_some_and(|l| l.starts_with("/agent/profile?")),
            "{path}: {:?}",
            page.location
        );
    }
    let saved = helped
        .post_form("/agent/profile", &[("name", "Renamed")])
        .await;
    assert!(
        saved
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/agent/profile?next=")),
        "{:?}",
        saved.location
    );
    let changed = helped
        .post_form(
            "/agent/profile/password",
            &[
                ("current", TEMPORARY),
                ("password", NEW_PASSWORD),
                ("confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        changed.location.as_deref(),
        Some("/agent/profile?saved=password")
    );
    assert_eq!(helped.get("/agent").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_admin_unlocks_locked_out_accounts() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Unlock Corp").await;
    let host = tenant.host();
    let domain = unique_mail_domain();
    let mut admin = signed_in_agent(
        &app,
        &tenant,
        BuiltinRole::Admin,
        &format!("admin@{domain}"),
    )
    .await;
    let user_email = format!("robin@{domain}");
    let user = app
        .create_end_user(&tenant, "Robin Customer", &user_email, Some(PASSWORD))
        .await;
    let agent_email = format!("agent@{domain}");
    let agent = app
        .create_agent(&tenant.tenant, BuiltinRole::Agent, &agent_email, PASSWORD)
        .await;

    let mut guesser = app.visitor(&host);
    for _ in 0..10 {
        user_sign_in(&mut guesser, &user_email, "wrong guess").await;
        agent_sign_in(&mut guesser, &agent_email, "wrong guess").await;
    }
    assert_eq!(
        user_sign_in(&mut app.visitor(&host), &user_email, PASSWORD)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        agent_sign_in(&mut app.visitor(&host), &agent_email, PASSWORD)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );

    let unlocked = admin
        .post_form(&format!("/admin/users/{}/unlock", user.id), &[])
        .await;
    assert_eq!(
        unlocked.location.as_deref(),
        Some(format!("/admin/users?done=unlocked&user={}", user.id).as_str())
    );
    assert!(signed_in(
        &user_sign_in(&mut app.visitor(&host), &user_email, PASSWORD).await,
        "tdk_user"
    ));
    let unlocked = admin
        .post_form(&format!("/admin/agents/{}/unlock", agent.id), &[])
        .await;
    assert_eq!(
        unlocked.location.as_deref(),
        Some(format!("/admin/agents?done=unlocked&agent={}", agent.id).as_str())
    );
    assert!(signed_in(
        &agent_sign_in(&mut app.visitor(&host), &agent_email, PASSWORD).await,
        "tdk_agent"
    ));
}

#[tokio::test]
async fn other_tenants_ids_are_404_and_agents_without_the_permission_get_403() {
    let app = spawn_app().await;
    let a = app.create_tenant("Tenant A Gaps").await;
    let b = app.create_tenant("Tenant B Gaps").await;
    let domain = unique_mail_domain();
    let mut admin_a =
        signed_in_agent(&app, &a, BuiltinRole::Admin, &format!("admin-a@{domain}")).await;
    let b_user = app
        .create_end_user(
            &b,
            "Robin Customer",
            &format!("robin-b@{domain}"),
            Some(PASSWORD),
        )
        .await;
    let b_agent = app
        .create_agent(
            &b.tenant,
            BuiltinRole::Agent,
            &format!("agent-b@{domain}"),
            PASSWORD,
        )
        .await;
    for action in ["reset-link", "temporary-password", "unlock"] {
        let page = admin_a
            .post_form(
                &format!("/admin/users/{}/{action}", b_user.id),
                &[("password", TEMPORARY)],
            )
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "users/{action}");
        let page = admin_a
            .post_form(
                &format!("/admin/agents/{}/{action}", b_agent.id),
                &[("password", TEMPORARY)],
            )
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "agents/{action}");
    }
    assert_eq!(
        admin_a
            .post_form("/admin/users/not-a-uuid/unlock", &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let mut tx = app.state.store.begin_tenant(b.tenant.id).await.expect("tx");
    let untouched = store::end_users::by_id(&mut tx, b_user.id)
        .await
        .expect("lookup")
        .expect("exists");
    tx.commit().await.expect("commit");
    assert!(!untouched.must_change_password);

    // An Agent-role agent manages neither end users nor agents.
    let a_user = app
        .create_end_user(
            &a,
            "Robin Customer",
            &format!("robin-a@{domain}"),
            Some(PASSWORD),
        )
        .await;
    let mut plain = signed_in_agent(&app, &a, BuiltinRole::Agent, &format!("plain@{domain}")).await;
    assert_eq!(
        plain.get("/admin/users").await.status,
        StatusCode::FORBIDDEN
    );
    let invite = plain
        .post_form(
            "/admin/users",
            &[("name", "Someone"), ("email", &format!("someone@{domain}"))],
        )
        .await;
    assert_eq!(invite.status, StatusCode::FORBIDDEN);
    for action in ["reset-link", "temporary-password", "unlock"] {
        let page = plain
            .post_form(
                &format!("/admin/users/{}/{action}", a_user.id),
                &[("password", TEMPORARY)],
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "users/{action}");
    }
    let page = plain
        .post_form(
            &format!("/admin/agents/{}/temporary-password", a_user.id),
            &[("password", TEMPORARY)],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!plain.get("/agent").await.body.contains("/admin/users"));
    assert!(
        admin_a
            .get("/agent")
            .await
            .body
            .contains("href=\"/admin/users\"")
    );
}

// ---------------------------------------------------------------------------------------------
// Chromium: two registration modes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn in_chromium_public_mode_offers_registration_up_to_check_your_mail() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Browser Public Corp").await;
    app.set_registration_mode(&tenant, false, RegistrationMethod::Public)
        .await;
    let email = format!("browser@{}", unique_mail_domain());
    let client = browser::open().await;
    client
        .goto(&app.browser_url(&tenant.host(), "/"))
        .await
        .expect("open the portal");
    let link = client
        .find(Locator::Id("portal-register"))
        .await
        .expect("a registration link");
    let label = link.text().await.expect("text");
    link.click().await.expect("follow it");
    client
        .wait()
        .for_element(Locator::Css("form[action='/register']"))
        .await
        .expect("the registration form");
    for (id, value) in [
        ("name", "Browser Person"),
        ("email", email.as_str()),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
    ] {
        client
            .find(Locator::Id(id))
            .await
            .expect("a field")
            .send_keys(value)
            .await
            .expect("type");
    }
    client
        .find(Locator::Css("form[action='/register'] button[type=submit]"))
        .await
        .expect("the submit button")
        .click()
        .await
        .expect("register");
    let heading = client
        .wait()
        .for_element(Locator::Css("p.notice"))
        .await
        .expect("the check-your-mail page");
    let notice = heading.text().await.expect("text");
    let title = client
        .find(Locator::Css("h1"))
        .await
        .expect("h1")
        .text()
        .await
        .expect("text");
    let url = client.current_url().await.expect("url");
    client.close().await.expect("close the browser");

    assert_eq!(label, "Create an account");
    assert_eq!(title, "Check your mail");
    assert!(notice.contains("we have sent a link"), "{notice}");
    assert!(url.as_str().ends_with("/register?sent=1"), "{url}");
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let user = store::end_users::by_email(&mut tx, &email)
        .await
        .expect("lookup")
        .expect("the registration is stored");
    tx.commit().await.expect("commit");
    assert_eq!(user.status, EndUserStatus::Pending);
}

#[tokio::test]
async fn in_chromium_invitation_only_mode_offers_no_registration() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Browser Private Corp").await;
    app.set_registration_mode(&tenant, true, RegistrationMethod::Private)
        .await;
    let client = browser::open().await;
    client
        .goto(&app.browser_url(&tenant.host(), "/"))
        .await
        .expect("open the portal");
    client
        .find(Locator::Id("portal-sign-in"))
        .await
        .expect("a sign-in link");
    let register_links = client
        .find_all(Locator::Css("a[href='/register']"))
        .await
        .expect("query");
    let portal_text = client
        .find(Locator::Css("main"))
        .await
        .expect("main")
        .text()
        .await
        .expect("text");
    client
        .goto(&app.browser_url(&tenant.host(), "/login"))
        .await
        .expect("open sign-in");
    let login_register_links = client
        .find_all(Locator::Css("a[href='/register']"))
        .await
        .expect("query");
    client
        .goto(&app.browser_url(&tenant.host(), "/register"))
        .await
        .expect("open /register");
    let register_text = client
        .find(Locator::Css("main"))
        .await
        .expect("main")
        .text()
        .await
        .expect("text");
    let forms = client
        .find_all(Locator::Css("form[action='/register']"))
        .await
        .expect("query");
    client.close().await.expect("close the browser");

    assert!(register_links.is_empty());
    assert!(login_register_links.is_empty());
    assert!(!portal_text.contains("Create an account"));
    assert!(
        register_text.contains("Registration is closed"),
        "{register_text}"
    );
    assert!(register_text.contains("invitation only"), "{register_text}");
    assert!(forms.is_empty());
}
