//! OpenID Connect sign-in: discovery (cached per issuer), the authorization code flow with PKCE,
//! state and nonce kept server side and single use, ID token verification, account linking
//! through `accounts`, the admin's test sign-in and RP-initiated logout.
//!
//! A flow is stored under the tenant and its `state` together, so a callback on another
//! tenant's host finds nothing; it is also bound to the browser that started it (a host-only
//! cookie), so a sign-in link made by someone else cannot sign a victim into the attacker's
//! account. Every failure ends on `accounts::refusal_page`, never on a 500.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::Permission;
use moka::sync::Cache;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope,
    TokenResponse,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use store::sign_in_providers::{ProviderKind, SignInAudience, SignInProvider};
use store::tenancy::Tenant;
use tracing::Instrument;
use uuid::Uuid;

use super::accounts::{self, ExternalIdentity};
use crate::AppState;
use crate::auth::SignedInAgent;
use crate::auth::csrf::CsrfForm;
use crate::auth::sessions::{PrincipalKind, session_of_jar};
use crate::error::PageError;
use crate::pages::Brand;
use crate::tenancy::CurrentTenant;

/// The non-secret settings of an OIDC provider row (`sign_in_providers.settings`); the client
/// secret is sealed in the row's `secret`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct OidcSettings {
    pub issuer_url: String,
    pub client_id: String,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub use_userinfo: bool,
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}

/// Who may run the test sign-in: whoever may configure the workspace's sign-in.
const CONFIGURE: Permission = Permission::WorkspaceSettings;

/// How long a started sign-in may take at the provider.
const FLOW_TTL: Duration = Duration::from_secs(600);
/// How long discovery documents and key sets are trusted before they are fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// How long the ID token is kept for the logout hint (the longest session lives 8 hours).
const ID_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);

/// The provider's client: discovery sets the authorization, token and userinfo endpoints.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

// ---------------------------------------------------------------------------------------
// Outbound HTTP and discovery

/// The client for every call to a provider. It follows no redirects: a provider URL an admin
/// typed must not become a way to reach other addresses (SSRF), as the crate's docs advise.
static HTTP: LazyLock<Result<reqwest::Client, String>> = LazyLock::new(|| {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())
});

fn http() -> Result<&'static reqwest::Client, Failure> {
    HTTP.as_ref()
        .map_err(|e| Failure::Provider(format!("HTTP client: {e}")))
}

/// Discovery documents with their key sets, per issuer URL.
static DISCOVERY: LazyLock<Cache<String, Arc<ProviderMetadataWithLogout>>> = LazyLock::new(|| {
    Cache::builder()
        .max_capacity(10_000)
        .time_to_live(DISCOVERY_TTL)
        .build()
});

/// A `provider.oidc` client span; never a secret or token in its attributes.
fn provider_span(operation: &'static str, provider: &SignInProvider) -> tracing::Span {
    tracing::info_span!(
        "provider.oidc",
        otel.kind = "client",
        oidc.operation = operation,
        provider.id = %provider.id,
        otel.status_code = tracing::field::Empty,
    )
}

/// The provider's metadata and keys: from the cache, or fetched (and cached) when absent,
/// expired, or `refresh` is asked for (a key id the cached set does not know).
async fn metadata(
    provider: &SignInProvider,
    settings: &OidcSettings,
    refresh: bool,
) -> Result<Arc<ProviderMetadataWithLogout>, Failure> {
    let issuer = settings.issuer_url.trim().to_owned();
    if !refresh && let Some(cached) = DISCOVERY.get(&issuer) {
        return Ok(cached);
    }
    let issuer_url = IssuerUrl::new(issuer.clone())
        .map_err(|_| Failure::Misconfigured("the issuer URL is not a URL"))?;
    let span = provider_span("discovery", provider);
    let discovered = ProviderMetadataWithLogout::discover_async(issuer_url, http()?)
        .instrument(span.clone())
        .await;
    match discovered {
        Ok(found) => {
            let found = Arc::new(found);
            DISCOVERY.insert(issuer, found.clone());
            Ok(found)
        }
        Err(error) => {
            span.record("otel.status_code", "ERROR");
            Err(Failure::Provider(format!("discovery: {error}")))
        }
    }
}

