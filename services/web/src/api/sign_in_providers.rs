//! `/api/v1/sign-in-providers`: the tenant's OpenID Connect, LDAP and trusted-header providers
//! (list, create, read, update with version, delete, and the LDAP tools), and
//! `/api/v1/sign-in-settings`: the built-in password per audience with its lockout protection.
//! Everything needs `workspace.settings`, the admin permission for how the workspace is
//! reached. Secrets are write-only: sealed on the way in, answered only as `has_secret`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::{Permission, required_text};
use serde::Serialize;
use serde_json::{Map, Value, json};
use store::TenantTx;
use store::departments::Kind;
use store::sign_in_providers::{
    NewSignInProvider, PasswordSignIn, ProviderAudience, ProviderKind, SignInProvider,
    SignInProviderChange,
};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::departments::{
    check_references, expected_version, field_error, object_of, updated, versioned,
};
use crate::api::json::{ApiJson, FieldParser};
use crate::api::page::{Page, PageQuery};
use crate::error::{ApiError, FieldError, Problem};
use crate::sign_in::ldap::{self, LdapSettings};
use crate::sign_in::oidc::OidcSettings;
use crate::sign_in::secrets::{SecretKey, provider_secret};
use crate::sign_in::trusted_header::TrustedHeaderSettings;

/// The permission every sign-in configuration endpoint and page needs.
pub const PERMISSION: Permission = Permission::WorkspaceSettings;

/// Why turning the agents' password off (or weakening their last provider) is refused.
pub const LOCKOUT: &str = "Password sign-in for agents is off, so at least one active Admin must be able to sign in through an enabled provider for agents that they have used before. Sign in once through the provider as an Admin first, or turn password sign-in for agents back on.";

const MAX_SECRET_CHARS: usize = 2000;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d90", "name": "Corporate login",
    "kind": "oidc", "enabled": true, "audience": "agents", "position": 0,
    "allowed_domains": ["acme.example"], "jit_provisioning": true,
    "jit_role_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d31", "jit_organization_id": null, "jit_group_ids": [],
    "attribute_map": {"phone_number": "phone"}, "update_on_sign_in": true,
    "settings": {"issuer_url": "https://login.acme.example", "client_id": "tenantdesk",
        "scopes": ["openid", "email", "profile"], "use_userinfo": false},
    "has_secret": true, "version": 1,
    "created_at": "2026-11-22T09:00:00Z", "updated_at": "2026-11-22T09:00:00Z"}))]
pub struct SignInProviderBody {
    pub id: Uuid,
    /// The button's label; unique in the workspace ignoring case, 1 to 80 characters.
    pub name: String,
    /// `oidc`, `ldap` or `trusted_header`.
    pub kind: String,
    pub enabled: bool,
    /// `agents`, `end_users` or `both`.
    pub audience: String,
    /// Sign-in order (lowest first): buttons, and LDAP directories tried in turn.
    pub position: i32,
    /// Lower-case email domains this provider serves; empty: any.
    pub allowed_domains: Vec<String>,
    /// Whether a first sign-in creates the account.
    pub jit_provisioning: bool,
    /// The role of agents created at first sign-in (default: the built-in Agent role).
    pub jit_role_id: Option<Uuid>,
    /// The organization end users created at first sign-in join.
    pub jit_organization_id: Option<Uuid>,
    /// The customer groups end users created at first sign-in are granted (read and write).
    pub jit_group_ids: Vec<Uuid>,
    /// Provider claim or LDAP attribute -> user field (`first_name`, `phone`, `custom.<key>`...).
    #[schema(value_type = Object)]
    pub attribute_map: Value,
    /// Whether mapped fields are updated at every sign-in (else only at creation).
    pub update_on_sign_in: bool,
    /// The kind's settings (never a secret).
    #[schema(value_type = Object)]
    pub settings: Value,
    /// Whether a client secret or bind password is stored; the secret itself is never returned.
    pub has_secret: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SignInProvider> for SignInProviderBody {
    fn from(p: SignInProvider) -> Self {
        Self {
            id: p.id,
            name: p.name,
            kind: p.kind.as_str().to_owned(),
            enabled: p.enabled,
            audience: p.audience.as_str().to_owned(),
            position: p.position,
            allowed_domains: p.allowed_domains,
            jit_provisioning: p.jit_provisioning,
            jit_role_id: p.jit_role_id,
            jit_organization_id: p.jit_organization_id,
            jit_group_ids: p.jit_group_ids,
            attribute_map: p.attribute_map,
            update_on_sign_in: p.update_on_sign_in,
            settings: p.settings,
            has_secret: p.secret.is_some(),
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

fn respond(status: StatusCode, provider: SignInProvider) -> Response {
    let location = format!("/api/v1/sign-in-providers/{}", provider.id);
    let version = i64::from(provider.version);
    versioned(
        status,
        location,
        version,
        SignInProviderBody::from(provider),
    )
}

/// The fields of a create (POST; `name`, `kind` and `settings` required) or an update (PATCH;
/// `settings` is merged key by key into the stored settings).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"name": "Head office directory", "kind": "ldap", "enabled": true, "audience": "both",
    "settings": {"url": "ldaps://ldap.acme.example", "base_dn": "dc=acme,dc=example",
        "bind_dn": "cn=tenantdesk,ou=services,dc=acme,dc=example",
        "user_filter": "(&(objectClass=inetOrgPerson)(uid={login}))"},
    "secret": "the bind password", "jit_provisioning": true}))]
