//! `/admin/sign-in`: the tenant admin's sign-in providers (OpenID Connect, LDAP, trusted
//! header): the list in sign-in order, add and edit forms per kind, delete, the built-in
//! password per audience with its lockout protection, and the tools (LDAP "test connection"
//! and "look up user", the OIDC "test sign-in" link). Needs [`Permission::WorkspaceSettings`]
//! like the API. A form becomes the JSON body the API takes and goes through the same `*_in`
//! functions, so a page accepts nothing the API would refuse. Secrets are write-only here too:
//! the form shows whether one is stored, never the secret.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use store::TenantTx;
use store::sign_in_providers::{ProviderAudience, ProviderKind, SignInProvider};
use uuid::Uuid;

use crate::AppState;
use crate::api::sign_in_providers::{self as api, ToolResult};
use crate::auth::SignedInAgent;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::error::{ApiError, PageError};
use crate::pages::{Brand, render};
use crate::sign_in::ldap;

fn allowed(agent: SignedInAgent) -> Result<SignedInAgent, PageError> {
    agent.require(api::PERMISSION)?;
    Ok(agent)
}

/// A form as sent: every name with its values (unchecked boxes are absent).
#[derive(Deserialize)]
#[serde(transparent)]
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    fn text(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.replace("\r\n", "\n"))
            .unwrap_or_default()
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(key, _)| key == name)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum InputKind {
    Text,
    Number,
    Password,
    Checkbox,
    Select,
    Checkboxes,
    Textarea,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct Input {
    pub name: String,
    pub label: &'static str,
    kind: InputKind,
    pub value: String,
    pub choices: Vec<Choice>,
    pub hint: String,
    pub error: Option<String>,
}

impl Input {
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            InputKind::Text => "text",
            InputKind::Number => "number",
            InputKind::Password => "password",
            InputKind::Checkbox => "checkbox",
            InputKind::Select => "select",
            InputKind::Checkboxes => "checkboxes",
            InputKind::Textarea => "textarea",
        }
    }

    pub fn checked(&self) -> bool {
        self.value == "true"
    }
}

/// How a kind's setting is entered: key, label, input, hint.
type SettingSpec = (&'static str, &'static str, InputKind, &'static str);

fn setting_specs(kind: ProviderKind) -> &'static [SettingSpec] {
    use InputKind::*;
    match kind {
        ProviderKind::Oidc => &[
            (
                "issuer_url",
                "Issuer URL",
                Text,
                "e.g. https://login.microsoftonline.com/{tenant}/v2.0; discovery reads /.well-known/openid-configuration below it.",
            ),
            ("client_id", "Client id", Text, ""),
            (
                "scopes",
                "Scopes",
                Text,
                "Separated by spaces; openid is required.",
            ),
            (
                "use_userinfo",
                "Read the userinfo endpoint too",
                Checkbox,
                "",
            ),
        ],
        ProviderKind::Ldap => &[
            (
                "url",
                "Directory URL",
                Text,
                "ldap://host:389 (with StartTLS below) or ldaps://host:636",
            ),
            ("starttls", "Use StartTLS (ldap:// only)", Checkbox, ""),
            (
                "bind_dn",
                "Bind DN of the service account",
                Text,
                "Empty: search anonymously. Its password goes in the secret field.",
            ),
            ("base_dn", "Base DN", Text, "e.g. dc=acme,dc=example"),
            (
                "user_filter",
                "User filter",
                Text,
                "{login} is replaced by the typed name, escaped (RFC 4515).",
            ),
            (
                "group_dn",
                "Required group DN",
                Text,
                "Empty: no group required.",
            ),
            (
                "group_member_attribute",
                "Group member attribute",
                Text,
                "member (holds DNs) or memberUid (holds logins).",
            ),
            (
                "timeout_seconds",
                "Timeout (seconds)",
                Number,
                "1 to 60, per step.",
            ),
            (
                "refuse_when_unreachable",
                "Refuse sign-in when the directory is unreachable",
                Checkbox,
                "Unticked: the next provider is tried (OTRS \"Die\" off).",
            ),
        ],
        ProviderKind::TrustedHeader => &[
            (
                "header",
                "Header name",
                Text,
                "e.g. X-Forwarded-User or REMOTE_USER",
            ),
            (
                "proxies",
                "Proxy addresses (CIDR)",
                Textarea,
                "One per line, e.g. 10.0.0.0/8. The header is ignored from every other address.",
            ),
            (
                "required_header",
                "Required header",
                Text,
                "Optional: a second header the proxy must set.",
            ),
            ("required_value", "Required header's value", Text, ""),
            (
                "rewrite_pattern",
                "Rewrite pattern (regular expression)",
                Text,
                "Optional, e.g. ^(.*)@corp\\.example$ to strip a domain.",
            ),
            (
                "rewrite_replacement",
                "Rewrite replacement",
                Text,
                "e.g. $1",
            ),
        ],
    }
}