fn client(
    metadata: &ProviderMetadataWithLogout,
    settings: &OidcSettings,
    secret: Option<&str>,
    redirect_uri: &str,
) -> Result<Client, Failure> {
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|_| Failure::Misconfigured("the redirect URI is not a URL"))?;
    Ok(CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(settings.client_id.clone()),
        secret.map(|s| ClientSecret::new(s.to_owned())),
    )
    .set_redirect_uri(redirect))
}

// ---------------------------------------------------------------------------------------
// Failures

/// Why a flow did not finish. The page shows a fixed message; the detail goes to the log.
#[derive(Debug)]
enum Failure {
    /// The provider row cannot work (unparseable settings, a secret that does not open).
    Misconfigured(&'static str),
    /// The provider could not be reached or answered nonsense.
    Provider(String),
    /// The answer failed a check (state, nonce, signature, audience, issuer, expiry).
    Rejected(String),
    /// Our own storage failed.
    Internal(String),
}

impl Failure {
    fn log_and_message(&self, provider: &SignInProvider) -> &'static str {
        match self {
            Self::Misconfigured(why) => {
                tracing::warn!(provider.id = %provider.id, why, "OIDC provider misconfigured");
                "This sign-in provider is not set up correctly. Please contact the help desk."
            }
            Self::Provider(why) => {
                tracing::warn!(provider.id = %provider.id, why = %why, "OIDC provider failed");
                "The sign-in provider could not be reached or did not complete the sign-in. Please try again later."
            }
            Self::Rejected(why) => {
                tracing::warn!(provider.id = %provider.id, why = %why, "OIDC answer rejected");
                "The answer from the sign-in provider could not be verified, so you were not signed in. Please start again."
            }
            Self::Internal(why) => {
                tracing::error!(provider.id = %provider.id, why = %why, "OIDC sign-in failed");
                "Something went wrong on our side. Please try again in a moment."
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Short-lived server-side records: flows (by tenant + state) and ID tokens (by session)

/// A started sign-in, kept until its callback (once) or for `FLOW_TTL`.
#[derive(Serialize, Deserialize)]
struct Flow {
    provider_id: Uuid,
    /// `agents` or `end_users`; none for the admin's test sign-in.
    audience: Option<String>,
    next: Option<String>,
    /// The admin whose test sign-in this is.
    test_by: Option<Uuid>,
    nonce: String,
    pkce_verifier: String,
    /// SHA-256 of the browser cookie of the browser that started it.
    browser: String,
}

/// The ID token of a session signed in through OIDC, for the logout hint.
#[derive(Serialize, Deserialize)]
struct KeptIdToken {
    provider_id: Uuid,
    id_token: String,
}

static FLOWS: LazyLock<Cache<String, String>> = LazyLock::new(|| {
    Cache::builder()
        .max_capacity(1_000_000)
        .time_to_live(FLOW_TTL)
        .build()
});

static ID_TOKENS: LazyLock<Cache<String, String>> = LazyLock::new(|| {
    Cache::builder()
        .max_capacity(1_000_000)
        .time_to_live(ID_TOKEN_TTL)
        .build()
});

fn sha256_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn flow_key(tenant: &Tenant, state: &str) -> String {
    format!(
        "tdk:oidc:flow:{}",
        sha256_hex(&format!("{}:{state}", tenant.id))
    )
}

fn id_token_key(session_token: &str) -> String {
    format!("tdk:oidc:id-token:{}", sha256_hex(session_token))
}

/// Stores `value` under `key` for `ttl`: in Redis when REDIS_URL is set, in process otherwise.
async fn put(
    state: &AppState,
    memory: &Cache<String, String>,
    key: String,
    value: String,
    ttl: Duration,
) -> Result<(), Failure> {
    match &state.redis {
        None => {
            memory.insert(key, value);
            Ok(())
        }
        Some(client) => {
            let mut connection = client
                .get_multiplexed_async_connection()
                .await
                .map_err(|e| Failure::Internal(e.to_string()))?;
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("EX")
                .arg(ttl.as_secs().max(1))
                .query_async::<()>(&mut connection)
                .await
                .map_err(|e| Failure::Internal(e.to_string()))
        }
    }
}

/// Reads and deletes `key` in one step, so a record is used at most once.
async fn take(
    state: &AppState,
    memory: &Cache<String, String>,
    key: &str,
) -> Result<Option<String>, Failure> {
    match &state.redis {
        None => Ok(memory.remove(key)),
        Some(client) => {
            let mut connection = client
                .get_multiplexed_async_connection()
                .await
                .map_err(|e| Failure::Internal(e.to_string()))?;
            redis::cmd("GETDEL")
                .arg(key)
                .query_async::<Option<String>>(&mut connection)
                .await
                .map_err(|e| Failure::Internal(e.to_string()))
        }
    }
}

fn random_token() -> String {
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    URL_SAFE_NO_PAD.encode(random)
}

/// The cookie that ties a flow to the browser that started it.
fn browser_cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies() {
        "__Host-tdk_oidc"
    } else {
        "tdk_oidc"
    }
}

// ---------------------------------------------------------------------------------------
// The provider row

/// The OIDC provider `raw_id` of this tenant, or `None` (404) for anything else: a malformed
/// id, another tenant's provider, another kind.
async fn oidc_provider(
    state: &AppState,
    tenant: &Tenant,
    raw_id: &str,
) -> Result<Option<SignInProvider>, PageError> {
    let Ok(id) = Uuid::parse_str(raw_id) else {
        return Ok(None);
    };
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let provider = store::sign_in_providers::by_id(&mut tx, id).await?;
    tx.commit().await?;
    Ok(provider.filter(|p| p.kind == ProviderKind::Oidc))
}

fn settings_of(provider: &SignInProvider) -> Result<OidcSettings, Failure> {
    serde_json::from_value(provider.settings.clone())
        .map_err(|_| Failure::Misconfigured("the settings are not OIDC settings"))
}

fn client_secret(state: &AppState, provider: &SignInProvider) -> Result<Option<String>, Failure> {
    provider
        .secret
        .as_deref()
        .map(|sealed| {
            state
                .config
                .secret_key
                .open(sealed, provider.id)
                .map_err(|_| Failure::Misconfigured("the client secret does not open"))
        })
        .transpose()
}

/// `{scheme}://{tenant host}/auth/oidc/{provider}/callback`, exactly as registered at the IdP.
pub fn redirect_uri(state: &AppState, tenant: &Tenant, provider_id: Uuid) -> String {
    format!(
        "{}/auth/oidc/{provider_id}/callback",
        state.config.base_url.tenant_origin(tenant.slug.as_str())
    )
}

async fn brand(state: &AppState, tenant: &Tenant) -> Brand {
    match state.settings.get(&state.store, tenant.id).await {
        Ok(settings) => Brand::from(settings.as_ref()),
        Err(_) => Brand {
            name: tenant.name.as_str().to_owned(),
            ..Brand::platform()
        },
    }
}

fn refuse(state: &AppState, tenant: &Tenant, message: &str) -> Response {
    accounts::refusal_page(state, tenant, message)
}

// ---------------------------------------------------------------------------------------
// GET /auth/oidc/{provider}/start

#[derive(Deserialize)]
pub struct StartQuery {
    audience: Option<String>,
    next: Option<String>,
    test: Option<String>,
}

/// Starts the code flow: stores the flow, sets the browser cookie, sends the browser to the
/// provider's authorization endpoint.
pub async fn start(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    Path(raw_id): Path<String>,
    Query(query): Query<StartQuery>,
    jar: CookieJar,
    request: Request,
) -> Result<Response, PageError> {
    let Some(provider) = oidc_provider(&state, &tenant, &raw_id).await? else {
        return Err(PageError::NotFound);
    };
    let test = query
        .test
        .as_deref()
        .is_some_and(|t| t == "1" || t == "true");
    let (audience, test_by) = if test {
        let (mut parts, _) = request.into_parts();
        let admin = SignedInAgent::from_request_parts(&mut parts, &state)
            .await
            .map_err(|error| match error {
                // Back to the test sign-in itself after signing in, not to its bare path.
                PageError::SignInRequired { login, .. } => PageError::SignInRequired {
                    login,
                    next: format!("/auth/oidc/{}/start?test=1", provider.id),
                },
                other => other,
            })?;
        admin.require(CONFIGURE)?;
        (None, Some(admin.agent.id))
    } else {
        if !provider.enabled {
            return Err(PageError::NotFound);
        }
        let who = match query.audience.as_deref().and_then(SignInAudience::parse) {
            Some(who) => who,
            None => match provider.audience {
                store::sign_in_providers::ProviderAudience::Agents => SignInAudience::Agents,
                _ => SignInAudience::EndUsers,
            },
        };
        if !provider.audience.includes(who) {
            return Ok(refuse(
                &state,
                &tenant,
                accounts::SignInRefusal::WrongAudience.message(),
            ));
        }
        (Some(who.as_str().to_owned()), None)
    };
    let next = query
        .next
        .filter(|n| accounts::local_path(n) && n.len() <= 2000);
    match begin(&state, &tenant, &provider, audience, next, test_by, jar).await {
        Ok(response) => Ok(response),
        Err(failure) => Ok(refuse(&state, &tenant, failure.log_and_message(&provider))),
    }
}

async fn begin(
    state: &AppState,
    tenant: &Tenant,
    provider: &SignInProvider,
    audience: Option<String>,
    next: Option<String>,
    test_by: Option<Uuid>,
    jar: CookieJar,
) -> Result<Response, Failure> {
    let settings = settings_of(provider)?;
    let secret = client_secret(state, provider)?;
    let metadata = metadata(provider, &settings, false).await?;
    let client = client(
        &metadata,
        &settings,
        secret.as_deref(),
        &redirect_uri(state, tenant, provider.id),
    )?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in settings.scopes.iter().filter(|s| s.as_str() != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, csrf, nonce) = request.set_pkce_challenge(challenge).url();

    let cookie_name = browser_cookie_name(state);
    let browser = jar
        .get(cookie_name)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() >= 32)
        .unwrap_or_else(random_token);
    let flow = Flow {
        provider_id: provider.id,
        audience,
        next,
        test_by,
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        browser: sha256_hex(&browser),
    };
    let value = serde_json::to_string(&flow).map_err(|e| Failure::Internal(e.to_string()))?;
    put(
        state,
        &FLOWS,
        flow_key(tenant, csrf.secret()),
        value,
        FLOW_TTL,
    )
    .await?;
    let cookie = Cookie::build((cookie_name, browser))
        .path("/")
        .http_only(true)
        .secure(state.config.secure_cookies())
        .same_site(SameSite::Lax)
        .build();
    Ok((jar.add(cookie), Redirect::to(url.as_str())).into_response())
}

// ---------------------------------------------------------------------------------------
// GET /auth/oidc/{provider}/callback

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

/// What the provider vouched for, once every check passed.
struct Verified {
    claims: Map<String, Value>,
    id_token: String,
}

/// Ends the flow: checks state (single use), browser, `iss`, exchanges the code, verifies the
/// ID token, then signs in (or shows the test page).
pub async fn callback(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    Path(raw_id): Path<String>,
    Query(query): Query<CallbackQuery>,
    jar: CookieJar,
    request: Request,
) -> Result<Response, PageError> {
    let Some(provider) = oidc_provider(&state, &tenant, &raw_id).await? else {
        return Err(PageError::NotFound);
    };
    const UNKNOWN_FLOW: &str = "This sign-in link is unknown, was already used, or has expired. Please start the sign-in again.";
    let Some(state_param) = query.state.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(refuse(&state, &tenant, UNKNOWN_FLOW));
    };
    let flow = match take(&state, &FLOWS, &flow_key(&tenant, state_param)).await {
        Ok(Some(raw)) => serde_json::from_str::<Flow>(&raw).ok(),
        Ok(None) => None,
        Err(failure) => {
            return Ok(refuse(&state, &tenant, failure.log_and_message(&provider)));
        }
    };
    let Some(flow) = flow.filter(|f| f.provider_id == provider.id) else {
        return Ok(refuse(&state, &tenant, UNKNOWN_FLOW));
    };
    let browser = jar
        .get(browser_cookie_name(&state))
        .map(|c| sha256_hex(c.value()));
    if browser.as_deref() != Some(flow.browser.as_str()) {
        return Ok(refuse(
            &state,
            &tenant,
            "This sign-in was started in another browser. Please start the sign-in again here.",
        ));
    }
    if let Some(error) = query.error.as_deref() {
        tracing::info!(provider.id = %provider.id, error = %error.chars().take(64).collect::<String>(), "the OIDC provider refused");
        let message = if error == "access_denied" {
            "The sign-in was cancelled or declined at the sign-in provider, so you were not signed in."
        } else {
            "The sign-in provider did not complete the sign-in. Please try again, or contact the help desk."
        };
        return Ok(refuse(&state, &tenant, message));
    }
    // Test sign-in: the same admin, still allowed, must be the one coming back.
    if let Some(admin_id) = flow.test_by {
        let (mut parts, _) = request.into_parts();
        let admin = SignedInAgent::from_request_parts(&mut parts, &state).await?;
        admin.require(CONFIGURE)?;
        if admin.agent.id != admin_id {
            return Ok(refuse(&state, &tenant, UNKNOWN_FLOW));
        }
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(refuse(&state, &tenant, UNKNOWN_FLOW));
    };
    let verified = match finish(
        &state,
        &tenant,
        &provider,
        &flow,
        code,
        query.iss.as_deref(),
    )
    .await
    {
        Ok(verified) => verified,
        Err(failure) => return Ok(refuse(&state, &tenant, failure.log_and_message(&provider))),
    };
    let identity = external_identity(&verified.claims);
    if flow.test_by.is_some() {
        return test_page(&state, &tenant, &provider, &verified.claims).await;
    }
    let who = match flow.audience.as_deref().and_then(SignInAudience::parse) {
        Some(who) => who,
        None => return Ok(refuse(&state, &tenant, UNKNOWN_FLOW)),
    };
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let signed_in = match accounts::sign_in_external(&mut tx, &provider, who, &identity).await? {
        Ok(signed_in) => signed_in,
        Err(refusal) => {
            // Dropping the transaction rolls it back: a refusal creates nothing.
            drop(tx);
            return Ok(refuse(&state, &tenant, refusal.message()));
        }
    };
    tx.commit().await?;
    let jar = jar.remove(Cookie::build(browser_cookie_name(&state)).path("/"));
    let response =
        accounts::start_session(&state, &tenant, jar, signed_in, flow.next.as_deref()).await?;
    if let Some(token) = new_session_token(&state, &response, signed_in) {
        keep_id_token(&state, &token, provider.id, verified.id_token).await;
    }
    Ok(response)
}

async fn finish(
    state: &AppState,
    tenant: &Tenant,
    provider: &SignInProvider,
    flow: &Flow,
    code: &str,
    iss: Option<&str>,
) -> Result<Verified, Failure> {
    let settings = settings_of(provider)?;
    let secret = client_secret(state, provider)?;
    let redirect = redirect_uri(state, tenant, provider.id);
    let mut metadata = metadata(provider, &settings, false).await?;
    // RFC 9207: the authorization response names its issuer; a mix-up shows here.
    if let Some(iss) = iss
        && iss != metadata.issuer().as_str()
    {
        return Err(Failure::Rejected(
            "the iss parameter names another issuer".into(),
        ));
    }
    let client = client(&metadata, &settings, secret.as_deref(), &redirect)?;
    let exchange = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|_| Failure::Misconfigured("the provider has no token endpoint"))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()));
    let span = provider_span("token_exchange", provider);
    let tokens = match exchange
        .request_async(http()?)
        .instrument(span.clone())
        .await
    {
        Ok(tokens) => tokens,
        Err(error) => {
            span.record("otel.status_code", "ERROR");
            return Err(Failure::Provider(format!("token exchange: {error}")));
        }
    };
    let id_token = tokens
        .id_token()
        .ok_or_else(|| Failure::Rejected("no ID token in the token response".into()))?
        .clone();
    let nonce = Nonce::new(flow.nonce.clone());
    let mut verified = client
        .id_token_verifier()
        .require_audience_match(true)
        .require_issuer_match(true)
        .pipe_claims(&id_token, &nonce);
    // The provider may have rotated its keys since discovery: fetch them again, once.
    if matches!(
        verified,
        Err(
            openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey
            )
        )
    ) {
        metadata = self::metadata(provider, &settings, true).await?;
        let client = self::client(&metadata, &settings, secret.as_deref(), &redirect)?;
        verified = client.id_token_verifier().pipe_claims(&id_token, &nonce);
    }
    let subject = verified.map_err(|e| Failure::Rejected(format!("ID token: {e}")))?;

    // The signature checked out, so the token's payload is the provider's word: every claim.
    let raw = id_token.to_string();
    let mut claims = raw
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .ok_or_else(|| Failure::Rejected("the ID token payload is not JSON".into()))?;

    if settings.use_userinfo
        && let Some(endpoint) = metadata.userinfo_endpoint()
    {
        let span = provider_span("userinfo", provider);
        let info = userinfo(endpoint.url().as_str(), tokens.access_token().secret())
            .instrument(span.clone())
            .await;
        let info = match info {
            Ok(info) => info,
            Err(failure) => {
                span.record("otel.status_code", "ERROR");
                return Err(failure);
            }
        };
        // OIDC Core 5.3.2: userinfo about anyone but the ID token's subject is discarded.
        if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
            return Err(Failure::Rejected("userinfo names another subject".into()));
        }
        for (name, value) in info {
            claims.entry(name).or_insert(value);
        }
    }
    Ok(Verified {
        claims,
        id_token: raw,
    })
}

