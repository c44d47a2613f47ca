//! The deployment files, checked without helm or a container engine: the Helm chart under
//! helm/tenantdesk (its YAML parses, every `.Values` path a template uses exists, every value is
//! documented, every environment variable the binary reads can be set, secrets only by
//! reference) and deploy/compose.yaml (wires what the binary needs into each service).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use serde_yaml_ng::Value;

/// Variables the binary reads outside clap, each with the `TENANTDESK_*` variable that wins
/// over it (cli.rs falls back to DATABASE_URL only when TENANTDESK_DATABASE_URL is unset, so a
/// chart setting the latter covers both). `None`: read as it is, so the chart must set it.
const READ_OUTSIDE_CLAP: &[(&str, Option<&str>)] = &[
    ("DATABASE_URL", Some("TENANTDESK_DATABASE_URL")),
    ("REDIS_URL", Some("TENANTDESK_REDIS_URL")),
    ("SMTP_URL", Some("TENANTDESK_SMTP_URL")),
    // tracing's EnvFilter::try_from_default_env (telemetry.rs).
    ("RUST_LOG", None),
];

/// Variables that `std::env::var` reads in services/ that are not configuration.
const NOT_CONFIGURATION: &[(&str, &str)] = &[(
    "PATH",
    "embedded_postgres.rs looks for the PostgreSQL programs on it",
)];

/// Secret variables: the chart takes them from Secrets (secretKeyRef), never from values.
const SECRET_VARIABLES: &[&str] = &[
    "TENANTDESK_DATABASE_URL",
    "TENANTDESK_MIGRATION_URL",
    "TENANTDESK_REDIS_URL",
    "TENANTDESK_SMTP_URL",
    "TENANTDESK_SECRET_KEY",
    // Often carries a collector's API key.
    "OTEL_EXPORTER_OTLP_HEADERS",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn chart_dir() -> PathBuf {
    repo_root().join("helm/tenantdesk")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

fn parse_yaml(path: &Path) -> Value {
    let mut value: Value = serde_yaml_ng::from_str(&read(path))
        .unwrap_or_else(|error| panic!("{} is not valid YAML: {error}", path.display()));
    value
        .apply_merge()
        .unwrap_or_else(|error| panic!("{}: a `<<` merge key is wrong: {error}", path.display()));
    value
}

fn values() -> Value {
    parse_yaml(&chart_dir().join("values.yaml"))
}

/// Every file in the chart's templates/ (manifests, `_helpers.tpl`, NOTES.txt), by name, with
/// its `{{/* ... */}}` comments removed.
fn templates() -> BTreeMap<String, String> {
    let dir = chart_dir().join("templates");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("listing {}: {error}", dir.display()));
    let mut templates = BTreeMap::new();
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_file() {
            let name = path
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            templates.insert(name, strip_template_comments(&read(&path)));
        }
    }
    assert!(
        templates.contains_key("_helpers.tpl"),
        "{} has no _helpers.tpl; found {:?}",
        dir.display(),
        templates.keys().collect::<Vec<_>>()
    );
    templates
}

/// The text without template comments: `{{/* ... */}}`, also written `{{- /* ... */ -}}`.
fn strip_template_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = rest[open + 2..].trim_start_matches('-').trim_start();
        if let Some(comment) = after.strip_prefix("/*") {
            out.push_str(&rest[..open]);
            let end = comment
                .find("*/")
                .unwrap_or_else(|| panic!("an unclosed template comment: {}", &rest[open..]));
            let tail = comment[end + 2..].trim_start().trim_start_matches('-');
            rest = tail.strip_prefix("}}").unwrap_or_else(|| {
                panic!("a template comment not closed by */}}: {}", &rest[open..])
            });
        } else {
            out.push_str(&rest[..open + 2]);
            rest = &rest[open + 2..];
        }
    }
    out.push_str(rest);
    out
}