/// Lists shown in one text box: scopes by spaces, proxies one per line.
fn list_separator(key: &str) -> &'static str {
    if key == "scopes" { " " } else { "\n" }
}

fn value_text(value: Option<&Value>, key: &str) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(list_separator(key)),
        _ => String::new(),
    }
}

/// The form's settings as the API's `settings` object.
fn settings_of(kind: ProviderKind, form: &FormFields) -> Value {
    let mut settings = Map::new();
    for (key, _, input, _) in setting_specs(kind) {
        let name = format!("settings.{key}");
        let text = form.text(&name);
        let value = match (key, input) {
            (_, InputKind::Checkbox) => Value::Bool(form.checked(&name)),
            (&"scopes" | &"proxies", _) => Value::Array(
                text.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            ),
            (_, InputKind::Number) => text
                .trim()
                .parse::<i64>()
                .map_or_else(|_| Value::String(text.clone()), Value::from),
            _ if text.trim().is_empty() => match *key {
                // Required settings stay as typed, so the API names them.
                "issuer_url" | "client_id" | "url" | "base_dn" | "header" => {
                    Value::String(String::new())
                }
                "rewrite_replacement" => Value::String("$1".into()),
                "user_filter" => continue,
                "group_member_attribute" => continue,
                _ => Value::Null,
            },
            _ => Value::String(text.trim().to_owned()),
        };
        settings.insert((*key).to_owned(), value);
    }
    Value::Object(settings)
}

/// "attribute = field" lines.
fn attribute_map_text(map: &Value) -> String {
    map.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k} = {}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn attribute_map_of(text: &str) -> Value {
    let mut map = Map::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (attribute, field) = line.split_once('=').unwrap_or((line, ""));
        map.insert(
            attribute.trim().to_owned(),
            Value::String(field.trim().to_owned()),
        );
    }
    Value::Object(map)
}

/// The API body a submitted form stands for.
fn body_of(kind: ProviderKind, form: &FormFields, patch: bool) -> Value {
    let nullable = |name: &str| {
        let text = form.text(name);
        if text.trim().is_empty() {
            Value::Null
        } else {
            Value::String(text.trim().to_owned())
        }
    };
    let position = form.text("position");
    let mut body = json!({
        "name": form.text("name"),
        "enabled": form.checked("enabled"),
        "audience": form.text("audience"),
        "position": position.trim().parse::<i64>().map_or_else(|_| Value::String(position.clone()), Value::from),
        "allowed_domains": form.text("allowed_domains")
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>(),
        "jit_provisioning": form.checked("jit_provisioning"),
        "jit_role_id": nullable("jit_role_id"),
        "jit_organization_id": nullable("jit_organization_id"),
        "jit_group_ids": form.all("jit_group_ids"),
        "attribute_map": attribute_map_of(&form.text("attribute_map")),
        "update_on_sign_in": form.checked("update_on_sign_in"),
        "settings": settings_of(kind, form),
    });
    if let Some(object) = body.as_object_mut() {
        if !patch {
            object.insert("kind".into(), Value::String(kind.as_str().into()));
        }
        let secret = form.text("secret");
        if form.checked("remove_secret") {
            object.insert("secret".into(), Value::Null);
        } else if !secret.is_empty() {
            object.insert("secret".into(), Value::String(secret));
        }
    }
    body
}

/// What the form offers to choose from.
struct Lookups {
    roles: Vec<(Uuid, String)>,
    groups: Vec<(Uuid, String)>,
}

