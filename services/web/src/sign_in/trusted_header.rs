//! Sign-in by a header a trusted reverse proxy sets (osTicket's HTTP pass-through, OTRS
//! HTTPBasicAuth): `GET /auth/header?audience=..`, which the sign-in pages offer when such a
//! provider is enabled. The header counts only when the TCP peer is one of the provider's proxy
//! addresses; from anywhere else it is ignored (the request stays anonymous) and logged without
//! its value. An explicit endpoint instead of a middleware on every request keeps the trust
//! decision in one place and sessions exactly as the other sign-ins make them.

use std::net::{IpAddr, SocketAddr};

use axum::Extension;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use store::sign_in_providers::{ProviderKind, SignInAudience, SignInProvider};

use crate::AppState;
use crate::error::PageError;
use crate::sign_in::accounts::{self, ExternalIdentity};
use crate::tenancy::CurrentTenant;

/// The most a rewrite pattern's compiled program may take (a pattern is admin input).
pub const REGEX_SIZE_LIMIT: usize = 64 * 1024;
/// The longest rewrite pattern accepted.
pub const REGEX_MAX_CHARS: usize = 500;

/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `::1/128`; a bare address is a
/// single host). The host bits need not be zero; they are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(raw: &str) -> Result<Cidr, String> {
        let raw = raw.trim();
        let (address, prefix) = match raw.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (raw, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{raw:?} is not an IP address or network"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{raw:?} has a prefix length outside 0..={max}"))?,
            None => max,
        };
        Ok(Cidr { network, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        // An IPv4 peer may reach a dual-stack listener as ::ffff:a.b.c.d.
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, address) {
            (IpAddr::V4(net), IpAddr::V4(addr)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(addr) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(addr)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(addr) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The `settings` JSON of a trusted-header provider.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TrustedHeaderSettings {
    /// The header the proxy sets, such as `X-Forwarded-User` or `REMOTE_USER`.
    pub header: String,
    /// The proxies' addresses (CIDR); the header counts only from them.
    #[serde(default)]
    pub proxies: Vec<String>,
    /// A second header the proxy must set, with `required_value`.
    #[serde(default)]
    pub required_header: Option<String>,
    #[serde(default)]
    pub required_value: Option<String>,
    /// A regular expression applied to the value (OTRS ReplaceRegExp), e.g. to strip a domain.
    #[serde(default)]
    pub rewrite_pattern: Option<String>,
    #[serde(default = "default_replacement")]
    pub rewrite_replacement: String,
}

fn default_replacement() -> String {
    "$1".to_owned()
}

fn valid_header_name(name: &str) -> bool {
    axum::http::HeaderName::from_bytes(name.trim().as_bytes()).is_ok() && !name.trim().is_empty()
}

/// Compiles a rewrite pattern within the size limit.
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    if pattern.chars().count() > REGEX_MAX_CHARS {
        return Err(format!("must be at most {REGEX_MAX_CHARS} characters"));
    }
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => "is too complex".to_owned(),
            _ => "is not a valid regular expression".to_owned(),
        })
}

impl TrustedHeaderSettings {
    /// What is wrong, by field (`settings.<name>`).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !valid_header_name(&self.header) {
            problems.push((
                "settings.header",
                "must be a valid HTTP header name".to_owned(),
            ));
        }
        if self.proxies.is_empty() {
            problems.push((
                "settings.proxies",
                "must list at least one proxy address (CIDR)".to_owned(),
            ));
        }
        for proxy in &self.proxies {
            if let Err(problem) = Cidr::parse(proxy) {
                problems.push(("settings.proxies", problem));
                break;
            }
        }
        match (&self.required_header, &self.required_value) {
            (Some(header), _) if !valid_header_name(header) => problems.push((
                "settings.required_header",
                "must be a valid HTTP header name".to_owned(),
            )),
            (Some(_), None) => problems.push((
                "settings.required_value",
                "is needed with a required header".to_owned(),
            )),
            _ => {}
        }
        if let Some(pattern) = &self.rewrite_pattern
            && let Err(problem) = compile_pattern(pattern)
        {
            problems.push(("settings.rewrite_pattern", problem));
        }
        problems
    }

    fn trusts(&self, peer: IpAddr) -> bool {
        self.proxies
            .iter()
            .filter_map(|p| Cidr::parse(p).ok())
            .any(|cidr| cidr.contains(peer))
    }
}

