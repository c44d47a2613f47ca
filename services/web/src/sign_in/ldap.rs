//! LDAP sign-in: find the typed name in the directory with the service account, bind as the
//! entry found with the typed password, check the optional group, and hand back the entry's
//! attributes. One short-lived connection per operation, every step bounded by the provider's
//! timeout; nothing is pooled, so a directory's outage never outlives the request that met it.

use std::collections::BTreeMap;
use std::time::Duration;

use std::sync::Arc;

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, SearchOptions, ldap_escape};
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use tracing::field::Empty;

use crate::sign_in::accounts::ExternalIdentity;

/// The `settings` JSON of an LDAP provider; the bind password lives sealed in the provider's
/// `secret`, never here.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct LdapSettings {
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before anything is sent.
    #[serde(default)]
    pub starttls: bool,
    /// A PEM CA certificate to trust instead of the system store.
    #[serde(default)]
    pub ca_certificate_pem: Option<String>,
    /// The service account; `None` searches anonymously.
    #[serde(default)]
    pub bind_dn: Option<String>,
    pub base_dn: String,
    /// A filter with `{login}` where the typed name goes (escaped per RFC 4515).
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    /// Only members of this group may sign in (OTRS GroupDN).
    #[serde(default)]
    pub group_dn: Option<String>,
    /// `member` (or `uniqueMember`) holds DNs; `memberUid` holds the login (OTRS AccessAttr).
    #[serde(default = "default_group_member_attribute")]
    pub group_member_attribute: String,
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// OTRS "Die": when the directory cannot be reached, refuse the sign-in instead of
    /// trying the next provider.
    #[serde(default)]
    pub refuse_when_unreachable: bool,
}

fn default_user_filter() -> String {
    "(&(objectClass=inetOrgPerson)(uid={login}))".to_owned()
}

fn default_group_member_attribute() -> String {
    "member".to_owned()
}

fn default_timeout_seconds() -> u64 {
    5
}

/// The longest a provider may make a sign-in wait per step.
const MAX_TIMEOUT_SECONDS: u64 = 60;

impl LdapSettings {
    /// What is wrong with these settings, as (field, message) pairs for a form or a 422;
    /// empty when they can be used.
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut problems = Vec::new();
        match url::Url::parse(&self.url) {
            Ok(url) if !matches!(url.scheme(), "ldap" | "ldaps") => {
                problems.push(("url", "must start with ldap:// or ldaps://"));
            }
            Ok(url) if url.host_str().is_none_or(str::is_empty) => {
                problems.push(("url", "must name the directory's host"));
            }
            Ok(url) if url.scheme() == "ldaps" && self.starttls => {
                problems.push((
                    "starttls",
                    "StartTLS applies to ldap:// only; ldaps:// is TLS already",
                ));
            }
            Ok(_) => {}
            Err(_) => problems.push(("url", "must be a URL such as ldap://directory.example:389")),
        }
        if self.base_dn.trim().is_empty() {
            problems.push(("base_dn", "must not be empty"));
        }
        if !self.user_filter.contains("{login}") {
            problems.push((
                "user_filter",
                "must contain {login} where the typed name goes",
            ));
        } else if ldap3::parse_filter(self.user_filter.replace("{login}", "x")).is_err() {
            problems.push(("user_filter", "is not a valid LDAP filter"));
        }
        if self
            .bind_dn
            .as_deref()
            .is_some_and(|dn| dn.trim().is_empty())
        {
            problems.push((
                "bind_dn",
                "must be left out for anonymous search, not empty",
            ));
        }
        if self
            .group_dn
            .as_deref()
            .is_some_and(|dn| dn.trim().is_empty())
        {
            problems.push((
                "group_dn",
                "must be left out when no group is required, not empty",
            ));
        }
        if self.group_member_attribute.trim().is_empty() {
            problems.push((
                "group_member_attribute",
                "must name an attribute such as member or memberUid",
            ));
        }
        if !(1..=MAX_TIMEOUT_SECONDS).contains(&self.timeout_seconds) {
            problems.push(("timeout_seconds", "must be between 1 and 60"));
        }
        if let Err(problem) = self.tls_config() {
            problems.push(("ca_certificate_pem", problem));
        }
        problems
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.clamp(1, MAX_TIMEOUT_SECONDS))
    }

    /// The host and port, for spans and messages (the URL never carries credentials we use).
    fn server(&self) -> String {
        url::Url::parse(&self.url)
            .ok()
            .and_then(|url| {
                let host = url.host_str()?.to_owned();
                Some(match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                })
            })
            .unwrap_or_default()
    }
}