/// Verifies the ID token and returns its subject.
trait PipeClaims {
    fn pipe_claims(
        &self,
        id_token: &CoreIdToken,
        nonce: &Nonce,
    ) -> Result<String, openidconnect::ClaimsVerificationError>;
}

impl PipeClaims for openidconnect::core::CoreIdTokenVerifier<'_> {
    fn pipe_claims(
        &self,
        id_token: &CoreIdToken,
        nonce: &Nonce,
    ) -> Result<String, openidconnect::ClaimsVerificationError> {
        id_token
            .claims(self, nonce)
            .map(|claims| claims.subject().as_str().to_owned())
    }
}

async fn userinfo(endpoint: &str, access_token: &str) -> Result<Map<String, Value>, Failure> {
    let response = http()?
        .get(endpoint)
        .bearer_auth(access_token)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| Failure::Provider(format!("userinfo: {e}")))?;
    if !response.status().is_success() {
        return Err(Failure::Provider(format!(
            "userinfo answered {}",
            response.status()
        )));
    }
    response
        .json::<Map<String, Value>>()
        .await
        .map_err(|_| Failure::Provider("userinfo is not a JSON object".into()))
}

fn claim_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Claims -> what `accounts` needs; every claim also as a string attribute for the map.
fn external_identity(claims: &Map<String, Value>) -> ExternalIdentity {
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(verified)) => *verified,
        // Some providers send it as a string.
        Some(Value::String(verified)) => verified.eq_ignore_ascii_case("true"),
        _ => false,
    };
    ExternalIdentity {
        subject: text("sub").unwrap_or_default(),
        email: text("email"),
        email_verified,
        first_name: text("given_name"),
        last_name: text("family_name"),
        attributes: claims
            .iter()
            .map(|(name, value)| (name.clone(), claim_text(value)))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// The session token the sign-in response sets for `signed_in`.
fn new_session_token(
    state: &AppState,
    response: &Response,
    signed_in: accounts::SignedIn,
) -> Option<String> {
    let kind = match signed_in {
        accounts::SignedIn::Agent(_) => PrincipalKind::Agent,
        accounts::SignedIn::EndUser(_) => PrincipalKind::EndUser,
    };
    let name = kind.cookie_name(state.config.secure_cookies());
    response
        .headers()
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| Cookie::parse(v.to_owned()).ok())
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

/// Keeps the ID token beside the new session (by its token), for the logout hint.
async fn keep_id_token(state: &AppState, session_token: &str, provider_id: Uuid, id_token: String) {
    let Ok(value) = serde_json::to_string(&KeptIdToken {
        provider_id,
        id_token,
    }) else {
        return;
    };
    let key = id_token_key(session_token);
    if let Err(failure) = put(state, &ID_TOKENS, key, value, ID_TOKEN_TTL).await {
        // Logout then goes without the hint; the sign-in itself succeeded.
        tracing::warn!(?failure, "the ID token could not be kept for logout");
    }
}

// ---------------------------------------------------------------------------------------
// The admin's test sign-in

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"{% extends "base.html" %}
{% block title %}Test sign-in{% endblock %}
{% block content %}
<section class="notice">
  <h1>Test sign-in with {{ provider_name }} worked</h1>
  <p>The provider sent these claims. No account was created or signed in.</p>
  <table class="claims">
    <thead><tr><th scope="col">Claim</th><th scope="col">Value</th></tr></thead>
    <tbody>
    {% for (name, value) in claims %}
      <tr><td><code>{{ name }}</code></td><td>{{ value }}</td></tr>
    {% endfor %}
    </tbody>
  </table>
  <p><a href="/admin/sign-in">Back to sign-in providers</a></p>
</section>
{% endblock %}"#
)]
struct TestPage {
    brand: Brand,
    provider_name: String,
    claims: Vec<(String, String)>,
}

