//! The Host a request names, normalised: lowercase, no port, no trailing dot.

use std::fmt;

/// A syntactically valid DNS host name (no IP literals: tenants are found by name).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Host(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Host header is not a valid host name")]
pub struct InvalidHost;

impl Host {
    /// Parses a Host header value such as `Acme.Example.com:8080`.
    pub fn parse(header: &str) -> Result<Self, InvalidHost> {
        let without_port = match header.rsplit_once(':') {
            Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                name
            }
            Some(_) => return Err(InvalidHost),
            None => header,
        };
        let name = without_port
            .strip_suffix('.')
            .unwrap_or(without_port)
            .to_ascii_lowercase();
        if name.is_empty() || name.len() > 253 {
            return Err(InvalidHost);
        }
        let label_ok = |label: &str| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if !name.split('.').all(label_ok) {
            return Err(InvalidHost);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The single label in front of `base` (`acme` for `acme.example.com` under `example.com`).
    pub fn subdomain_of(&self, base: &Host) -> Option<&str> {
        let label = self.0.strip_suffix(base.as_str())?.strip_suffix('.')?;
        (!label.contains('.')).then_some(label)
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(raw: &str) -> Host {
        Host::parse(raw).expect("valid host")
    }

    #[test]
    fn normalises_case_port_and_trailing_dot() {
        assert_eq!(host("Acme.Example.COM:8080").as_str(), "acme.example.com");
        assert_eq!(host("acme.example.com.").as_str(), "acme.example.com");
        assert_eq!(host("localhost").as_str(), "localhost");
    }

    #[test]
    fn rejects_malformed_hosts() {
        for bad in [
            "",
            ":8080",
            "acme..com",
            "acme.com:",
            "acme.com:80x",
            "ac me.com",
            "-a.com",
            "[::1]:80",
            "a_b.com",
            "x/y",
        ] {
            assert_eq!(Host::parse(bad), Err(InvalidHost), "{bad:?}");
        }
    }

    #[test]
    fn finds_exactly_one_label_under_the_base() {
        let base = host("example.com");
        assert_eq!(host("acme.example.com").subdomain_of(&base), Some("acme"));
        assert_eq!(host("a.acme.example.com").subdomain_of(&base), None);
        assert_eq!(host("example.com").subdomain_of(&base), None);
        assert_eq!(host("evilexample.com").subdomain_of(&base), None);
    }
}

/// The public address of the platform, such as `https://example.com` or
/// `http://localhost:8080`: tenants live at `{scheme}://{slug}.{host}{:port}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    https: bool,
    host: Host,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the base URL must look like https://example.com or http://localhost:8080 (no path)")]
pub struct InvalidBaseUrl;

impl BaseUrl {
    pub fn parse(raw: &str) -> Result<Self, InvalidBaseUrl> {
        let raw = raw.trim().trim_end_matches('/');
        let (https, rest) = match raw.split_once("://") {
            Some(("https", rest)) => (true, rest),
            Some(("http", rest)) => (false, rest),
            _ => return Err(InvalidBaseUrl),
        };
        if rest.contains(['/', '?', '#', '@']) {
            return Err(InvalidBaseUrl);
        }
        let host = Host::parse(rest).map_err(|_| InvalidBaseUrl)?;
        let port = match rest.rsplit_once(':') {
            Some((_, port)) => Some(port.parse().map_err(|_| InvalidBaseUrl)?),
            None => None,
        };
        Ok(Self { https, host, port })
    }

    /// The base domain: the platform's own site, and the parent of every tenant's host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    pub fn is_https(&self) -> bool {
        self.https
    }

    fn origin_of(&self, host: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        match self.port {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        }
    }

    /// `http://localhost:8080`
    pub fn origin(&self) -> String {
        self.origin_of(self.host.as_str())
    }

    /// `http://acme.localhost:8080`
    pub fn tenant_origin(&self, slug: &str) -> String {
        self.origin_of(&format!("{slug}.{}", self.host))
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin())
    }
}

#[cfg(test)]
mod base_url_tests {
    use super::*;

    #[test]
    fn parses_scheme_host_and_port() {
        let local = BaseUrl::parse("http://localhost:8080/").expect("valid");
        assert_eq!(local.host().as_str(), "localhost");
        assert!(!local.is_https());
        assert_eq!(local.tenant_origin("acme"), "http://acme.localhost:8080");
        let public = BaseUrl::parse("https://Help.Example.com").expect("valid");
        assert_eq!(public.origin(), "https://help.example.com");
        assert_eq!(
            public.tenant_origin("acme"),
            "https://acme.help.example.com"
        );
    }

    #[test]
    fn refuses_other_forms() {
        for bad in [
            "localhost:8080",
            "ftp://example.com",
            "https://example.com/path",
            "https://user@example.com",
            "https://example.com:99999",
            "https://",
        ] {
            assert_eq!(BaseUrl::parse(bad), Err(InvalidBaseUrl), "{bad}");
        }
    }
}