/// What the request says, read under the provider's rules.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderOutcome {
    /// From a proxy, with a usable value (already rewritten).
    Accepted(String),
    /// No header (or an empty one, or the required header is missing).
    Absent,
    /// The header came from an address that is not a proxy: ignored.
    Untrusted,
}

/// Reads the header under `settings` for a request from `peer`.
pub fn read(settings: &TrustedHeaderSettings, peer: IpAddr, headers: &HeaderMap) -> HeaderOutcome {
    let value = headers
        .get(settings.header.trim())
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let Some(value) = value else {
        return HeaderOutcome::Absent;
    };
    if !settings.trusts(peer) {
        return HeaderOutcome::Untrusted;
    }
    if let Some(required) = &settings.required_header {
        let present = headers
            .get(required.trim())
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        if present != settings.required_value.as_deref().map(str::trim) {
            return HeaderOutcome::Absent;
        }
    }
    let rewritten = match settings
        .rewrite_pattern
        .as_deref()
        .and_then(|p| compile_pattern(p).ok())
    {
        Some(pattern) => pattern
            .replace(value, settings.rewrite_replacement.as_str())
            .into_owned(),
        None => value.to_owned(),
    };
    let rewritten = rewritten.trim();
    if rewritten.is_empty() || rewritten.chars().count() > 1000 {
        return HeaderOutcome::Absent;
    }
    HeaderOutcome::Accepted(rewritten.to_owned())
}

#[derive(Deserialize)]
pub struct HeaderQuery {
    #[serde(default)]
    audience: String,
    #[serde(default)]
    next: Option<String>,
}

fn login_page(who: SignInAudience) -> &'static str {
    match who {
        SignInAudience::Agents => "/agent/login",
        SignInAudience::EndUsers => "/login",
    }
}

/// `GET /auth/header?audience=agents|end_users&next=..`: signs in whoever the trusted proxy
/// names, through the first enabled trusted-header provider of the audience that accepts the
/// request; anyone else goes back to the sign-in page, anonymous.
pub async fn sign_in(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<HeaderQuery>,
) -> Result<Response, PageError> {
    let Some(who) = SignInAudience::parse(&query.audience) else {
        return Err(PageError::BadRequest(
            "audience must be agents or end_users".into(),
        ));
    };
    let Some(peer) = client.map(|c| c.0.0.ip()) else {
        return Ok(Redirect::to(login_page(who)).into_response());
    };
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let providers: Vec<SignInProvider> = store::sign_in_providers::enabled_for(&mut tx, who)
        .await?
        .into_iter()
        .filter(|p| p.kind == ProviderKind::TrustedHeader)
        .collect();
    let mut warned = false;
    for provider in providers {
        let Ok(settings) =
            serde_json::from_value::<TrustedHeaderSettings>(provider.settings.clone())
        else {
            tracing::warn!(provider.id = %provider.id, "trusted-header provider has unreadable settings");
            continue;
        };
        let value = match read(&settings, peer, &headers) {
            HeaderOutcome::Accepted(value) => value,
            HeaderOutcome::Absent => continue,
            HeaderOutcome::Untrusted => {
                // Once per request, and never the value: it names a person.
                if !warned {
                    tracing::warn!(
                        provider.id = %provider.id,
                        peer = %peer,
                        header = settings.header.as_str(),
                        "trusted sign-in header ignored: the request did not come from a configured proxy"
                    );
                    warned = true;
                }
                continue;
            }
        };
        let identity = identity_for(&mut tx, who, &value).await?;
        return match accounts::sign_in_external(&mut tx, &provider, who, &identity).await? {
            Ok(signed_in) => {
                tx.commit().await?;
                accounts::start_session(&state, &tenant, jar, signed_in, query.next.as_deref())
                    .await
            }
            Err(refusal) => {
                // Rolling back writes nothing of the refused attempt.
                drop(tx);
                Ok(accounts::refusal_page(&state, &tenant, refusal.message()))
            }
        };
    }
    tx.commit().await?;
    Ok(Redirect::to(login_page(who)).into_response())
}