async fn test_page(
    state: &AppState,
    tenant: &Tenant,
    provider: &SignInProvider,
    claims: &Map<String, Value>,
) -> Result<Response, PageError> {
    let page = TestPage {
        brand: brand(state, tenant).await,
        provider_name: provider.name.clone(),
        claims: claims
            .iter()
            .map(|(name, value)| (name.clone(), claim_text(value)))
            .collect(),
    };
    Ok((StatusCode::OK, crate::pages::render(&page)?).into_response())
}

// ---------------------------------------------------------------------------------------
// POST /auth/oidc/{provider}/logout

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    audience: String,
}

/// Ends the local session(s) of this tenant and sends the browser to the provider's
/// end-session endpoint (with the ID token as hint when kept), or home when it has none.
pub async fn logout(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    Path(raw_id): Path<String>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<LogoutForm>,
) -> Result<Response, PageError> {
    let Some(provider) = oidc_provider(&state, &tenant, &raw_id).await? else {
        return Err(PageError::NotFound);
    };
    let kinds: &[PrincipalKind] = match SignInAudience::parse(&form.audience) {
        Some(SignInAudience::Agents) => &[PrincipalKind::Agent],
        Some(SignInAudience::EndUsers) => &[PrincipalKind::EndUser],
        None => &[PrincipalKind::EndUser, PrincipalKind::Agent],
    };
    let mut jar = jar;
    let mut hint = None;
    let mut home = "/";
    for &kind in kinds {
        let Some((token, session)) = session_of_jar(&jar, &state, kind).await? else {
            continue;
        };
        if session.tenant_id != Some(tenant.id.as_uuid()) {
            continue;
        }
        if let Ok(Some(raw)) = take(&state, &ID_TOKENS, &id_token_key(&token)).await
            && let Ok(kept) = serde_json::from_str::<KeptIdToken>(&raw)
            && kept.provider_id == provider.id
        {
            hint = Some(kept.id_token);
        }
        let _ = state.sessions.end(&token).await;
        jar = jar.add(crate::auth::removal_cookie(&state, kind));
        if kind == PrincipalKind::Agent {
            home = "/agent/login?signed_out=1";
        }
    }
    let origin = state.config.base_url.tenant_origin(tenant.slug.as_str());
    let target = match end_session_url(&provider, &format!("{origin}{home}"), hint).await {
        Some(url) => url,
        None => home.to_owned(),
    };
    Ok((jar, Redirect::to(&target)).into_response())
}