impl Lookups {
    async fn load(tx: &mut TenantTx) -> Result<Self, PageError> {
        Ok(Self {
            roles: store::agents::roles(tx)
                .await?
                .into_iter()
                .map(|r| (r.id, r.name))
                .collect(),
            groups: store::customer_groups::list(tx)
                .await?
                .into_iter()
                .map(|g| (g.id, g.name))
                .collect(),
        })
    }
}

/// The values a form shows, by input name (checkbox: "true").
type Values = std::collections::BTreeMap<String, String>;

fn stored_values(provider: &SignInProvider) -> Values {
    let mut values = Values::new();
    values.insert("name".into(), provider.name.clone());
    values.insert("enabled".into(), provider.enabled.to_string());
    values.insert("audience".into(), provider.audience.as_str().into());
    values.insert("position".into(), provider.position.to_string());
    values.insert(
        "allowed_domains".into(),
        provider.allowed_domains.join(", "),
    );
    values.insert(
        "jit_provisioning".into(),
        provider.jit_provisioning.to_string(),
    );
    values.insert(
        "jit_role_id".into(),
        provider
            .jit_role_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    );
    values.insert(
        "jit_organization_id".into(),
        provider
            .jit_organization_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    );
    values.insert(
        "jit_group_ids".into(),
        provider
            .jit_group_ids
            .iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(","),
    );
    values.insert(
        "attribute_map".into(),
        attribute_map_text(&provider.attribute_map),
    );
    values.insert(
        "update_on_sign_in".into(),
        provider.update_on_sign_in.to_string(),
    );
    for (key, _, _, _) in setting_specs(provider.kind) {
        values.insert(
            format!("settings.{key}"),
            value_text(provider.settings.get(*key), key),
        );
    }
    values
}

fn default_values(kind: ProviderKind) -> Values {
    let mut values = Values::new();
    values.insert("audience".into(), "agents".into());
    values.insert("position".into(), "0".into());
    values.insert("enabled".into(), "true".into());
    let defaults: &[(&str, &str)] = match kind {
        ProviderKind::Oidc => &[("scopes", "openid email profile")],
        ProviderKind::Ldap => &[
            ("user_filter", "(&(objectClass=inetOrgPerson)(uid={login}))"),
            ("group_member_attribute", "member"),
            ("timeout_seconds", "5"),
        ],
        ProviderKind::TrustedHeader => &[
            ("header", "X-Forwarded-User"),
            ("rewrite_replacement", "$1"),
        ],
    };
    for (key, value) in defaults {
        values.insert(format!("settings.{key}"), (*value).into());
    }
    values
}

fn entered_values(kind: ProviderKind, form: &FormFields) -> Values {
    let mut values = Values::new();
    for name in [
        "name",
        "audience",
        "position",
        "allowed_domains",
        "jit_role_id",
        "jit_organization_id",
        "attribute_map",
    ] {
        values.insert(name.into(), form.text(name));
    }
    for name in ["enabled", "jit_provisioning", "update_on_sign_in"] {
        values.insert(name.into(), form.checked(name).to_string());
    }
    values.insert("jit_group_ids".into(), form.all("jit_group_ids").join(","));
    for (key, _, input, _) in setting_specs(kind) {
        let name = format!("settings.{key}");
        let value = if *input == InputKind::Checkbox {
            form.checked(&name).to_string()
        } else {
            form.text(&name)
        };
        values.insert(name, value);
    }
    values
}