pub struct SignInProviderInput {
    /// PATCH only: the version read (or `If-Match`); stale: 409.
    version: Option<i64>,
    name: Option<String>,
    /// POST only: `oidc`, `ldap` or `trusted_header`.
    kind: Option<String>,
    enabled: Option<bool>,
    audience: Option<String>,
    position: Option<i32>,
    allowed_domains: Option<Vec<String>>,
    jit_provisioning: Option<bool>,
    jit_role_id: Option<Uuid>,
    jit_organization_id: Option<Uuid>,
    jit_group_ids: Option<Vec<Uuid>>,
    #[schema(value_type = Option<Object>)]
    attribute_map: Option<Value>,
    update_on_sign_in: Option<bool>,
    /// oidc: issuer_url, client_id, scopes, use_userinfo. ldap: url, starttls, bind_dn,
    /// base_dn, user_filter (with `{login}`), group_dn, group_member_attribute,
    /// timeout_seconds, refuse_when_unreachable. trusted_header: header, proxies (CIDR list),
    /// required_header, required_value, rewrite_pattern, rewrite_replacement.
    #[schema(value_type = Option<Object>)]
    settings: Option<Value>,
    /// Write-only: the OIDC client secret or the LDAP bind password; null removes it.
    secret: Option<String>,
}

/// A parsed request body. The secret's plaintext stays out of Debug output.
struct Parsed {
    kind: Option<ProviderKind>,
    change: SignInProviderChange,
    settings: Option<Map<String, Value>>,
    secret: Option<Option<String>>,
    version: Option<i64>,
}

const FIELDS: [&str; 14] = [
    "name",
    "kind",
    "enabled",
    "audience",
    "position",
    "allowed_domains",
    "jit_provisioning",
    "jit_role_id",
    "jit_organization_id",
    "jit_group_ids",
    "attribute_map",
    "update_on_sign_in",
    "settings",
    "secret",
];

fn parse_uuid(raw: &str) -> Result<Uuid, &'static str> {
    Uuid::parse_str(raw.trim()).map_err(|_| "must be an id (a UUID)")
}