async fn end_session_url(
    provider: &SignInProvider,
    post_logout: &str,
    hint: Option<String>,
) -> Option<String> {
    let settings = settings_of(provider).ok()?;
    let metadata = metadata(provider, &settings, false).await.ok()?;
    let endpoint = metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()?;
    let mut request =
        LogoutRequest::from(endpoint).set_client_id(ClientId::new(settings.client_id.clone()));
    if let Ok(redirect) = PostLogoutRedirectUrl::new(post_logout.to_owned()) {
        request = request.set_post_logout_redirect_uri(redirect);
    }
    if let Some(id_token) = hint.and_then(|raw| raw.parse::<CoreIdToken>().ok()) {
        request = request.set_id_token_hint(&id_token);
    }
    Some(request.http_get_url().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_become_an_identity_with_every_claim_as_text() {
        let claims = serde_json::json!({
            "sub": "abc", "email": " ada@example.com ", "email_verified": "true",
            "given_name": "Ada", "family_name": "Lovelace", "groups": ["a", "b"], "age": 36
        });
        let Value::Object(claims) = claims else {
            panic!("an object")
        };
        let identity = external_identity(&claims);
        assert_eq!(identity.subject, "abc");
        assert_eq!(identity.email.as_deref(), Some("ada@example.com"));
        assert!(identity.email_verified);
        assert_eq!(identity.first_name.as_deref(), Some("Ada"));
        assert_eq!(identity.attributes["groups"], r#"["a","b"]"#);
        assert_eq!(identity.attributes["age"], "36");
    }

    #[test]
    fn an_unverified_email_is_not_verified() {
        let Value::Object(claims) = serde_json::json!({"sub": "x", "email_verified": false}) else {
            panic!("an object")
        };
        assert!(!external_identity(&claims).email_verified);
    }

    #[test]
    fn settings_default_their_scopes() {
        let settings: OidcSettings = serde_json::from_value(
            serde_json::json!({"issuer_url": "https://id.example", "client_id": "c"}),
        )
        .expect("settings");
        assert_eq!(settings.scopes, ["openid", "email", "profile"]);
        assert!(!settings.use_userinfo);
    }
}