fn inputs(kind: ProviderKind, lookups: &Lookups, values: &Values, has_secret: bool) -> Vec<Input> {
    let value = |name: &str| values.get(name).cloned().unwrap_or_default();
    let input = |name: &str, label: &'static str, kind: InputKind, hint: &str| Input {
        name: name.to_owned(),
        label,
        kind,
        value: value(name),
        choices: Vec::new(),
        hint: hint.to_owned(),
        error: None,
    };
    let mut list = vec![
        input("name", "Name (the button's label)", InputKind::Text, ""),
        input("enabled", "Enabled", InputKind::Checkbox, ""),
        Input {
            choices: [
                ProviderAudience::Agents,
                ProviderAudience::EndUsers,
                ProviderAudience::Both,
            ]
            .into_iter()
            .map(|a| Choice {
                value: a.as_str().into(),
                label: a.label().into(),
                selected: value("audience") == a.as_str(),
            })
            .collect(),
            ..input("audience", "Who signs in with it", InputKind::Select, "")
        },
        input(
            "position",
            "Order",
            InputKind::Number,
            "Lowest first: the order of the buttons, and of LDAP directories tried in turn.",
        ),
    ];
    for (key, label, input_kind, hint) in setting_specs(kind) {
        list.push(input(&format!("settings.{key}"), label, *input_kind, hint));
    }
    if kind != ProviderKind::TrustedHeader {
        let secret_label = match kind {
            ProviderKind::Oidc => "Client secret",
            _ => "Bind password",
        };
        list.push(Input {
            value: String::new(),
            ..input(
                "secret",
                secret_label,
                InputKind::Password,
                if has_secret {
                    "A secret is stored (never shown). Leave empty to keep it."
                } else {
                    "No secret is stored."
                },
            )
        });
        if has_secret {
            list.push(Input {
                value: String::new(),
                ..input(
                    "remove_secret",
                    "Remove the stored secret",
                    InputKind::Checkbox,
                    "",
                )
            });
        }
    }
    list.push(input(
        "allowed_domains",
        "Allowed email domains",
        InputKind::Text,
        "Separated by commas; empty: any domain. Also routes the email-first sign-in.",
    ));
    list.push(input(
        "jit_provisioning",
        "Create the account at first sign-in",
        InputKind::Checkbox,
        "",
    ));
    let mut roles = vec![Choice {
        value: String::new(),
        label: "The built-in Agent role".into(),
        selected: value("jit_role_id").is_empty(),
    }];
    roles.extend(lookups.roles.iter().map(|(id, name)| Choice {
        value: id.to_string(),
        label: name.clone(),
        selected: value("jit_role_id") == id.to_string(),
    }));
    list.push(Input {
        choices: roles,
        ..input(
            "jit_role_id",
            "Role of agents created at first sign-in",
            InputKind::Select,
            "",
        )
    });
    list.push(input(
        "jit_organization_id",
        "Organization of end users created at first sign-in (its id)",
        InputKind::Text,
        "Optional.",
    ));
    let selected_groups = value("jit_group_ids");
    list.push(Input {
        choices: lookups
            .groups
            .iter()
            .map(|(id, name)| Choice {
                value: id.to_string(),
                label: name.clone(),
                selected: selected_groups.split(',').any(|g| g == id.to_string()),
            })
            .collect(),
        ..input(
            "jit_group_ids",
            "Customer groups of end users created at first sign-in",
            InputKind::Checkboxes,
            "",
        )
    });
    list.push(input(
        "attribute_map",
        "Attribute map",
        InputKind::Textarea,
        "One per line: provider claim or LDAP attribute = user field (first_name, last_name, phone, mobile, city, ... or custom.<key>).",
    ));
    list.push(input(
        "update_on_sign_in",
        "Update mapped fields at every sign-in",
        InputKind::Checkbox,
        "",
    ));
    list
}

/// Puts the API's field errors beside their inputs; the rest becomes the page's alert.
fn file_error(
    error: ApiError,
    inputs: &mut [Input],
    alert: &mut Option<String>,
) -> Result<(), PageError> {
    match error {
        ApiError::Validation(errors) => {
            for error in errors {
                match inputs.iter_mut().find(|i| i.name == error.field) {
                    Some(input) => input.error = Some(error.message),
                    None => {
                        let line = format!("{}: {}", error.field, error.message);
                        *alert = Some(match alert.take() {
                            Some(before) => format!("{before} {line}"),
                            None => line,
                        });
                    }
                }
            }
            Ok(())
        }
        ApiError::Conflict { field } => {
            match inputs.iter_mut().find(|i| i.name == field) {
                Some(input) => input.error = Some("is already taken".into()),
                None => *alert = Some(format!("{field} is already taken.")),
            }
            Ok(())
        }
        ApiError::Refused(why) | ApiError::Stale(why) => {
            *alert = Some(why);
            Ok(())
        }
        ApiError::NotFound => Err(PageError::NotFound),
        other => Err(PageError::Internal(Box::new(other))),
    }
}