fn string_array(
    object: &Map<String, Value>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Vec<String>> {
    match object.get(field)? {
        Value::Array(items) => {
            let strings: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect();
            if strings.is_none() {
                errors.push(field_error(field, "must be a list of strings"));
            }
            strings
        }
        Value::Null => Some(Vec::new()),
        _ => {
            errors.push(field_error(field, "must be a list of strings"));
            None
        }
    }
}

fn parse_domains(raw: Vec<String>, errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    let mut domains = Vec::new();
    for item in raw {
        match store::organizations::EmailDomain::parse(&item) {
            Ok(domain) => {
                if !domains.iter().any(|d: &String| d == domain.as_str()) {
                    domains.push(domain.as_str().to_owned());
                }
            }
            Err(problem) => {
                errors.push(field_error("allowed_domains", problem));
                return None;
            }
        }
    }
    Some(domains)
}

/// Checks an attribute map: an object of attribute name -> user field.
pub(crate) fn parse_attribute_map(value: &Value) -> Result<Value, String> {
    let Value::Object(map) = value else {
        return Err("must be an object of attribute name -> user field".into());
    };
    for (attribute, field) in map {
        if attribute.trim().is_empty() || attribute.len() > 200 {
            return Err("attribute names must be 1 to 200 characters".into());
        }
        let Some(field) = field.as_str() else {
            return Err(format!("{attribute}: the user field must be a string"));
        };
        let known = match field.strip_prefix("custom.") {
            Some(key) => {
                let mut chars = key.chars();
                chars.next().is_some_and(|c| c.is_ascii_lowercase())
                    && key.len() <= 50
                    && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            }
            None => store::user_directory::PROFILE_FIELDS.contains(&field) && field != "email",
        };
        if !known {
            return Err(format!(
                "{attribute}: {field:?} is not a user field (first_name, last_name, phone, mobile, ... or custom.<key>)"
            ));
        }
    }
    Ok(value.clone())
}

fn parse_body(body: Value, patch: bool) -> Result<Parsed, ApiError> {
    let object = object_of(body)?;
    let mut known: Vec<&str> = FIELDS.to_vec();
    if patch {
        known.retain(|f| *f != "kind");
        known.push("version");
    }
    let mut fields = FieldParser::new(&object, &known);
    if patch && object.contains_key("kind") {
        fields.errors.retain(|e| e.field != "kind");
        fields.errors.push(field_error(
            "kind",
            "cannot be changed; create another provider",
        ));
    }
    let version = if patch {
        fields.integer("version")
    } else {
        None
    };
    if !patch {
        for required in ["name", "kind", "settings"] {
            crate::api::departments::require_field(&mut fields, &object, required);
        }
    }
    let kind = if patch {
        None
    } else {
        fields.string("kind", |raw| {
            ProviderKind::parse(raw.trim()).ok_or("must be oidc, ldap or trusted_header")
        })
    };
    let name = fields.string("name", |raw| required_text(raw, 80));
    let enabled = fields.boolean("enabled");
    let audience = fields.string("audience", |raw| {
        ProviderAudience::parse(raw.trim()).ok_or("must be agents, end_users or both")
    });
    let position = fields.integer_in::<i32>("position", 0..=10_000);
    let jit_provisioning = fields.boolean("jit_provisioning");
    let jit_role_id = fields.nullable_string("jit_role_id", parse_uuid);
    let jit_organization_id = fields.nullable_string("jit_organization_id", parse_uuid);
    let update_on_sign_in = fields.boolean("update_on_sign_in");
    let secret = fields.nullable_string("secret", |raw| {
        if raw.chars().count() > MAX_SECRET_CHARS {
            Err(format!("must be at most {MAX_SECRET_CHARS} characters"))
        } else {
            Ok(raw.to_owned())
        }
    });
    let allowed_domains = string_array(&object, "allowed_domains", &mut fields.errors)
        .and_then(|raw| parse_domains(raw, &mut fields.errors));
    let jit_group_ids =
        string_array(&object, "jit_group_ids", &mut fields.errors).and_then(|raw| {
            match raw
                .iter()
                .map(|r| parse_uuid(r))
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(ids) => Some(ids),
                Err(problem) => {
                    fields.errors.push(field_error("jit_group_ids", problem));
                    None
                }
            }
        });
    let attribute_map =
        object
            .get("attribute_map")
            .and_then(|value| match parse_attribute_map(value) {
                Ok(map) => Some(map),
                Err(problem) => {
                    fields.errors.push(field_error("attribute_map", problem));
                    None
                }
            });
    let settings = match object.get("settings") {
        None => None,
        Some(Value::Object(map)) => Some(map.clone()),
        Some(_) => {
            fields
                .errors
                .push(field_error("settings", "must be an object"));
            None
        }
    };
    let change = SignInProviderChange {
        name,
        enabled,
        audience,
        position,
        allowed_domains,
        jit_provisioning,
        jit_role_id,
        jit_organization_id,
        jit_group_ids,
        attribute_map,
        update_on_sign_in,
        settings: None,
        secret: None,
    };
    fields.finish(Parsed {
        kind,
        change,
        settings,
        secret,
        version,
    })
}