/// `.Values.a.b.c` paths in a template, as ["a", "b", "c"].
fn values_paths(template: &str) -> BTreeSet<Vec<String>> {
    let mut paths = BTreeSet::new();
    for (at, _) in template.match_indices(".Values") {
        let preceded_by_word = template[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if preceded_by_word {
            continue;
        }
        let mut path = Vec::new();
        let mut rest = &template[at + ".Values".len()..];
        while let Some(after_dot) = rest.strip_prefix('.') {
            let len = after_dot
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after_dot.len());
            if len == 0 {
                break;
            }
            path.push(after_dot[..len].to_owned());
            rest = &after_dot[len..];
        }
        if !path.is_empty() {
            paths.insert(path);
        }
    }
    paths
}

fn lookup<'a>(tree: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(tree, |node, key| node.as_mapping()?.get(key.as_str()))
}

/// Every name the binary reads from the environment: clap's `env` of every argument of every
/// command, what services/ reads with `std::env::var`, and READ_OUTSIDE_CLAP.
fn binary_variables() -> BTreeSet<String> {
    fn from_clap(command: &clap::Command, names: &mut BTreeSet<String>) {
        for arg in command.get_arguments() {
            if let Some(env) = arg.get_env() {
                names.insert(env.to_string_lossy().into_owned());
            }
        }
        for sub in command.get_subcommands() {
            from_clap(sub, names);
        }
    }
    let mut names = BTreeSet::new();
    from_clap(&tenantdesk::Cli::command(), &mut names);
    assert!(
        names.contains("TENANTDESK_DATABASE_URL") && names.contains("TENANTDESK_LISTEN"),
        "clap's arguments should name their variables; found {names:?}"
    );
    // A name read with std::env::var that is not configuration goes in NOT_CONFIGURATION.
    for (name, _file) in std_env_reads() {
        if !NOT_CONFIGURATION
            .iter()
            .any(|(ignored, _)| *ignored == name)
        {
            names.insert(name);
        }
    }
    names.extend(READ_OUTSIDE_CLAP.iter().map(|(name, _)| (*name).to_owned()));
    names
}

/// (name, file) of every `env::var("NAME")` and `env::var_os("NAME")` in services/*/src.
fn std_env_reads() -> Vec<(String, String)> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir)
            .unwrap_or_else(|error| panic!("listing {}: {error}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    let root = repo_root();
    let mut files = Vec::new();
    walk(&root.join("services"), &mut files);
    let mut reads = Vec::new();
    for file in files {
        let text = read(&file);
        for call in ["env::var(\"", "env::var_os(\""] {
            for (at, _) in text.match_indices(call) {
                let rest = &text[at + call.len()..];
                if let Some(end) = rest.find('"') {
                    let shown = file
                        .strip_prefix(&root)
                        .unwrap_or(&file)
                        .display()
                        .to_string();
                    reads.push((rest[..end].to_owned(), shown));
                }
            }
        }
    }
    assert!(
        reads.iter().any(|(name, _)| name == "DATABASE_URL"),
        "cli.rs reads DATABASE_URL with std::env::var, but the scan of services/ found only {reads:?}"
    );
    reads
}

/// Whether `name` occurs in `text` as a whole word (not inside TENANTDESK_DATABASE_URL, say).
fn mentions(text: &str, name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// Every key and string in a YAML tree.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Mapping(map) => {
            for (key, value) in map {
                strings(key, out);
                strings(value, out);
            }
        }
        Value::Tagged(tagged) => strings(&tagged.value, out),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[test]
fn chart_yaml_and_values_yaml_parse() {
    let chart = parse_yaml(&chart_dir().join("Chart.yaml"));
    for key in ["apiVersion", "name", "version", "appVersion"] {
        assert!(
            chart
                .get(key)
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty()),
            "helm/tenantdesk/Chart.yaml has no {key}"
        );
    }
    assert_eq!(
        chart["apiVersion"], "v2",
        "Chart.yaml: Helm 3 charts are apiVersion v2"
    );
    assert_eq!(chart["name"], "tenantdesk", "Chart.yaml: the chart's name");
    assert!(
        values().as_mapping().is_some_and(|map| !map.is_empty()),
        "helm/tenantdesk/values.yaml should be a mapping of values"
    );
}