pub struct ProviderRow {
    pub id: Uuid,
    pub name: String,
    pub kind: &'static str,
    pub audience: &'static str,
    pub enabled: bool,
    pub position: i32,
    pub has_secret: bool,
}

#[derive(Template)]
#[template(path = "admin_sign_in.html")]
struct ListPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    notice: Option<&'static str>,
    alert: Option<String>,
    rows: Vec<ProviderRow>,
    password_agents: bool,
    password_end_users: bool,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    done: Option<String>,
}

fn notice(query: &NoticeQuery) -> Option<&'static str> {
    Some(match query.done.as_deref()? {
        "created" => "The provider is added.",
        "saved" => "The provider is saved.",
        "deleted" => "The provider is deleted.",
        "password" => "Password sign-in is saved.",
        _ => return None,
    })
}

async fn list_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
) -> Result<ListPage<'a>, PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let providers = store::sign_in_providers::list(&mut tx).await?;
    let password = store::sign_in_providers::password_sign_in(&mut tx).await?;
    tx.commit().await?;
    Ok(ListPage {
        brand: Brand::from(&settings),
        section: "sign-in",
        csrf,
        notice: None,
        alert: None,
        rows: providers
            .into_iter()
            .map(|p| ProviderRow {
                id: p.id,
                kind: p.kind.label(),
                audience: p.audience.label(),
                enabled: p.enabled,
                position: p.position,
                has_secret: p.secret.is_some(),
                name: p.name,
            })
            .collect(),
        password_agents: password.agents,
        password_end_users: password.end_users,
    })
}

pub async fn list(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let mut page = list_page(&state, &me, &csrf).await?;
    page.notice = notice(&query);
    Ok(render(&page)?.into_response())
}

/// `POST /admin/sign-in/password`: the built-in password per audience.
pub async fn save_password(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let saved = api::set_password_in(
        &mut tx,
        Some(form.checked("password_agents")),
        Some(form.checked("password_end_users")),
    )
    .await;
    match saved {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/admin/sign-in?done=password").into_response())
        }
        Err(error) => {
            drop(tx);
            let mut page = list_page(&state, &me, &csrf).await?;
            let mut ignored: Vec<Input> = Vec::new();
            file_error(error, &mut ignored, &mut page.alert)?;
            Ok((StatusCode::CONFLICT, render(&page)?).into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "admin_sign_in_edit.html")]
struct EditPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    title: String,
    kind: &'static str,
    kind_label: &'static str,
    action: String,
    version: Option<i32>,
    inputs: Vec<Input>,
    failed: bool,
    alert: Option<String>,
    notice: Option<&'static str>,
    /// Set on the edit page of a saved provider.
    id: Option<Uuid>,
    tool: Option<ToolResult>,
    look_up_login: String,
}

#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    kind: String,
}

fn kind_of(raw: &str) -> Result<ProviderKind, PageError> {
    ProviderKind::parse(raw).ok_or(PageError::NotFound)
}

async fn new_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
    kind: ProviderKind,
    values: &Values,
) -> Result<EditPage<'a>, PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let lookups = Lookups::load(&mut tx).await?;
    tx.commit().await?;
    Ok(EditPage {
        brand: Brand::from(&settings),
        section: "sign-in",
        csrf,
        title: format!("Add a provider: {}", kind.label()),
        kind: kind.as_str(),
        kind_label: kind.label(),
        action: format!("/admin/sign-in?kind={}", kind.as_str()),
        version: None,
        inputs: inputs(kind, &lookups, values, false),
        failed: false,
        alert: None,
        notice: None,
        id: None,
        tool: None,
        look_up_login: String::new(),
    })
}

pub async fn new_form(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<NewQuery>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let kind = kind_of(&query.kind)?;
    let page = new_page(&state, &me, &csrf, kind, &default_values(kind)).await?;
    Ok(render(&page)?.into_response())
}

