//! LDAP sign-in against a real slapd seeded from tests/ldap/seed.ldif: search then bind, RFC 4515
//! escaping, ambiguous filters, group membership by DN and by login, the service account,
//! unreachable directories (closed port, a server that never answers), TLS verification, and
//! the same through the agents' and end users' sign-in forms and the admin's LDAP tools.

use domain::BuiltinRole;
use reqwest::{Method, StatusCode};
use store::sign_in_providers::{NewSignInProvider, ProviderAudience, ProviderKind};
use tenantdesk_tests::ldap::{
    self, ALICE_DN, ALICE_PASSWORD, AMBIGUOUS_LOGIN, BASE_DN, BOB_PASSWORD, GROUP_DN,
    POSIX_GROUP_DN, SERVICE_DN, SERVICE_PASSWORD,
};
use tenantdesk_tests::{Page, TestApp, TestTenant, spawn_app, tenant_sql};
use web::sign_in::ldap::{LdapError, LdapSettings, authenticate, look_up, test_connection};

fn settings_for(url: &str) -> LdapSettings {
    serde_json::from_value(serde_json::json!({
        "url": url,
        "starttls": false,
        "ca_certificate_pem": null,
        "bind_dn": SERVICE_DN,
        "base_dn": BASE_DN,
        "user_filter": "(&(objectClass=inetOrgPerson)(uid={login}))",
        "group_dn": null,
        "group_member_attribute": "member",
        "timeout_seconds": 5,
        "refuse_when_unreachable": false,
    }))
    .expect("the settings JSON of the interface parses")
}

fn settings() -> LdapSettings {
    settings_for(&ldap::directory().url())
}