#[test]
fn chart_templates_use_only_values_that_exist() {
    let values = values();
    let mut missing = Vec::new();
    let mut used = 0;
    for (name, text) in templates() {
        for path in values_paths(&text) {
            used += 1;
            if lookup(&values, &path).is_none() {
                missing.push(format!("{name}: .Values.{}", path.join(".")));
            }
        }
    }
    assert!(
        used > 50,
        "found only {used} .Values paths in the templates"
    );
    assert!(
        missing.is_empty(),
        "templates use values that helm/tenantdesk/values.yaml does not define:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn chart_templates_close_every_block() {
    for (name, text) in templates() {
        let mut open: Vec<&str> = Vec::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("{{") {
            let end = rest[start..]
                .find("}}")
                .unwrap_or_else(|| panic!("{name}: an action without }}: {}", &rest[start..]));
            let action = rest[start + 2..start + end].trim_matches('-').trim();
            let keyword = action.split_whitespace().next().unwrap_or_default();
            match keyword {
                "if" | "with" | "range" | "define" | "block" => open.push(keyword),
                "end" => {
                    assert!(
                        open.pop().is_some(),
                        "{name}: {{{{ end }}}} without an open block before: {}",
                        &rest[start..].lines().next().unwrap_or_default()
                    );
                }
                _ => {}
            }
            rest = &rest[start + end + 2..];
        }
        assert!(open.is_empty(), "{name}: blocks left open: {open:?}");
    }
}

#[test]
fn every_variable_the_binary_reads_can_be_set_through_the_chart() {
    // YAML comment lines do not set anything.
    let templates = templates()
        .into_values()
        .flat_map(|text| {
            text.lines()
                .filter(|line| !line.trim_start().starts_with('#'))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut in_values = Vec::new();
    strings(&values(), &mut in_values);
    let set = |name: &str| mentions(&templates, name) || in_values.iter().any(|s| s == name);
    let mut missing = Vec::new();
    for name in binary_variables() {
        let preferred = READ_OUTSIDE_CLAP
            .iter()
            .find(|(fallback, _)| *fallback == name)
            .and_then(|(_, preferred)| *preferred);
        if !(set(&name) || preferred.is_some_and(set)) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "the binary reads these variables but helm/tenantdesk cannot set them (add each to the \
         ConfigMap in templates/_helpers.tpl with a value in values.yaml, or as a Secret \
         reference; a name that is not configuration goes in NOT_CONFIGURATION in \
         tests/suite/chart.rs): {missing:?}"
    );
}

#[test]
fn chart_takes_secrets_only_by_reference() {
    for (name, text) in templates() {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            for secret in SECRET_VARIABLES {
                if line.trim() == format!("- name: {secret}") {
                    let next = lines[i + 1..].iter().take(3).copied().collect::<Vec<_>>();
                    assert!(
                        next.iter().any(|l| l.contains("secretKeyRef:")),
                        "{name}: {secret} must come from a secretKeyRef, not a value: {next:?}"
                    );
                } else if mentions(line, secret)
                    && line.trim_start().starts_with(&format!("{secret}:"))
                {
                    panic!(
                        "{name}: {secret} is in configuration data, where secrets do not belong"
                    );
                }
            }
        }
    }
    let mut in_values = Vec::new();
    strings(&values(), &mut in_values);
    for scheme in [
        "postgres://",
        "postgresql://",
        "redis://",
        "rediss://",
        "smtp://",
        "smtps://",
    ] {
        let inline: Vec<&String> = in_values.iter().filter(|s| s.contains(scheme)).collect();
        assert!(
            inline.is_empty(),
            "helm/tenantdesk/values.yaml holds a connection URL ({inline:?}): URLs carry \
             passwords and belong in a Secret named by secrets.*.existingSecret"
        );
    }
    let secrets = &values()["secrets"];
    for key in ["database", "migration", "redis", "smtp", "otlpHeaders"] {
        for field in ["existingSecret", "key"] {
            assert!(
                secrets[key].get(field).is_some(),
                "values.yaml: secrets.{key}.{field} is missing"
            );
        }
    }
}

#[test]
fn chart_readme_documents_every_value() {
    let readme_path = chart_dir().join("README.md");
    let readme = read(&readme_path);
    let documented: BTreeSet<String> = readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|cell| cell.split_once('`').map(|(path, _)| path.to_owned()))
        .collect();
    fn leaves(value: &Value, prefix: &str, out: &mut Vec<String>) {
        match value.as_mapping() {
            Some(map) if !map.is_empty() => {
                for (key, child) in map {
                    let key = key.as_str().expect("values.yaml keys are strings");
                    let path = if prefix.is_empty() {
                        key.to_owned()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    leaves(child, &path, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }
    let mut all = Vec::new();
    leaves(&values(), "", &mut all);
    let undocumented: Vec<&String> = all
        .iter()
        .filter(|path| {
            // A row for a path covers everything under it (web.livenessProbe, say).
            let mut prefix = path.as_str();
            loop {
                if documented.contains(prefix) {
                    return false;
                }
                match prefix.rsplit_once('.') {
                    Some((parent, _)) => prefix = parent,
                    None => return true,
                }
            }
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "{} has no table row (| `name` | default | meaning |) for: {undocumented:?}",
        readme_path.display()
    );
}

/// A compose service's environment as a map, from either the mapping or the `- K=V` list form.
fn environment(service: &Value) -> BTreeMap<String, String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    };
    match service.get("environment") {
        Some(Value::Mapping(map)) => map.iter().map(|(k, v)| (scalar(k), scalar(v))).collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|item| item.as_str()?.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The host of a URL such as postgres://user:password@postgres:5432/db.
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    host_port.split(':').next().unwrap_or_default()
}

fn url_user(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    authority.rsplit_once('@').map_or("", |(userinfo, _)| {
        userinfo.split(':').next().unwrap_or_default()
    })
}

#[test]
fn compose_wires_the_variables_without_defaults() {
    let deploy = repo_root().join("deploy");
    let compose = parse_yaml(&deploy.join("compose.yaml"));
    let services = compose["services"]
        .as_mapping()
        .expect("deploy/compose.yaml has services");
    let service = |name: &str| {
        services
            .get(name)
            .unwrap_or_else(|| panic!("deploy/compose.yaml has no `{name}` service"))
    };

    // What the binary needs that has no default, from clap itself.
    let mut without_default = BTreeSet::new();
    fn collect(command: &clap::Command, out: &mut BTreeSet<String>) {
        for arg in command.get_arguments() {
            if let Some(env) = arg.get_env()
                && arg.get_default_values().is_empty()
            {
                out.insert(env.to_string_lossy().into_owned());
            }
        }
        for sub in command.get_subcommands() {
            collect(sub, out);
        }
    }
    collect(&tenantdesk::Cli::command(), &mut without_default);
    for expected in [
        "TENANTDESK_DATABASE_URL",
        "TENANTDESK_MIGRATION_URL",
        "TENANTDESK_REDIS_URL",
        "TENANTDESK_SMTP_URL",
    ] {
        assert!(
            without_default.contains(expected),
            "{expected} should be an option without a default; found {without_default:?}"
        );
    }
    // The default base URL (http://localhost:8080) is only right by accident: set it.
    without_default.insert("TENANTDESK_BASE_URL".to_owned());

    let mut problems = Vec::new();
    for name in ["migrate", "web", "worker"] {
        let env = environment(service(name));
        // Without a runtime URL the binary would start an embedded PostgreSQL.
        let mut needed: Vec<&str> = vec!["TENANTDESK_DATABASE_URL"];
        match name {
            "migrate" => needed.push("TENANTDESK_MIGRATION_URL"),
            _ => needed.extend(
                without_default
                    .iter()
                    .map(String::as_str)
                    .filter(|v| *v != "TENANTDESK_MIGRATION_URL"),
            ),
        }
        for variable in needed {
            match env.get(variable) {
                None => problems.push(format!("service `{name}` does not set {variable}")),
                Some(value) if value.is_empty() => {
                    problems.push(format!("service `{name}` sets {variable} empty"))
                }
                Some(value) if variable.ends_with("_URL") && variable != "TENANTDESK_BASE_URL" => {
                    let host = url_host(value);
                    if services.get(host).is_none() {
                        problems.push(format!(
                            "service `{name}`: {variable} points at `{host}`, which is no service"
                        ));
                    }
                }
                Some(_) => {}
            }
        }
        if name != "migrate" && env.contains_key("TENANTDESK_MIGRATION_URL") {
            problems.push(format!(
                "service `{name}` holds the owner URL; only `migrate` should (it migrates first)"
            ));
        }
        if name != "migrate" {
            let depends = &service(name)["depends_on"]["migrate"]["condition"];
            if depends.as_str() != Some("service_completed_successfully") {
                problems.push(format!(
                    "service `{name}` should depend on migrate with condition \
                     service_completed_successfully, not {depends:?}"
                ));
            }
        }
    }

    let web = environment(service("web"));
    match web.get("TENANTDESK_LISTEN") {
        Some(listen) if !listen.starts_with("127.") && !listen.starts_with("localhost") => {}
        other => problems.push(format!(
            "service `web` must listen beyond its container (TENANTDESK_LISTEN=0.0.0.0:8080), not {other:?}"
        )),
    }
    if web.get("TENANTDESK_RUN_WORKER").map(String::as_str) != Some("false") {
        problems.push(
            "service `web` should leave mail to `worker`: TENANTDESK_RUN_WORKER=false".to_owned(),
        );
    }
    for name in ["postgres", "redis", "web"] {
        if service(name).get("healthcheck").is_none() {
            problems.push(format!("service `{name}` has no healthcheck"));
        }
    }

    // The roles in the URLs are the ones postgres-init.sql creates.
    let init = read(&deploy.join("postgres-init.sql"));
    if let Some(runtime_url) = web.get("TENANTDESK_DATABASE_URL")
        && url_user(runtime_url) != "tenantdesk_app"
    {
        problems.push(format!(
            "TENANTDESK_DATABASE_URL should use the runtime role tenantdesk_app, not `{}`",
            url_user(runtime_url)
        ));
    }
    let migrate = environment(service("migrate"));
    if let Some(owner_url) = migrate.get("TENANTDESK_MIGRATION_URL") {
        let owner = url_user(owner_url);
        for statement in [
            format!("create role {owner} login"),
            "create role tenantdesk_app login".to_owned(),
            format!("grant tenantdesk_app to {owner};"),
            format!("create database tenantdesk owner {owner};"),
        ] {
            if !init.contains(&statement) {
                problems.push(format!("deploy/postgres-init.sql lacks `{statement}`"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "deploy/compose.yaml:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn template_comment_stripping_and_path_finding() {
    let text = "a {{/* .Values.gone */}} b {{- /* x\n .Values.gone.too */ -}} c {{ .Values.web.port | quote }} {{ $.Values.x_y.z }}";
    let stripped = strip_template_comments(text);
    assert_eq!(
        stripped,
        "a  b  c {{ .Values.web.port | quote }} {{ $.Values.x_y.z }}"
    );
    let paths: Vec<String> = values_paths(&stripped)
        .into_iter()
        .map(|p| p.join("."))
        .collect();
    assert_eq!(paths, ["web.port", "x_y.z"]);
    assert!(mentions("name: RUST_LOG\n", "RUST_LOG"));
    assert!(!mentions("TENANTDESK_DATABASE_URL", "DATABASE_URL"));
    assert_eq!(url_host("postgres://u:p@db:5432/x"), "db");
    assert_eq!(url_user("postgres://u:p@db:5432/x"), "u");
    assert_eq!(url_host("smtp://mailpit:1025"), "mailpit");
}