/// Whether an issuer may be reached over plain HTTP: only on this machine (development and
/// tests); everywhere else OpenID Connect needs HTTPS.
fn loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost" || domain.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn known_keys(kind: ProviderKind) -> &'static [&'static str] {
    match kind {
        ProviderKind::Oidc => &["issuer_url", "client_id", "scopes", "use_userinfo"],
        ProviderKind::Ldap => &[
            "url",
            "starttls",
            "ca_certificate_pem",
            "bind_dn",
            "base_dn",
            "user_filter",
            "group_dn",
            "group_member_attribute",
            "timeout_seconds",
            "refuse_when_unreachable",
        ],
        ProviderKind::TrustedHeader => &[
            "header",
            "proxies",
            "required_header",
            "required_value",
            "rewrite_pattern",
            "rewrite_replacement",
        ],
    }
}

fn required_keys(kind: ProviderKind) -> &'static [&'static str] {
    match kind {
        ProviderKind::Oidc => &["issuer_url", "client_id"],
        ProviderKind::Ldap => &["url", "base_dn"],
        ProviderKind::TrustedHeader => &["header", "proxies"],
    }
}

fn settings_error(field: &str, message: impl ToString) -> FieldError {
    field_error(&format!("settings.{field}"), message)
}

/// Validates a kind's settings and returns them in their canonical shape (defaults filled in).
pub(crate) fn parse_settings(
    kind: ProviderKind,
    settings: Map<String, Value>,
) -> Result<Value, Vec<FieldError>> {
    let mut errors: Vec<FieldError> = settings
        .keys()
        .filter(|k| !known_keys(kind).contains(&k.as_str()))
        .map(|k| settings_error(k, "is not a known setting"))
        .collect();
    for key in required_keys(kind) {
        if settings.get(*key).is_none_or(Value::is_null) {
            errors.push(settings_error(key, "is required"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let value = Value::Object(settings);
    let unreadable = |e: serde_json::Error| vec![field_error("settings", e.to_string())];
    match kind {
        ProviderKind::Oidc => {
            let parsed: OidcSettings = serde_json::from_value(value).map_err(unreadable)?;
            match url::Url::parse(parsed.issuer_url.trim()) {
                Ok(url) if url.scheme() == "https" && url.host().is_some() => {}
                Ok(url) if url.scheme() == "http" && loopback(&url) => {}
                Ok(_) => errors.push(settings_error(
                    "issuer_url",
                    "must be an https:// URL (http:// only for localhost)",
                )),
                Err(_) => errors.push(settings_error(
                    "issuer_url",
                    "must be a URL such as https://login.example.com",
                )),
            }
            if parsed.client_id.trim().is_empty() || parsed.client_id.len() > 255 {
                errors.push(settings_error("client_id", "must be 1 to 255 characters"));
            }
            if !parsed.scopes.iter().any(|s| s == "openid") {
                errors.push(settings_error("scopes", "must include openid"));
            } else if parsed
                .scopes
                .iter()
                .any(|s| s.is_empty() || s.contains(char::is_whitespace))
            {
                errors.push(settings_error("scopes", "must be single words"));
            }
            if errors.is_empty() {
                serde_json::to_value(&parsed).map_err(unreadable)
            } else {
                Err(errors)
            }
        }
        ProviderKind::Ldap => {
            let parsed: LdapSettings = serde_json::from_value(value).map_err(unreadable)?;
            errors.extend(
                parsed
                    .problems()
                    .into_iter()
                    .map(|(field, message)| settings_error(field, message)),
            );
            if errors.is_empty() {
                serde_json::to_value(&parsed).map_err(unreadable)
            } else {
                Err(errors)
            }
        }
        ProviderKind::TrustedHeader => {
            let parsed: TrustedHeaderSettings =
                serde_json::from_value(value).map_err(unreadable)?;
            errors.extend(
                parsed
                    .problems()
                    .into_iter()
                    .map(|(field, message)| field_error(field, message)),
            );
            if errors.is_empty() {
                serde_json::to_value(&parsed).map_err(unreadable)
            } else {
                Err(errors)
            }
        }
    }
}

/// 422 naming the field when a referenced role, organization or group is not this tenant's.
async fn check_jit_references(
    tx: &mut TenantTx,
    change: &SignInProviderChange,
) -> Result<(), ApiError> {
    if let Some(Some(role)) = change.jit_role_id
        && store::agents::role_by_id(tx, role).await?.is_none()
    {
        return Err(ApiError::Validation(vec![field_error(
            "jit_role_id",
            "must be the id of a role of this workspace",
        )]));
    }
    let mut references = vec![(
        "jit_organization_id",
        Kind::Organization,
        change.jit_organization_id.flatten(),
    )];
    for group in change.jit_group_ids.iter().flatten() {
        references.push(("jit_group_ids", Kind::CustomerGroup, Some(*group)));
    }
    check_references(tx, &references).await
}

/// Refuses (409) a state in which agents cannot sign in with a password and no active Admin
/// has a working provider; run after a change, inside its transaction, so a refusal rolls
/// the change back.
pub(crate) async fn check_lockout(tx: &mut TenantTx) -> Result<(), ApiError> {
    let password = store::sign_in_providers::password_sign_in(tx).await?;
    if !password.agents && store::sign_in_providers::admins_with_working_provider(tx).await? == 0 {
        return Err(ApiError::Refused(LOCKOUT.into()));
    }
    Ok(())
}

/// Creates a provider from a JSON body (the API's and the admin page's one path).
pub(crate) async fn create_in(
    key: &SecretKey,
    tx: &mut TenantTx,
    body: Value,
) -> Result<SignInProvider, ApiError> {
    let parsed = parse_body(body, false)?;
    let kind = parsed
        .kind
        .ok_or_else(|| ApiError::Validation(vec![field_error("kind", "is required")]))?;
    let settings =
        parse_settings(kind, parsed.settings.unwrap_or_default()).map_err(ApiError::Validation)?;
    check_jit_references(tx, &parsed.change).await?;
    let change = parsed.change;
    let mut new = NewSignInProvider::new(
        change.name.as_deref().unwrap_or_default(),
        kind,
        change.audience.unwrap_or(ProviderAudience::Agents),
        settings,
    );
    new.enabled = change.enabled.unwrap_or(false);
    new.position = change.position.unwrap_or(0);
    new.allowed_domains = change.allowed_domains.unwrap_or_default();
    new.jit_provisioning = change.jit_provisioning.unwrap_or(false);
    new.jit_role_id = change.jit_role_id.flatten();
    new.jit_organization_id = change.jit_organization_id.flatten();
    new.jit_group_ids = change.jit_group_ids.unwrap_or_default();
    new.attribute_map = change.attribute_map.unwrap_or_else(|| json!({}));
    new.update_on_sign_in = change.update_on_sign_in.unwrap_or(false);
    new.secret = parsed
        .secret
        .flatten()
        .filter(|s| !s.is_empty())
        .map(|plain| key.seal(&plain, new.id));
    Ok(store::sign_in_providers::insert(tx, &new).await?)
}

/// Updates a provider from a JSON body; `if_match` wins over the body's `version`.
pub(crate) async fn update_in(
    key: &SecretKey,
    tx: &mut TenantTx,
    id: Uuid,
    body: Value,
    if_match: Option<i64>,
) -> Result<SignInProvider, ApiError> {
    let parsed = parse_body(body, true)?;
    let existing = store::sign_in_providers::by_id(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut change = parsed.change;
    if let Some(patch) = parsed.settings {
        let mut merged = existing.settings.as_object().cloned().unwrap_or_default();
        for (k, v) in patch {
            merged.insert(k, v);
        }
        change.settings =
            Some(parse_settings(existing.kind, merged).map_err(ApiError::Validation)?);
    }
    change.secret = parsed.secret.map(|secret| {
        secret
            .filter(|s| !s.is_empty())
            .map(|plain| key.seal(&plain, id))
    });
    check_jit_references(tx, &change).await?;
    let version = if_match.or(parsed.version);
    let version = match version.map(i32::try_from) {
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            return Err(ApiError::Validation(vec![field_error(
                "version",
                "is not a version of this provider",
            )]));
        }
        None => None,
    };
    let provider = updated(
        store::sign_in_providers::update(tx, id, &change, version).await?,
        "sign-in provider",
    )?;
    check_lockout(tx).await?;
    Ok(provider)
}

/// Deletes a provider (and the links made through it), unless that locks the admins out.
pub(crate) async fn delete_in(tx: &mut TenantTx, id: Uuid) -> Result<(), ApiError> {
    if !store::sign_in_providers::delete(tx, id).await? {
        return Err(ApiError::NotFound);
    }
    check_lockout(tx).await
}

/// The workspace's sign-in providers in sign-in order.
#[utoipa::path(get, path = "/api/v1/sign-in-providers", tag = "sign-in", security(("api_token" = [])),
    params(PageQuery),
    responses((status = 200, description = "One page of providers (secrets never included)", body = inline(Page<SignInProviderBody>),
        example = json!({"data": [{"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d90", "name": "Corporate login", "kind": "oidc",
            "enabled": true, "audience": "agents", "position": 0, "allowed_domains": [], "jit_provisioning": false,
            "jit_role_id": null, "jit_organization_id": null, "jit_group_ids": [], "attribute_map": {},
            "update_on_sign_in": false, "settings": {"issuer_url": "https://login.acme.example", "client_id": "tenantdesk",
            "scopes": ["openid", "email", "profile"], "use_userinfo": false}, "has_secret": true, "version": 1,
            "created_at": "2026-11-22T09:00:00Z", "updated_at": "2026-11-22T09:00:00Z"}], "next_cursor": null})),
        (status = 403, description = "The token lacks workspace.settings", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<SignInProviderBody>>, ApiError> {
    caller.require(PERMISSION)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let mut providers = store::sign_in_providers::list(&mut tx).await?;
    tx.commit().await?;
    providers.sort_by_key(|p| p.id);
    Ok(Json(page.page(
        providers,
        |p| p.id,
        SignInProviderBody::from,
    )?))
}

/// One provider.
#[utoipa::path(get, path = "/api/v1/sign-in-providers/{id}", tag = "sign-in", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The provider")),
    responses((status = 200, description = "The provider", body = SignInProviderBody),
        (status = 404, description = "No such provider in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    caller.require(PERMISSION)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let provider = store::sign_in_providers::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(respond(StatusCode::OK, provider))
}

/// Creates a provider.
#[utoipa::path(post, path = "/api/v1/sign-in-providers", tag = "sign-in", security(("api_token" = [])),
    request_body = SignInProviderInput,
    responses((status = 201, description = "The new provider", body = SignInProviderBody),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, named (settings.<key> for the kind's settings)", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(PERMISSION)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let provider = create_in(&state.config.secret_key, &mut tx, body).await?;
    tx.commit().await?;
    Ok(respond(StatusCode::CREATED, provider))
}

/// Changes a provider; `settings` keys are merged into the stored settings, `secret` replaces
/// (or with null removes) the stored secret.
#[utoipa::path(patch, path = "/api/v1/sign-in-providers/{id}", tag = "sign-in", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The provider"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version read")),
    request_body(content = SignInProviderInput, example = json!({"version": 1, "enabled": true, "settings": {"proxies": ["10.0.0.0/8"]}})),
    responses((status = 200, description = "The saved provider", body = SignInProviderBody),
        (status = 404, description = "No such provider in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale version, the name is taken, or the change would lock every admin out", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(PERMISSION)?;
    let if_match = expected_version(&headers, None)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let provider = update_in(&state.config.secret_key, &mut tx, id, body, if_match).await?;
    tx.commit().await?;
    Ok(respond(StatusCode::OK, provider))
}

/// Deletes a provider and the account links made through it.
#[utoipa::path(delete, path = "/api/v1/sign-in-providers/{id}", tag = "sign-in", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The provider")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such provider in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The deletion would lock every admin out", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(PERMISSION)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    delete_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an LDAP tool found.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"ok": true, "message": "Connected and read the base DN.", "dn": null, "attributes": null}))]
pub struct ToolResult {
    pub ok: bool,
    /// What happened, for the admin.
    pub message: String,
    /// Look-up: the entry's DN when found.
    pub dn: Option<String>,
    /// Look-up: the entry's attributes (password attributes never included).
    pub attributes: Option<BTreeMap<String, String>>,
}

async fn ldap_provider(
    state: &AppState,
    caller: &ApiCaller,
    id: Uuid,
) -> Result<(LdapSettings, Option<String>), ApiError> {
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let provider = store::sign_in_providers::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    ldap_parts(&state.config.secret_key, &provider)
}

/// An LDAP provider's settings and bind password, or why the tools cannot run.
pub(crate) fn ldap_parts(
    key: &SecretKey,
    provider: &SignInProvider,
) -> Result<(LdapSettings, Option<String>), ApiError> {
    if provider.kind != ProviderKind::Ldap {
        return Err(ApiError::Refused(
            "Only LDAP providers have these tools; try an OpenID Connect provider with its test sign-in.".into(),
        ));
    }
    let settings: LdapSettings = serde_json::from_value(provider.settings.clone())
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let secret = provider_secret(key, provider).map_err(|_| {
        ApiError::Refused(
            "The stored bind password does not open with this server's secret key; enter it again."
                .into(),
        )
    })?;
    Ok((settings, secret))
}

pub(crate) fn connection_result(outcome: Result<(), ldap::LdapError>) -> ToolResult {
    match outcome {
        Ok(()) => ToolResult {
            ok: true,
            message: "Connected, bound and read the base DN.".into(),
            dn: None,
            attributes: None,
        },
        Err(error) => ToolResult {
            ok: false,
            message: error.to_string(),
            dn: None,
            attributes: None,
        },
    }
}

pub(crate) fn look_up_result(
    outcome: Result<Option<ldap::LdapIdentity>, ldap::LdapError>,
) -> ToolResult {
    match outcome {
        Ok(Some(identity)) => ToolResult {
            ok: true,
            message: "Found.".into(),
            dn: Some(identity.dn),
            attributes: Some(identity.attributes),
        },
        Ok(None) => ToolResult {
            ok: false,
            message: "No entry matches the user filter for that name.".into(),
            dn: None,
            attributes: None,
        },
        Err(error) => ToolResult {
            ok: false,
            message: error.to_string(),
            dn: None,
            attributes: None,
        },
    }
}

/// LDAP: connects, binds with the service account (or anonymously) and reads the base DN.
#[utoipa::path(post, path = "/api/v1/sign-in-providers/{id}/test-connection", tag = "sign-in", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The LDAP provider")),
    responses((status = 200, description = "What the test found (ok false with the reason when the directory failed)", body = ToolResult),
        (status = 404, description = "No such provider in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not an LDAP provider", body = Problem, content_type = "application/problem+json")))]
pub async fn test_connection(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<ToolResult>, ApiError> {
    caller.require(PERMISSION)?;
    let (settings, secret) = ldap_provider(&state, &caller, id).await?;
    let outcome = ldap::test_connection(&settings, secret.as_deref()).await;
    Ok(Json(connection_result(outcome)))
}

/// The name to look up.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"login": "ada"}))]
pub struct LookUpInput {
    login: String,
}

/// LDAP: finds the entry the user filter matches for a login, without signing in.
#[utoipa::path(post, path = "/api/v1/sign-in-providers/{id}/look-up", tag = "sign-in", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The LDAP provider")),
    request_body = LookUpInput,
    responses((status = 200, description = "The entry found, or ok false with the reason", body = ToolResult,
            example = json!({"ok": true, "message": "Found.", "dn": "uid=ada,ou=people,dc=acme,dc=example",
                "attributes": {"mail": "ada@acme.example", "givenName": "Ada", "sn": "Lovelace"}})),
        (status = 404, description = "No such provider in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not an LDAP provider", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No login given", body = Problem, content_type = "application/problem+json")))]
pub async fn look_up(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<ToolResult>, ApiError> {
    caller.require(PERMISSION)?;
    let object = object_of(body)?;
    let mut fields = FieldParser::new(&object, &["login"]);
    crate::api::departments::require_field(&mut fields, &object, "login");
    let login = fields.string("login", |raw| required_text(raw, 200));
    let login = fields.finish(login)?.unwrap_or_default();
    let (settings, secret) = ldap_provider(&state, &caller, id).await?;
    let outcome = ldap::look_up(&settings, secret.as_deref(), &login).await;
    Ok(Json(look_up_result(outcome)))
}

/// Whether the built-in password signs in each audience.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"password_sign_in_agents": true, "password_sign_in_end_users": true}))]
pub struct SignInSettingsBody {
    pub password_sign_in_agents: bool,
    pub password_sign_in_end_users: bool,
}

impl From<PasswordSignIn> for SignInSettingsBody {
    fn from(p: PasswordSignIn) -> Self {
        Self {
            password_sign_in_agents: p.agents,
            password_sign_in_end_users: p.end_users,
        }
    }
}

/// The built-in password per audience.
#[utoipa::path(get, path = "/api/v1/sign-in-settings", tag = "sign-in", security(("api_token" = [])),
    responses((status = 200, description = "The switches", body = SignInSettingsBody),
        (status = 403, description = "The token lacks workspace.settings", body = Problem, content_type = "application/problem+json")))]
pub async fn show_settings(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<SignInSettingsBody>, ApiError> {
    caller.require(PERMISSION)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let password = store::sign_in_providers::password_sign_in(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(password.into()))
}

/// Applies the password switches, refusing a change that leaves agents without a password
/// and no active Admin with a working provider.
pub(crate) async fn set_password_in(
    tx: &mut TenantTx,
    agents: Option<bool>,
    end_users: Option<bool>,
) -> Result<PasswordSignIn, ApiError> {
    let current = store::sign_in_providers::password_sign_in(tx).await?;
    let wanted = PasswordSignIn {
        agents: agents.unwrap_or(current.agents),
        end_users: end_users.unwrap_or(current.end_users),
    };
    store::sign_in_providers::set_password_sign_in(tx, wanted).await?;
    check_lockout(tx).await?;
    Ok(wanted)
}

/// Turns the built-in password on or off per audience ("agents must use SSO").
#[utoipa::path(patch, path = "/api/v1/sign-in-settings", tag = "sign-in", security(("api_token" = [])),
    request_body(content = inline(Object), example = json!({"password_sign_in_agents": false})),
    responses((status = 200, description = "The switches now", body = SignInSettingsBody),
        (status = 409, description = "Turning the agents' password off would lock every admin out", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn update_settings(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<SignInSettingsBody>, ApiError> {
    caller.require(PERMISSION)?;
    let object = object_of(body)?;
    let mut fields = FieldParser::new(
        &object,
        &["password_sign_in_agents", "password_sign_in_end_users"],
    );
    let agents = fields.boolean("password_sign_in_agents");
    let end_users = fields.boolean("password_sign_in_end_users");
    let (agents, end_users) = fields.finish((agents, end_users))?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let now = set_password_in(&mut tx, agents, end_users).await?;
    tx.commit().await?;
    Ok(Json(now.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_per_kind_and_named() {
        let fields = |kind, value: Value| -> Vec<String> {
            match parse_settings(kind, value.as_object().cloned().unwrap_or_default()) {
                Ok(_) => Vec::new(),
                Err(errors) => errors.into_iter().map(|e| e.field).collect(),
            }
        };
        assert!(
            fields(
                ProviderKind::Oidc,
                json!({"issuer_url": "https://login.example.com", "client_id": "x"})
            )
            .is_empty()
        );
        assert_eq!(
            fields(
                ProviderKind::Oidc,
                json!({"issuer_url": "http://login.example.com", "client_id": "x"})
            ),
            ["settings.issuer_url"]
        );
        assert!(
            fields(
                ProviderKind::Oidc,
                json!({"issuer_url": "http://127.0.0.1:9000", "client_id": "x"})
            )
            .is_empty()
        );
        assert_eq!(
            fields(
                ProviderKind::Ldap,
                json!({"url": "http://x", "base_dn": "dc=x", "user_filter": "(uid=x)"})
            ),
            ["settings.url", "settings.user_filter"]
        );
        assert_eq!(
            fields(
                ProviderKind::TrustedHeader,
                json!({"header": "X-User", "proxies": ["10.0.0.0/8"], "colour": 1})
            ),
            ["settings.colour"]
        );
    }

    #[test]
    fn attribute_maps_name_known_fields() {
        assert!(parse_attribute_map(&json!({"tel": "phone", "dept": "custom.department"})).is_ok());
        assert!(parse_attribute_map(&json!({"tel": "shoe_size"})).is_err());
        assert!(parse_attribute_map(&json!({"mail": "email"})).is_err());
        assert!(parse_attribute_map(&json!(["phone"])).is_err());
    }
}