impl LdapSettings {
    /// The TLS configuration trusting only `ca_certificate_pem` when it is set (a private CA),
    /// `None` to use the system's trust store.
    fn tls_config(&self) -> Result<Option<Arc<rustls::ClientConfig>>, &'static str> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let Some(pem) = self
            .ca_certificate_pem
            .as_deref()
            .filter(|p| !p.trim().is_empty())
        else {
            return Ok(None);
        };
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let certificate = certificate.map_err(|_| CA_UNREADABLE)?;
            roots.add(certificate).map_err(|_| CA_UNREADABLE)?;
        }
        if roots.is_empty() {
            return Err(CA_UNREADABLE);
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|_| CA_UNREADABLE)?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Some(Arc::new(config)))
    }
}

const CA_UNREADABLE: &str =
    "must be one or more PEM certificates (-----BEGIN CERTIFICATE----- ...)";

/// The directory entry that signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LdapIdentity {
    pub dn: String,
    /// Every text attribute of the entry by the name the directory gives it, first value only;
    /// password attributes are never kept.
    pub attributes: BTreeMap<String, String>,
}

impl LdapIdentity {
    /// The attribute named `name`, ignoring case as LDAP does.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The directory is the authority on its own entries, so its mail counts as verified; the
    /// DN is the subject that links the account.
    pub fn external(&self) -> ExternalIdentity {
        let field = |name: &str| {
            self.attribute(name)
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        ExternalIdentity {
            subject: self.dn.clone(),
            email: field("mail"),
            email_verified: true,
            first_name: field("givenName"),
            last_name: field("sn"),
            attributes: self.attributes.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LdapError {
    /// The directory could not be reached in time (connection, TLS, timeout, server busy):
    /// the next provider is tried unless the provider refuses when unreachable.
    #[error("the directory is unreachable: {0}")]
    Unreachable(String),
    /// No such entry or a wrong password: deliberately the same answer for both.
    #[error("wrong name or password")]
    InvalidCredentials,
    /// The password was right but the entry is not in the required group.
    #[error("not a member of the required group")]
    NotInGroup,
    /// The provider's settings do not work against this directory (service account refused,
    /// base DN missing, filter invalid or matching several entries).
    #[error("the directory settings do not work: {0}")]
    Misconfigured(String),
}

/// Searches for `login`, binds as the entry found with `password`, and checks the group.
pub async fn authenticate(
    settings: &LdapSettings,
    bind_password: Option<&str>,
    login: &str,
    password: &str,
) -> Result<LdapIdentity, LdapError> {
    let span = provider_span("authenticate", settings);
    let outcome = async {
        // An empty password makes a simple bind "unauthenticated", which many directories
        // answer with success: never let one through.
        if login.trim().is_empty() || password.is_empty() {
            return Err(LdapError::InvalidCredentials);
        }
        let mut session = Session::open(settings, bind_password).await?;
        let found = session.find(settings, login).await;
        let outcome = match found {
            Ok(Some(identity)) => session.verify(settings, identity, login, password).await,
            Ok(None) => {
                session.bind_as_nobody(settings, password).await;
                Err(LdapError::InvalidCredentials)
            }
            Err(error) => Err(error),
        };
        session.close().await;
        outcome
    }
    .instrument(span.clone())
    .await;
    record_outcome(&span, &outcome);
    outcome
}

/// Binds with the service account (or anonymously) and reads the base DN.
pub async fn test_connection(
    settings: &LdapSettings,
    bind_password: Option<&str>,
) -> Result<(), LdapError> {
    let span = provider_span("test_connection", settings);
    let outcome = async {
        let mut session = Session::open(settings, bind_password).await?;
        let read = session.read_base(settings).await;
        session.close().await;
        read
    }
    .instrument(span.clone())
    .await;
    record_outcome(&span, &outcome);
    outcome
}

/// Finds the entry `login` would sign in as, without the user's password (the admin's
/// "look up user" tool).
pub async fn look_up(
    settings: &LdapSettings,
    bind_password: Option<&str>,
    login: &str,
) -> Result<Option<LdapIdentity>, LdapError> {
    let span = provider_span("look_up", settings);
    let outcome = async {
        if login.trim().is_empty() {
            return Ok(None);
        }
        let mut session = Session::open(settings, bind_password).await?;
        let found = session.find(settings, login).await;
        session.close().await;
        found
    }
    .instrument(span.clone())
    .await;
    record_outcome(&span, &outcome);
    outcome
}

/// A client span per operation: the server and the outcome, never a name, filter or password.
fn provider_span(operation: &'static str, settings: &LdapSettings) -> tracing::Span {
    tracing::info_span!(
        "provider.ldap",
        otel.kind = "client",
        provider.operation = operation,
        server.address = %settings.server(),
        provider.outcome = Empty,
    )
}

fn record_outcome<T>(span: &tracing::Span, outcome: &Result<T, LdapError>) {
    let label = match outcome {
        Ok(_) => "ok",
        Err(LdapError::Unreachable(reason)) => {
            tracing::warn!(parent: span, %reason, "LDAP directory unreachable");
            "unreachable"
        }
        Err(LdapError::InvalidCredentials) => "invalid_credentials",
        Err(LdapError::NotInGroup) => "not_in_group",
        Err(LdapError::Misconfigured(reason)) => {
            tracing::warn!(parent: span, %reason, "LDAP provider misconfigured");
            "misconfigured"
        }
    };
    span.record("provider.outcome", label);
}

/// One connection, bound as the service account (or anonymous).
struct Session {
    ldap: ldap3::Ldap,
    timeout: Duration,
}

impl Session {
    async fn open(settings: &LdapSettings, bind_password: Option<&str>) -> Result<Self, LdapError> {
        if let Some((field, message)) = settings.problems().first() {
            return Err(LdapError::Misconfigured(format!("{field} {message}")));
        }
        // A DN with an empty password is an unauthenticated bind, which some directories
        // accept as anonymous: the service account would silently search with fewer rights.
        if settings.bind_dn.is_some() && bind_password.is_none_or(str::is_empty) {
            return Err(LdapError::Misconfigured(
                "the service account has no bind password".to_owned(),
            ));
        }
        let timeout = settings.timeout();
        let mut connection = LdapConnSettings::new()
            .set_conn_timeout(timeout)
            .set_starttls(settings.starttls);
        if let Ok(Some(config)) = settings.tls_config() {
            connection = connection.set_config(config);
        }
        let (driver, mut ldap) = LdapConnAsync::with_settings(connection, &settings.url)
            .await
            .map_err(unreachable_or_misconfigured)?;
        ldap3::drive!(driver);
        let bound = match settings.bind_dn.as_deref() {
            Some(bind_dn) => {
                ldap.with_timeout(timeout)
                    .simple_bind(bind_dn, bind_password.unwrap_or_default())
                    .await
            }
            // RFC 4513 anonymous bind: empty name and password.
            None => ldap.with_timeout(timeout).simple_bind("", "").await,
        };
        let session = Session { ldap, timeout };
        match bound.and_then(ldap3::LdapResult::success) {
            Ok(_) => Ok(session),
            Err(error) => {
                session.close().await;
                Err(match result_code(&error) {
                    Some(
                        INVALID_CREDENTIALS | INAPPROPRIATE_AUTHENTICATION | UNWILLING_TO_PERFORM,
                    ) => LdapError::Misconfigured(
                        "the directory refused the service account's bind".to_owned(),
                    ),
                    _ => unreachable_or_misconfigured(error),
                })
            }
        }
    }

    /// The single entry the filter finds for `login`; several matches are a configuration
    /// error (signing in as whichever came first would be a guess).
    async fn find(
        &mut self,
        settings: &LdapSettings,
        login: &str,
    ) -> Result<Option<LdapIdentity>, LdapError> {
        let filter = settings.user_filter.replace("{login}", &ldap_escape(login));
        let searched = self
            .ldap
            .with_timeout(self.timeout)
            .with_search_options(SearchOptions::new().sizelimit(2))
            .search(&settings.base_dn, Scope::Subtree, &filter, vec!["*"])
            .await;
        let ldap3::SearchResult(entries, result) = match searched {
            Ok(searched) => searched,
            Err(ldap3::LdapError::FilterParsing) => {
                return Err(LdapError::Misconfigured(
                    "the user filter is not a valid LDAP filter".to_owned(),
                ));
            }
            Err(error) => return Err(unreachable_or_misconfigured(error)),
        };
        let entries: Vec<_> = entries
            .into_iter()
            .filter(|entry| !entry.is_ref())
            .collect();
        if result.rc == SIZE_LIMIT_EXCEEDED || entries.len() > 1 {
            return Err(LdapError::Misconfigured(
                "the user filter matches more than one entry for that name".to_owned(),
            ));
        }
        match result.rc {
            SUCCESS => {}
            NO_SUCH_OBJECT => {
                return Err(LdapError::Misconfigured(
                    "the base DN does not exist in the directory".to_owned(),
                ));
            }
            _ => return Err(unreachable_or_misconfigured(ldap3::LdapError::from(result))),
        }
        Ok(entries
            .into_iter()
            .next()
            .map(|entry| identity_of(SearchEntry::construct(entry))))
    }

    /// Checks the group with the service account's rights (a user may not read groups), then
    /// rebinds as the entry with the typed password. The group's answer is only told once the
    /// password proved right, so a wrong password learns nothing about membership.
    async fn verify(
        &mut self,
        settings: &LdapSettings,
        identity: LdapIdentity,
        login: &str,
        password: &str,
    ) -> Result<LdapIdentity, LdapError> {
        let member = match settings.group_dn.as_deref() {
            Some(group_dn) => Some(self.is_member(settings, group_dn, &identity, login).await?),
            None => None,
        };
        let bound = self
            .ldap
            .with_timeout(self.timeout)
            .simple_bind(&identity.dn, password)
            .await
            .and_then(ldap3::LdapResult::success);
        match bound {
            Ok(_) => {}
            Err(error) => {
                return Err(match result_code(&error) {
                    Some(
                        INVALID_CREDENTIALS | INAPPROPRIATE_AUTHENTICATION | UNWILLING_TO_PERFORM,
                    ) => LdapError::InvalidCredentials,
                    _ => unreachable_or_misconfigured(error),
                });
            }
        }
        match member {
            Some(false) => Err(LdapError::NotInGroup),
            Some(true) | None => Ok(identity),
        }
    }

    /// The bind a found entry would get, against a DN that cannot exist, so that an unknown
    /// name costs the same round trip as a wrong password and its answer tells no more.
    async fn bind_as_nobody(&mut self, settings: &LdapSettings, password: &str) {
        let nobody = format!("cn=tenantdesk-no-such-entry,{}", settings.base_dn);
        let _ = self
            .ldap
            .with_timeout(self.timeout)
            .simple_bind(&nobody, password)
            .await;
    }

    async fn is_member(
        &mut self,
        settings: &LdapSettings,
        group_dn: &str,
        identity: &LdapIdentity,
        login: &str,
    ) -> Result<bool, LdapError> {
        let attribute = settings.group_member_attribute.trim();
        // memberUid holds the account's uid, not its DN; prefer the directory's own spelling of
        // it over what was typed.
        let value = if attribute.eq_ignore_ascii_case("memberUid") {
            identity.attribute("uid").unwrap_or(login).to_owned()
        } else {
            identity.dn.clone()
        };
        let compared = self
            .ldap
            .with_timeout(self.timeout)
            .compare(group_dn, attribute, value.as_bytes())
            .await
            .and_then(ldap3::result::CompareResult::equal);
        match compared {
            Ok(equal) => Ok(equal),
            Err(error) => Err(match result_code(&error) {
                Some(NO_SUCH_OBJECT) => LdapError::Misconfigured(
                    "the required group does not exist in the directory".to_owned(),
                ),
                Some(NO_SUCH_ATTRIBUTE | UNDEFINED_ATTRIBUTE_TYPE) => {
                    // The group exists but has no such attribute (or no values): nobody is in it.
                    return Ok(false);
                }
                Some(INSUFFICIENT_ACCESS) => LdapError::Misconfigured(
                    "the service account may not read the required group".to_owned(),
                ),
                _ => unreachable_or_misconfigured(error),
            }),
        }
    }

    async fn read_base(&mut self, settings: &LdapSettings) -> Result<(), LdapError> {
        let read = self
            .ldap
            .with_timeout(self.timeout)
            .search(
                &settings.base_dn,
                Scope::Base,
                "(objectClass=*)",
                vec!["1.1"],
            )
            .await
            .and_then(ldap3::SearchResult::success);
        match read {
            Ok((entries, _)) if !entries.is_empty() => Ok(()),
            Ok(_) => Err(LdapError::Misconfigured(
                "the base DN cannot be read".to_owned(),
            )),
            Err(error) => Err(match result_code(&error) {
                Some(NO_SUCH_OBJECT) => LdapError::Misconfigured(
                    "the base DN does not exist in the directory".to_owned(),
                ),
                Some(INSUFFICIENT_ACCESS) => LdapError::Misconfigured(
                    "the service account may not read the base DN".to_owned(),
                ),
                _ => unreachable_or_misconfigured(error),
            }),
        }
    }

    async fn close(mut self) {
        // Best effort: the server drops the connection anyway when the socket closes.
        let _ = self.ldap.unbind().await;
    }
}

// LDAP result codes (RFC 4511 appendix A).
const SUCCESS: u32 = 0;
const SIZE_LIMIT_EXCEEDED: u32 = 4;
const NO_SUCH_ATTRIBUTE: u32 = 16;
const UNDEFINED_ATTRIBUTE_TYPE: u32 = 17;
const NO_SUCH_OBJECT: u32 = 32;
const INAPPROPRIATE_AUTHENTICATION: u32 = 48;
const INVALID_CREDENTIALS: u32 = 49;
const INSUFFICIENT_ACCESS: u32 = 50;
const BUSY: u32 = 51;
const UNAVAILABLE: u32 = 52;
const UNWILLING_TO_PERFORM: u32 = 53;

fn result_code(error: &ldap3::LdapError) -> Option<u32> {
    match error {
        ldap3::LdapError::LdapResult { result } => Some(result.rc),
        _ => None,
    }
}

/// Transport trouble means the directory is unreachable; an answer the directory gave means
/// the settings do not fit it.
fn unreachable_or_misconfigured(error: ldap3::LdapError) -> LdapError {
    match error {
        ldap3::LdapError::LdapResult { result } if matches!(result.rc, BUSY | UNAVAILABLE) => {
            LdapError::Unreachable(format!("the directory answered: {}", result.text))
        }
        ldap3::LdapError::LdapResult { result } => LdapError::Misconfigured(format!(
            "the directory answered with result code {}{}",
            result.rc,
            if result.text.is_empty() {
                String::new()
            } else {
                format!(": {}", result.text)
            }
        )),
        ldap3::LdapError::UrlParsing { .. } | ldap3::LdapError::UnknownScheme(_) => {
            LdapError::Misconfigured("the URL must start with ldap:// or ldaps://".to_owned())
        }
        ldap3::LdapError::FilterParsing => {
            LdapError::Misconfigured("the user filter is not a valid LDAP filter".to_owned())
        }
        other => LdapError::Unreachable(other.to_string()),
    }
}

/// Text attributes, first value each; anything that looks like a password is dropped so it can
/// never reach a page, the API or a log.
fn identity_of(entry: SearchEntry) -> LdapIdentity {
    let attributes = entry
        .attrs
        .into_iter()
        .filter(|(name, _)| !is_secret_attribute(name))
        .filter_map(|(name, values)| values.into_iter().next().map(|value| (name, value)))
        .collect();
    LdapIdentity {
        dn: entry.dn,
        attributes,
    }
}

fn is_secret_attribute(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password")
        || name.contains("pwd")
        || name.starts_with("krb")
        || name == "sambantpassword"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LdapSettings {
        serde_json::from_value(serde_json::json!({
            "url": "ldap://directory.example:389",
            "base_dn": "dc=example,dc=test",
        }))
        .expect("minimal settings parse")
    }

    #[test]
    fn minimal_settings_take_the_defaults() {
        let settings = settings();
        assert_eq!(
            settings.user_filter,
            "(&(objectClass=inetOrgPerson)(uid={login}))"
        );
        assert_eq!(settings.group_member_attribute, "member");
        assert_eq!(settings.timeout_seconds, 5);
        assert!(!settings.refuse_when_unreachable);
        assert!(settings.problems().is_empty());
        assert_eq!(settings.server(), "directory.example:389");
    }

    #[test]
    fn problems_name_the_field() {
        let mut bad = settings();
        bad.url = "http://directory.example".to_owned();
        bad.user_filter = "(uid=alice)".to_owned();
        bad.timeout_seconds = 0;
        let fields: Vec<_> = bad.problems().into_iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["url", "user_filter", "timeout_seconds"]);
    }

    #[test]
    fn passwords_never_become_attributes() {
        assert!(is_secret_attribute("userPassword"));
        assert!(is_secret_attribute("unicodePwd"));
        assert!(!is_secret_attribute("mail"));
    }

    #[test]
    fn external_identity_maps_the_usual_attributes() {
        let identity = LdapIdentity {
            dn: "uid=alice,ou=people,dc=example,dc=test".to_owned(),
            attributes: BTreeMap::from([
                ("mail".to_owned(), "alice@example.test".to_owned()),
                ("givenName".to_owned(), "Alice".to_owned()),
                ("sn".to_owned(), "Liddell".to_owned()),
            ]),
        };
        let external = identity.external();
        assert_eq!(external.subject, identity.dn);
        assert_eq!(external.email.as_deref(), Some("alice@example.test"));
        assert!(external.email_verified);
        assert_eq!(external.first_name.as_deref(), Some("Alice"));
        assert_eq!(external.last_name.as_deref(), Some("Liddell"));
        assert_eq!(identity.attribute("GIVENNAME"), Some("Alice"));
    }
}
