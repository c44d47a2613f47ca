//! The `tenantdesk` binary: CLI answers to bad input, the runtime-role refusal, and the
//! embedded default from start to a clean stop.

use std::process::Stdio;
use std::time::Duration;

use tenantdesk_tests::programs::scratch_dir;
use tenantdesk_tests::{database, random_slug, tenantdesk_binary};
use tokio::process::Command;

/// The binary pointed at the shared test database, with nothing inherited from the caller.
fn tenantdesk() -> Command {
    let mut command = Command::new(tenantdesk_binary());
    command
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("TENANTDESK_REDIS_URL")
        .env("TENANTDESK_DATABASE_URL", &database().runtime_url)
        .env("TENANTDESK_MIGRATION_URL", &database().owner_url)
        .stdin(Stdio::null());
    command
}

struct Outcome {
    success: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn run(command: &mut Command) -> Outcome {
    let output = command.output().await.expect("running tenantdesk");
    Outcome {
        success: output.status.success(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn tenant_list() -> String {
    run(tenantdesk().args(["tenant", "list"])).await.stdout
}

#[tokio::test]
async fn tenant_create_refuses_bad_input_and_creates_nothing() {
    let long_name = "n".repeat(101);
    let cases: &[(&[&str], &str)] = &[
        (
            &["--slug", "Bad Slug", "--name", "Bad"],
            "lowercase letters, digits and hyphens",
        ),
        (&["--slug", "ab", "--name", "Short"], "3 to 63 characters"),
        (&["--slug=-edge", "--name", "Edge"], "hyphen"),
        (&["--slug", "www", "--name", "Reserved"], "reserved"),
        (&["--slug", "admin", "--name", "Reserved"], "reserved"),
        (
            &["--slug", "fine-slug-xyz", "--name", "   "],
            "must not be empty",
        ),
        (
            &["--slug", "fine-slug-xyz", "--name", &long_name],
            "at most 100 characters",
        ),
        (&["--name", "No Slug"], "--slug"),
    ];
    for (args, reason) in cases {
        let outcome = run(tenantdesk().args(["tenant", "create"]).args(*args)).await;
        assert!(!outcome.success, "{args:?} must fail");
        assert_eq!(outcome.code, Some(2), "{args:?}: usage errors exit with 2");
        assert!(
            outcome.stderr.contains(reason),
            "{args:?}: stderr should say {reason:?}, got {}",
            outcome.stderr
        );
    }
    assert!(
        !tenant_list().await.contains("fine-slug-xyz"),
        "nothing was created"
    );
}

#[tokio::test]
async fn tenant_lifecycle_through_the_cli() {
    let slug = random_slug();
    let created = run(tenantdesk().args([
        "tenant",
        "create",
        "--slug",
        slug.as_str(),
        "--name",
        "CLI Corp",
    ]))
    .await;
    assert!(created.success, "create: {}", created.stderr);
    assert!(created.stdout.contains(&format!("created tenant {slug}")));

    let duplicate = run(tenantdesk().args([
        "tenant",
        "create",
        "--slug",
        slug.as_str(),
        "--name",
        "Again",
    ]))
    .await;
    assert!(!duplicate.success);
    assert!(
        duplicate.stderr.contains("slug is already taken"),
        "{}",
        duplicate.stderr
    );

    let listed = tenant_list().await;
    let line = listed
        .lines()
        .find(|line| line.starts_with(slug.as_str()))
        .expect("listed");
    assert!(
        line.contains("active") && line.contains("CLI Corp"),
        "{line}"
    );

    let suspended = run(tenantdesk().args(["tenant", "suspend", slug.as_str()])).await;
    assert!(suspended.success, "{}", suspended.stderr);
    let line = tenant_list()
        .await
        .lines()
        .find(|l| l.starts_with(slug.as_str()))
        .map(str::to_owned);
    assert!(line.expect("listed").contains("suspended"));

    let resumed = run(tenantdesk().args(["tenant", "resume", slug.as_str()])).await;
    assert!(resumed.success, "{}", resumed.stderr);

    let token = run(tenantdesk().args([
        "tenant",
        "token",
        "create",
        slug.as_str(),
        "--name",
        "Zapier",
    ]))
    .await;
    assert!(token.success, "{}", token.stderr);
    assert!(
        token.stdout.trim().starts_with("tdk_"),
        "the token is printed: {}",
        token.stdout
    );
    assert!(token.stderr.contains("shown once"));

    let unknown = run(tenantdesk().args(["tenant", "suspend", "no-such-tenant-here"])).await;
    assert!(!unknown.success);
    assert!(
        unknown
            .stderr
            .contains("no tenant has the slug no-such-tenant-here"),
        "{}",
        unknown.stderr
    );
    let unknown = run(tenantdesk().args([
        "tenant",
        "token",
        "create",
        "no-such-tenant-here",
        "--name",
        "x",
    ]))
    .await;
    assert!(!unknown.success);
}

#[tokio::test]
async fn tenant_commands_without_the_owner_url_say_what_is_missing() {
    let outcome = run(tenantdesk()
        .env_remove("TENANTDESK_MIGRATION_URL")
        .args(["tenant", "list"]))
    .await;
    assert!(!outcome.success);
    assert!(
        outcome.stderr.contains("TENANTDESK_MIGRATION_URL"),
        "{}",
        outcome.stderr
    );
}

#[tokio::test]
async fn serve_refuses_a_runtime_connection_that_bypasses_rls() {
    let outcome = run(tenantdesk()
        .env("TENANTDESK_DATABASE_URL", &database().owner_url)
        .env_remove("TENANTDESK_MIGRATION_URL")
        .args(["serve", "--listen", "127.0.0.1:0"]))
    .await;
    assert!(
        !outcome.success,
        "serve must refuse a superuser runtime connection"
    );
    assert!(outcome.stderr.contains("superuser"), "{}", outcome.stderr);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

/// Processes whose command line mentions `needle` (the data directory of a cluster).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(format!(
                    "{}: {cmdline}",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    found
}

#[tokio::test]
async fn the_embedded_default_serves_both_demo_portals_and_stops_cleanly() {
    let data_dir = scratch_dir("embedded");
    let port = free_port();
    let embedded = || {
        let mut command = Command::new(tenantdesk_binary());
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    };
    let mut server = embedded()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");

    let mut ready = false;
    for _ in 0..600 {
        if let Ok(response) = http.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            ready = true;
            break;
        }
        assert!(
            server.try_wait().expect("status").is_none(),
            "serve exited during start-up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ready,
        "the embedded server did not become ready within a minute"
    );

    for (host, name, colour) in [
        ("acme.localhost", "Acme Corp", "#c2410c"),
        ("globex.localhost", "Globex", "#15803d"),
    ] {
        let page = http
            .get(format!("{base}/"))
            .header("Host", format!("{host}:{port}"))
            .send()
            .await
            .expect("portal");
        assert_eq!(page.status(), 200, "{host}");
        let page = page.text().await.expect("body");
        assert!(
            page.contains(name) && page.contains(colour),
            "{host} shows {name} in {colour}"
        );
    }

    let second = run(&mut embedded()).await;
    assert!(
        !second.success,
        "a second serve on the same data directory must refuse"
    );
    assert!(second.stderr.contains("in use"), "{}", second.stderr);

    let pid =
        nix::unistd::Pid::from_raw(i32::try_from(server.id().expect("pid")).expect("pid fits"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let status = tokio::time::timeout(Duration::from_secs(60), server.wait())
        .await
        .expect("serve stops after SIGTERM")
        .expect("exit status");
    assert!(status.success(), "serve exits cleanly on SIGTERM: {status}");
    let leftovers = processes_mentioning(&data_dir.display().to_string());
    assert!(
        leftovers.is_empty(),
        "no process of the cluster may outlive serve: {leftovers:?}"
    );
    assert!(
        !data_dir.join("postgres/postmaster.pid").exists(),
        "postgres shut down cleanly"
    );
}

#[tokio::test]
async fn tenant_create_invites_the_first_admin_who_signs_in_through_the_mail() {
    let _turn = tenantdesk_tests::MAIL_WORKERS.lock().await;
    let app = tenantdesk_tests::spawn_app().await;
    let slug = random_slug();
    let admin = format!("first-admin@{}", tenantdesk_tests::unique_mail_domain());
    let created = run(tenantdesk()
        .env("TENANTDESK_BASE_URL", "http://localhost")
        .args([
            "tenant",
            "create",
            "--slug",
            slug.as_str(),
            "--name",
            "Invited Corp",
            "--admin-email",
            &admin,
            "--admin-name",
            "Ida Admin",
        ]))
    .await;
    assert!(created.success, "{}", created.stderr);
    assert!(
        created
            .stdout
            .contains(&format!("invited {admin} as Admin"))
    );

    let sink = tenantdesk_tests::smtp::SmtpSink::start();
    let transport = tenantdesk::mail_worker::Transport::new(
        Some(&sink.url()),
        std::path::Path::new("/nonexistent"),
    )
    .expect("smtp");
    let config = tenantdesk::mail_worker::WorkerConfig::new(
        domain::EmailAddress::parse(tenantdesk_tests::MAIL_FROM).expect("from"),
        3,
    );
    let mut received = Vec::new();
    for _ in 0..200 {
        tenantdesk::mail_worker::deliver_batch(&app.state.store, &transport, &config)
            .await
            .expect("batch");
        received = sink.messages_to(&admin);
        if !received.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mail = received.first().expect("the invitation arrives");
    assert!(
        mail.header("From")
            .is_some_and(|from| from.contains("Invited Corp"))
    );
    let host = format!("{slug}.localhost");
    let prefix = format!("http://{host}/agent/invitation/");
    let link = mail
        .text
        .split_whitespace()
        .find(|word| word.starts_with(&prefix))
        .expect("the mail carries the link");
    let path = &link["http://".len() + host.len()..];

    let mut visitor = app.visitor(&host);
    assert!(visitor.get(path).await.body.contains("Welcome, Ida Admin"));
    let password = "harbour velvet quartz meadow";
    let set = visitor
        .post_form(path, &[("password", password), ("confirm", password)])
        .await;
    assert_eq!(set.location.as_deref(), Some("/agent/login?welcome=1"));
    visitor.sign_in_agent(&admin, password).await;
    assert!(visitor.get("/agent").await.body.contains("Admin"));
}

#[tokio::test]
async fn tenant_create_with_a_bad_admin_email_creates_nothing() {
    let slug = random_slug();
    let outcome = run(tenantdesk().args([
        "tenant",
        "create",
        "--slug",
        slug.as_str(),
        "--name",
        "Half Corp",
        "--admin-email",
        "not-an-address",
    ]))
    .await;
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome.stderr.contains("email address"),
        "{}",
        outcome.stderr
    );
    assert!(!tenant_list().await.contains(slug.as_str()));
}