/// The identity a header value stands for: an email address when it looks like one, else a
/// login (for end users, the account with that username supplies the address).
async fn identity_for(
    tx: &mut store::TenantTx,
    who: SignInAudience,
    value: &str,
) -> Result<ExternalIdentity, store::StoreError> {
    let email = if value.contains('@') {
        domain::EmailAddress::parse(value)
            .ok()
            .map(|e| e.as_str().to_owned())
    } else if who == SignInAudience::EndUsers {
        store::end_users::by_email_or_login(tx, value)
            .await?
            .map(|u| u.email)
    } else {
        None
    };
    let mut attributes = std::collections::BTreeMap::new();
    attributes.insert("login".to_owned(), value.to_owned());
    Ok(ExternalIdentity {
        subject: value.to_owned(),
        email,
        // The proxy authenticated the person; it is the authority on who they are.
        email_verified: true,
        first_name: None,
        last_name: None,
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().expect("test address")
    }

    #[test]
    fn cidrs_parse_and_match() {
        let net = Cidr::parse("10.0.0.0/8").expect("valid");
        assert!(net.contains(ip("10.1.2.3")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.0.0.1")));
        let host = Cidr::parse("127.0.0.1").expect("valid");
        assert!(host.contains(ip("127.0.0.1")));
        assert!(!host.contains(ip("127.0.0.2")));
        let any = Cidr::parse("0.0.0.0/0").expect("valid");
        assert!(any.contains(ip("203.0.113.9")));
        let v6 = Cidr::parse("2001:db8::/32").expect("valid");
        assert!(v6.contains(ip("2001:db8::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("10.0.0/8").is_err());
        assert!(Cidr::parse("example.com").is_err());
        assert_eq!(net.to_string(), "10.0.0.0/8");
    }

    fn settings() -> TrustedHeaderSettings {
        TrustedHeaderSettings {
            header: "X-Forwarded-User".into(),
            proxies: vec!["127.0.0.1/32".into()],
            required_header: None,
            required_value: None,
            rewrite_pattern: Some(r"^(.*)@corp\.example$".into()),
            rewrite_replacement: "$1".into(),
        }
    }

    #[test]
    fn the_header_counts_only_from_a_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-user",
            "ada@corp.example".parse().expect("value"),
        );
        assert_eq!(
            read(&settings(), ip("127.0.0.1"), &headers),
            HeaderOutcome::Accepted("ada".into())
        );
        assert_eq!(
            read(&settings(), ip("192.0.2.1"), &headers),
            HeaderOutcome::Untrusted
        );
        assert_eq!(
            read(&settings(), ip("127.0.0.1"), &HeaderMap::new()),
            HeaderOutcome::Absent
        );
        let mut required = settings();
        required.required_header = Some("X-Auth-Via".into());
        required.required_value = Some("sso".into());
        assert_eq!(
            read(&required, ip("127.0.0.1"), &headers),
            HeaderOutcome::Absent
        );
        headers.insert("x-auth-via", "sso".parse().expect("value"));
        assert_eq!(
            read(&required, ip("127.0.0.1"), &headers),
            HeaderOutcome::Accepted("ada".into())
        );
    }

    #[test]
    fn settings_problems_name_the_field() {
        assert!(settings().problems().is_empty());
        let mut bad = settings();
        bad.header = "not a header".into();
        bad.proxies = vec!["nowhere".into()];
        bad.rewrite_pattern = Some("(".into());
        let fields: Vec<_> = bad.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "settings.header",
                "settings.proxies",
                "settings.rewrite_pattern"
            ]
        );
        assert!(compile_pattern("a{1000}{1000}").is_err());
    }
}