/// `POST /admin/sign-in?kind=..`: creates a provider.
pub async fn create(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<NewQuery>,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let kind = kind_of(&query.kind)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let created = api::create_in(
        &state.config.secret_key,
        &mut tx,
        body_of(kind, &form, false),
    )
    .await;
    let error = match created {
        Ok(provider) => {
            tx.commit().await?;
            return Ok(
                Redirect::to(&format!("/admin/sign-in/{}?done=created", provider.id))
                    .into_response(),
            );
        }
        Err(error) => error,
    };
    drop(tx);
    let mut page = new_page(&state, &me, &csrf, kind, &entered_values(kind, &form)).await?;
    page.failed = true;
    file_error(error, &mut page.inputs, &mut page.alert)?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

fn id_of(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| PageError::NotFound)
}

async fn edit_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
    id: Uuid,
) -> Result<(EditPage<'a>, SignInProvider), PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let provider = store::sign_in_providers::by_id(&mut tx, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let lookups = Lookups::load(&mut tx).await?;
    tx.commit().await?;
    let page = EditPage {
        brand: Brand::from(&settings),
        section: "sign-in",
        csrf,
        title: format!("Sign-in provider: {}", provider.name),
        kind: provider.kind.as_str(),
        kind_label: provider.kind.label(),
        action: format!("/admin/sign-in/{id}"),
        version: Some(provider.version),
        inputs: inputs(
            provider.kind,
            &lookups,
            &stored_values(&provider),
            provider.secret.is_some(),
        ),
        failed: false,
        alert: None,
        notice: None,
        id: Some(id),
        tool: None,
        look_up_login: String::new(),
    };
    Ok((page, provider))
}

pub async fn edit(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let (mut page, _) = edit_page(&state, &me, &csrf, id_of(&id)?).await?;
    page.notice = notice(&query);
    Ok(render(&page)?.into_response())
}

pub async fn save(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let provider = store::sign_in_providers::by_id(&mut tx, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let mut body = body_of(provider.kind, &form, true);
    if let (Some(object), Ok(version)) = (
        body.as_object_mut(),
        form.text("version").trim().parse::<i64>(),
    ) {
        object.insert("version".into(), Value::from(version));
    }
    let error = match api::update_in(&state.config.secret_key, &mut tx, id, body, None).await {
        Ok(_) => {
            tx.commit().await?;
            return Ok(Redirect::to(&format!("/admin/sign-in/{id}?done=saved")).into_response());
        }
        Err(error) => error,
    };
    drop(tx);
    let (mut page, provider) = edit_page(&state, &me, &csrf, id).await?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let lookups = Lookups::load(&mut tx).await?;
    tx.commit().await?;
    page.inputs = inputs(
        provider.kind,
        &lookups,
        &entered_values(provider.kind, &form),
        provider.secret.is_some(),
    );
    page.failed = true;
    file_error(error, &mut page.inputs, &mut page.alert)?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(_form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    match api::delete_in(&mut tx, id).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to("/admin/sign-in?done=deleted").into_response())
        }
        Err(error) => {
            drop(tx);
            let (mut page, _) = edit_page(&state, &me, &csrf, id).await?;
            file_error(error, &mut page.inputs, &mut page.alert)?;
            Ok((StatusCode::CONFLICT, render(&page)?).into_response())
        }
    }
}

/// The LDAP tools: "test connection" and "look up user", answered on the edit page.
async fn run_tool(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &str,
    id: Uuid,
    login: Option<String>,
) -> Result<Response, PageError> {
    let (mut page, provider) = edit_page(state, me, csrf, id).await?;
    let parts = api::ldap_parts(&state.config.secret_key, &provider);
    let (settings, secret) = match parts {
        Ok(parts) => parts,
        Err(error) => {
            file_error(error, &mut page.inputs, &mut page.alert)?;
            return Ok((StatusCode::CONFLICT, render(&page)?).into_response());
        }
    };
    page.tool = Some(match &login {
        Some(login) => {
            api::look_up_result(ldap::look_up(&settings, secret.as_deref(), login.trim()).await)
        }
        None => api::connection_result(ldap::test_connection(&settings, secret.as_deref()).await),
    });
    page.look_up_login = login.unwrap_or_default();
    Ok(render(&page)?.into_response())
}

pub async fn test_connection(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(_form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    run_tool(&state, &me, &csrf, id_of(&id)?, None).await
}

pub async fn look_up(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    run_tool(&state, &me, &csrf, id_of(&id)?, Some(form.text("login"))).await
}