#[tokio::test]
async fn search_then_bind_signs_alice_in_with_her_attributes() {
    let identity = authenticate(&settings(), Some(SERVICE_PASSWORD), "alice", ALICE_PASSWORD)
        .await
        .expect("alice signs in");
    assert_eq!(identity.dn, ALICE_DN);
    assert_eq!(identity.attribute("mail"), Some("alice@example.test"));
    assert_eq!(
        identity.attribute("telephoneNumber"),
        Some("+44 20 7946 0001")
    );
    assert!(
        identity
            .attributes
            .keys()
            .all(|name| !name.to_ascii_lowercase().contains("password")),
        "no password attribute is handed on: {:?}",
        identity.attributes.keys()
    );
    let external = identity.external();
    assert_eq!(external.subject, ALICE_DN);
    assert_eq!(external.email.as_deref(), Some("alice@example.test"));
    assert!(external.email_verified);
    assert_eq!(external.first_name.as_deref(), Some("Alice"));
    assert_eq!(external.last_name.as_deref(), Some("Liddell"));
    assert_eq!(
        external.attributes.get("title").map(String::as_str),
        Some("Support lead")
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_name_get_the_same_refusal() {
    let settings = settings();
    let wrong = authenticate(&settings, Some(SERVICE_PASSWORD), "alice", BOB_PASSWORD).await;
    assert_eq!(wrong, Err(LdapError::InvalidCredentials));
    let nobody = authenticate(&settings, Some(SERVICE_PASSWORD), "mallory", ALICE_PASSWORD).await;
    assert_eq!(nobody, Err(LdapError::InvalidCredentials));
}

#[tokio::test]
async fn an_empty_password_never_binds() {
    // An empty password would be an "unauthenticated bind", which directories may answer
    // with success.
    let settings = settings();
    for (login, password) in [("alice", ""), ("", ALICE_PASSWORD), ("  ", ALICE_PASSWORD)] {
        let refused = authenticate(&settings, Some(SERVICE_PASSWORD), login, password).await;
        assert_eq!(refused, Err(LdapError::InvalidCredentials), "{login:?}");
    }
}

#[tokio::test]
async fn filter_injection_finds_nobody() {
    let settings = settings();
    for login in ["*)(uid=*", "*", "alice)(|(uid=*", "al*", "alice\0"] {
        let refused = authenticate(&settings, Some(SERVICE_PASSWORD), login, ALICE_PASSWORD).await;
        assert_eq!(refused, Err(LdapError::InvalidCredentials), "{login:?}");
        let found = look_up(&settings, Some(SERVICE_PASSWORD), login).await;
        assert_eq!(found, Ok(None), "{login:?}");
    }
}

#[tokio::test]
async fn a_filter_matching_two_entries_is_refused_not_guessed() {
    let refused = authenticate(
        &settings(),
        Some(SERVICE_PASSWORD),
        AMBIGUOUS_LOGIN,
        "dana-secret",
    )
    .await;
    assert!(
        matches!(&refused, Err(LdapError::Misconfigured(reason)) if reason.contains("more than one")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn group_membership_by_dn_admits_alice_and_refuses_bob() {
    let mut settings = settings();
    settings.group_dn = Some(GROUP_DN.to_owned());
    let alice = authenticate(&settings, Some(SERVICE_PASSWORD), "alice", ALICE_PASSWORD).await;
    assert_eq!(alice.map(|identity| identity.dn), Ok(ALICE_DN.to_owned()));
    let bob = authenticate(&settings, Some(SERVICE_PASSWORD), "bob", BOB_PASSWORD).await;
    assert_eq!(bob, Err(LdapError::NotInGroup));
    // A wrong password learns nothing about membership.
    let guess = authenticate(&settings, Some(SERVICE_PASSWORD), "bob", "guess").await;
    assert_eq!(guess, Err(LdapError::InvalidCredentials));
}

#[tokio::test]
async fn group_membership_by_login_admits_alice_and_refuses_bob() {
    let mut settings = settings();
    settings.group_dn = Some(POSIX_GROUP_DN.to_owned());
    settings.group_member_attribute = "memberUid".to_owned();
    let alice = authenticate(&settings, Some(SERVICE_PASSWORD), "alice", ALICE_PASSWORD).await;
    assert_eq!(alice.map(|identity| identity.dn), Ok(ALICE_DN.to_owned()));
    let bob = authenticate(&settings, Some(SERVICE_PASSWORD), "bob", BOB_PASSWORD).await;
    assert_eq!(bob, Err(LdapError::NotInGroup));
}

#[tokio::test]
async fn a_missing_group_is_a_configuration_error() {
    let mut settings = settings();
    settings.group_dn = Some(format!("cn=nobody,ou=groups,{BASE_DN}"));
    let refused = authenticate(&settings, Some(SERVICE_PASSWORD), "alice", ALICE_PASSWORD).await;
    assert!(
        matches!(refused, Err(LdapError::Misconfigured(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn anonymous_search_works_when_no_service_account_is_set() {
    let mut settings = settings();
    settings.bind_dn = None;
    let alice = authenticate(&settings, None, "alice", ALICE_PASSWORD).await;
    assert_eq!(alice.map(|identity| identity.dn), Ok(ALICE_DN.to_owned()));
}

#[tokio::test]
async fn a_wrong_service_password_is_a_configuration_error_not_the_users_fault() {
    let settings = settings();
    for bind_password in [Some("not-the-service-secret"), None] {
        let refused = authenticate(&settings, bind_password, "alice", ALICE_PASSWORD).await;
        assert!(
            matches!(&refused, Err(LdapError::Misconfigured(reason)) if !reason.contains("not-the-service-secret")),
            "{refused:?}"
        );
        let tested = test_connection(&settings, bind_password).await;
        assert!(
            matches!(tested, Err(LdapError::Misconfigured(_))),
            "{tested:?}"
        );
    }
}

#[tokio::test]
async fn test_connection_reads_the_base_dn() {
    let mut settings = settings();
    assert_eq!(
        test_connection(&settings, Some(SERVICE_PASSWORD)).await,
        Ok(())
    );
    settings.base_dn = "dc=elsewhere,dc=test".to_owned();
    let missing = test_connection(&settings, Some(SERVICE_PASSWORD)).await;
    assert!(
        matches!(&missing, Err(LdapError::Misconfigured(reason)) if reason.contains("base DN")),
        "{missing:?}"
    );
}

#[tokio::test]
async fn look_up_finds_the_entry_without_the_users_password() {
    let found = look_up(&settings(), Some(SERVICE_PASSWORD), "alice")
        .await
        .expect("the directory answers")
        .expect("alice is there");
    assert_eq!(found.dn, ALICE_DN);
    assert_eq!(found.attribute("givenName"), Some("Alice"));
    assert!(
        !found
            .attributes
            .values()
            .any(|value| value == ALICE_PASSWORD)
    );
    let nobody = look_up(&settings(), Some(SERVICE_PASSWORD), "mallory").await;
    assert_eq!(nobody, Ok(None));
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let settings = settings_for(&ldap::closed_url());
    let refused = authenticate(&settings, Some(SERVICE_PASSWORD), "alice", ALICE_PASSWORD).await;
    assert!(
        matches!(refused, Err(LdapError::Unreachable(_))),
        "{refused:?}"
    );
    let tested = test_connection(&settings, Some(SERVICE_PASSWORD)).await;
    assert!(
        matches!(tested, Err(LdapError::Unreachable(_))),
        "{tested:?}"
    );
}

#[tokio::test]
async fn a_directory_that_never_answers_is_unreachable_after_the_timeout() {
    let silent = ldap::Silent::start();
    let mut settings = settings_for(&silent.url());
    settings.timeout_seconds = 1;
    let refused = authenticate(&settings, Some(SERVICE_PASSWORD), "alice", ALICE_PASSWORD).await;
    assert!(
        matches!(refused, Err(LdapError::Unreachable(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn unusable_settings_are_refused_before_connecting() {
    let mut settings = settings();
    settings.user_filter = "(uid=alice)".to_owned();
    let refused = authenticate(&settings, Some(SERVICE_PASSWORD), "alice", ALICE_PASSWORD).await;
    assert!(
        matches!(refused, Err(LdapError::Misconfigured(_))),
        "{refused:?}"
    );
    assert_eq!(
        settings
            .problems()
            .into_iter()
            .map(|(field, _)| field)
            .collect::<Vec<_>>(),
        ["user_filter"]
    );
}

#[tokio::test]
async fn starttls_and_ldaps_verify_the_directorys_certificate() {
    // The run's directory presents a self-signed certificate no trust store knows: both ways
    // of speaking TLS must refuse it rather than send a password to an unverified server.
    let directory = ldap::directory();
    let mut starttls = settings_for(&directory.url());
    starttls.starttls = true;
    let ldaps = settings_for(&directory.ldaps_url());
    for settings in [starttls, ldaps] {
        let refused =
            authenticate(&settings, Some(SERVICE_PASSWORD), "alice", ALICE_PASSWORD).await;
        assert!(
            matches!(&refused, Err(LdapError::Unreachable(reason)) if reason.contains("certificate") || reason.contains("Certificate")),
            "{}: {refused:?}",
            settings.url
        );
    }
}

#[tokio::test]
async fn a_custom_ca_certificate_is_trusted_for_ldaps_and_starttls() {
    let directory = ldap::directory();
    // The run's self-signed certificate is in no system trust store: refused without it...
    let plain = settings_for(&directory.ldaps_url());
    assert!(matches!(
        test_connection(&plain, Some(SERVICE_PASSWORD)).await,
        Err(LdapError::Unreachable(_))
    ));
    // ...trusted as the provider's CA, over ldaps:// and over StartTLS.
    let mut ldaps = settings_for(&directory.ldaps_url());
    ldaps.ca_certificate_pem = Some(directory.certificate_pem.clone());
    test_connection(&ldaps, Some(SERVICE_PASSWORD))
        .await
        .expect("ldaps with the custom CA");
    let mut starttls = settings_for(&directory.url());
    starttls.starttls = true;
    starttls.ca_certificate_pem = Some(directory.certificate_pem.clone());
    let alice = authenticate(&starttls, Some(SERVICE_PASSWORD), "alice", ALICE_PASSWORD)
        .await
        .expect("StartTLS with the custom CA");
    assert!(alice.dn.starts_with("uid=alice,"), "{}", alice.dn);
    // Something that is not a certificate is named as the field's problem.
    let mut garbage = settings_for(&directory.ldaps_url());
    garbage.ca_certificate_pem = Some("not a certificate".into());
    assert!(
        garbage
            .problems()
            .iter()
            .any(|(field, _)| *field == "ca_certificate_pem")
    );
}

// Through the sign-in forms: the providers are rows of the tenant, tried in order after the
// built-in password.

struct Directory<'a> {
    name: &'a str,
    audience: ProviderAudience,
    settings: LdapSettings,
    jit_provisioning: bool,
    update_on_sign_in: bool,
}

impl<'a> Directory<'a> {
    fn new(name: &'a str, audience: ProviderAudience, settings: LdapSettings) -> Self {
        Self {
            name,
            audience,
            settings,
            jit_provisioning: true,
            update_on_sign_in: false,
        }
    }
}

/// Adds LDAP providers to `tenant` in the order given, their bind passwords sealed as the
/// admin API seals them.
async fn add_directories(app: &TestApp, tenant: &TestTenant, directories: Vec<Directory<'_>>) {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tenant tx");
    let agent_role = store::agents::builtin_role(&mut tx, BuiltinRole::Agent)
        .await
        .expect("role");
    for (position, directory) in directories.into_iter().enumerate() {
        let mut new = NewSignInProvider::new(
            directory.name,
            ProviderKind::Ldap,
            directory.audience,
            serde_json::to_value(&directory.settings).expect("settings"),
        );
        new.position = i32::try_from(position).expect("position");
        new.jit_provisioning = directory.jit_provisioning;
        new.update_on_sign_in = directory.update_on_sign_in;
        new.jit_role_id = Some(agent_role.id);
        new.attribute_map = serde_json::json!({"telephoneNumber": "phone", "title": "title"});
        new.secret = Some(app.state.config.secret_key.seal(SERVICE_PASSWORD, new.id));
        store::sign_in_providers::insert(&mut tx, &new)
            .await
            .expect("inserting an LDAP provider");
    }
    tx.commit().await.expect("commit");
}

fn assert_no_secret(page: &Page) {
    for secret in [SERVICE_PASSWORD, ALICE_PASSWORD] {
        assert!(!page.body.contains(secret), "a password in the page");
        assert!(
            page.headers.values().all(|value| !value
                .as_bytes()
                .windows(secret.len())
                .any(|w| w == secret.as_bytes())),
            "a password in a header"
        );
    }
}

#[tokio::test]
async fn an_agent_signs_in_with_the_directory_password_and_is_provisioned() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Directory Agents").await;
    let mut settings = settings();
    settings.group_dn = Some(GROUP_DN.to_owned());
    add_directories(
        &app,
        &tenant,
        vec![Directory::new(
            "Head office",
            ProviderAudience::Agents,
            settings,
        )],
    )
    .await;
    let mut visitor = app.visitor(&tenant.host());
    visitor.get("/agent/login").await;

    // Not in the helpdesk group: the same answer as a wrong password, and no account.
    let bob = visitor
        .post_form(
            "/agent/login",
            &[("email", "bob"), ("password", BOB_PASSWORD), ("next", "")],
        )
        .await;
    assert_eq!(bob.status, StatusCode::OK);
    assert!(bob.body.contains("incorrect"), "{}", bob.body);
    assert!(!visitor.cookies.contains_key("tdk_agent"));
    let wrong = visitor
        .post_form(
            "/agent/login",
            &[("email", "alice"), ("password", "not-hers"), ("next", "")],
        )
        .await;
    assert!(wrong.body.contains("incorrect"));
    assert!(!visitor.cookies.contains_key("tdk_agent"));

    let page = visitor
        .post_form(
            "/agent/login",
            &[
                ("email", "alice"),
                ("password", ALICE_PASSWORD),
                ("next", "/agent"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/agent"));
    assert_no_secret(&page);
    let home = visitor.get("/agent").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Alice Liddell"), "{}", home.body);
    assert_no_secret(&home);

    // The second sign-in finds the same account through its link, not a second one.
    let mut again = app.visitor(&tenant.host());
    again.get("/agent/login").await;
    let second = again
        .post_form(
            "/agent/login",
            &[
                ("email", "alice"),
                ("password", ALICE_PASSWORD),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(second.status, StatusCode::SEE_OTHER);
    let mut sql = tenant_sql(&tenant).await;
    let (agents,): (i64,) =
        sqlx::query_as("select count(*) from agents where lower(email) = 'alice@example.test'")
            .fetch_one(&mut *sql)
            .await
            .expect("count");
    assert_eq!(agents, 1);
    let (links,): (i64,) = sqlx::query_as(
        "select count(*) from sign_in_identities where subject = $1 and agent_id is not null",
    )
    .bind(ALICE_DN)
    .fetch_one(&mut *sql)
    .await
    .expect("count");
    assert_eq!(links, 1);
}

#[tokio::test]
async fn an_end_user_is_provisioned_with_the_mapped_directory_attributes() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Directory Portal").await;
    let mut staff = Directory::new("Staff directory", ProviderAudience::EndUsers, settings());
    staff.update_on_sign_in = true;
    add_directories(&app, &tenant, vec![staff]).await;
    let mut visitor = app.visitor(&tenant.host());
    visitor.get("/login").await;
    let page = visitor
        .post_form(
            "/login",
            &[
                ("email", "alice"),
                ("password", ALICE_PASSWORD),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_no_secret(&page);
    assert!(visitor.cookies.contains_key("tdk_user"));

    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let user = store::user_directory::by_email(&mut tx, "alice@example.test")
        .await
        .expect("read")
        .expect("alice was provisioned");
    tx.commit().await.expect("commit");
    assert_eq!(user.profile.text("first_name"), "Alice");
    assert_eq!(user.profile.text("last_name"), "Liddell");
    assert_eq!(user.profile.text("title"), "Support lead");
    let digits: String = user
        .profile
        .text("phone")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert_eq!(digits, "442079460001");

    // The directory rewrites those fields at every sign-in: agents see them read-only with
    // their source, and an edit is refused naming the field.
    assert_eq!(
        user.directory_fields.get("phone").map(String::as_str),
        Some("Staff directory")
    );
    let email = format!("{}@example.com", uuid::Uuid::now_v7().simple());
    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Admin,
        &email,
        "correct horse battery staple",
    )
    .await;
    let mut agent = app.visitor(&tenant.host());
    agent
        .sign_in_agent(&email, "correct horse battery staple")
        .await;
    let page = agent.get(&format!("/agent/users/{}", user.id)).await;
    assert!(
        page.body.contains("(from Staff directory)"),
        "{}",
        page.body
    );
    let form = agent.get(&format!("/agent/users/{}/edit", user.id)).await;
    assert!(form.body.contains("Kept by the directory Staff directory"));
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let changes = web::directory::UserChanges {
        text: vec![("phone".into(), "+1 555 0100".into())],
        ..Default::default()
    };
    let refused = web::directory::update_user(
        &mut tx,
        &[],
        user.id,
        None,
        &changes,
        store::user_directory::Actor::System,
    )
    .await;
    let Err(web::directory::DirectoryError::Invalid(errors)) = refused else {
        panic!("a kept field was edited: {refused:?}");
    };
    assert_eq!(errors[0].0, "phone");
    let city = web::directory::UserChanges {
        text: vec![("city".into(), "London".into())],
        ..Default::default()
    };
    web::directory::update_user(
        &mut tx,
        &[],
        user.id,
        None,
        &city,
        store::user_directory::Actor::System,
    )
    .await
    .expect("a field the directory does not keep is the agents'");
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn an_unreachable_directory_passes_to_the_next_unless_it_refuses() {
    let app = spawn_app().await;
    let falls_through = app.create_tenant("Directory Fallthrough").await;
    let refuses = app.create_tenant("Directory Die").await;
    let closed = ldap::closed_url();
    let mut down = settings_for(&closed);
    down.timeout_seconds = 2;
    add_directories(
        &app,
        &falls_through,
        vec![
            Directory::new(
                "Branch office (down)",
                ProviderAudience::Agents,
                down.clone(),
            ),
            Directory::new("Head office", ProviderAudience::Agents, settings()),
        ],
    )
    .await;
    down.refuse_when_unreachable = true;
    add_directories(
        &app,
        &refuses,
        vec![
            Directory::new("Branch office (down)", ProviderAudience::Agents, down),
            Directory::new("Head office", ProviderAudience::Agents, settings()),
        ],
    )
    .await;

    let mut visitor = app.visitor(&falls_through.host());
    visitor.get("/agent/login").await;
    let page = visitor
        .post_form(
            "/agent/login",
            &[
                ("email", "alice"),
                ("password", ALICE_PASSWORD),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(visitor.cookies.contains_key("tdk_agent"));

    let mut visitor = app.visitor(&refuses.host());
    visitor.get("/agent/login").await;
    let page = visitor
        .post_form(
            "/agent/login",
            &[
                ("email", "alice"),
                ("password", ALICE_PASSWORD),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("cannot be reached"), "{}", page.body);
    assert!(!visitor.cookies.contains_key("tdk_agent"));
    assert_no_secret(&page);
}

#[tokio::test]
async fn a_directory_of_one_tenant_signs_nobody_into_another() {
    let app = spawn_app().await;
    let with_directory = app.create_tenant("Directory Owner").await;
    let other = app.create_tenant("Directory Neighbour").await;
    add_directories(
        &app,
        &with_directory,
        vec![Directory::new(
            "Head office",
            ProviderAudience::Both,
            settings(),
        )],
    )
    .await;
    for (path, cookie) in [("/agent/login", "tdk_agent"), ("/login", "tdk_user")] {
        let mut visitor = app.visitor(&other.host());
        visitor.get(path).await;
        let page = visitor
            .post_form(
                path,
                &[
                    ("email", "alice"),
                    ("password", ALICE_PASSWORD),
                    ("next", ""),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!visitor.cookies.contains_key(cookie), "{path}");
    }
    let mut sql = tenant_sql(&other).await;
    let (identities,): (i64,) = sqlx::query_as("select count(*) from sign_in_identities")
        .fetch_one(&mut *sql)
        .await
        .expect("count");
    assert_eq!(identities, 0);
}

#[tokio::test]
async fn the_admin_tools_use_the_sealed_bind_password_and_never_show_it() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Directory Tools").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let mut body = serde_json::to_value(settings()).expect("settings");
    body["ca_certificate_pem"] = serde_json::Value::Null;
    let (status, created) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            "/api/v1/sign-in-providers",
            Some(serde_json::json!({
                "name": "Head office", "kind": "ldap", "audience": "agents",
                "settings": body, "secret": SERVICE_PASSWORD,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(!created.to_string().contains(SERVICE_PASSWORD));
    let id = created["id"].as_str().expect("id").to_owned();

    let (status, tested) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            &format!("/api/v1/sign-in-providers/{id}/test-connection"),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    assert_eq!(tested["ok"], true, "{tested}");
    let (status, found) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            &format!("/api/v1/sign-in-providers/{id}/look-up"),
            Some(serde_json::json!({"login": "alice"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["dn"], ALICE_DN, "{found}");
    assert_eq!(found["attributes"]["mail"], "alice@example.test");
    let (_, injected) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            &format!("/api/v1/sign-in-providers/{id}/look-up"),
            Some(serde_json::json!({"login": "*)(uid=*"})),
        )
        .await;
    assert_eq!(injected["ok"], false, "{injected}");
    let (_, read) = app
        .api(
            &tenant,
            &admin,
            Method::GET,
            &format!("/api/v1/sign-in-providers/{id}"),
            None,
        )
        .await;
    for shown in [&tested, &found, &read] {
        let text = shown.to_string();
        assert!(!text.contains(SERVICE_PASSWORD) && !text.contains(ALICE_PASSWORD));
    }
}
