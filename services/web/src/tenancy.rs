//! Which site a request is for, decided by its Host header alone: the platform (the base
//! domain), a tenant (`{slug}.{base domain}` or a verified custom domain), or nothing (404).
//! Resolutions are cached in process; every instance drops its cache when a tenant changes,
//! told over Redis pub/sub when REDIS_URL is set (see `invalidation`).

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use domain::{Host, TenantSlug};
use moka::sync::Cache;
use store::Store;
use store::tenancy::Tenant;

use crate::error::PageError;

/// What a Host names.
#[derive(Clone, Debug)]
pub enum Site {
    Platform,
    Tenant(Tenant),
    Unknown,
}

/// Host -> tenant, cached for a short time.
pub struct TenantResolver {
    cache: Cache<Host, Option<Tenant>>,
}

impl TenantResolver {
    pub fn new(ttl: Duration) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    pub async fn resolve(
        &self,
        store: &Store,
        base_domain: &Host,
        host: &Host,
    ) -> Result<Site, store::StoreError> {
        if host == base_domain {
            return Ok(Site::Platform);
        }
        if let Some(cached) = self.cache.get(host) {
            crate::telemetry::cache_lookup(crate::telemetry::Cache::Tenant, true);
            return Ok(cached.map_or(Site::Unknown, Site::Tenant));
        }
        crate::telemetry::cache_lookup(crate::telemetry::Cache::Tenant, false);
        let tenant = match host.subdomain_of(base_domain) {
            Some(label) => match TenantSlug::parse(label) {
                Ok(slug) => store.tenant_by_slug(&slug).await?,
                Err(_) => None,
            },
            None => store.tenant_by_custom_domain(host).await?,
        };
        self.cache.insert(host.clone(), tenant.clone());
        Ok(tenant.map_or(Site::Unknown, Site::Tenant))
    }

    /// Forgets every resolution; the next request of each host asks the database again.
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }
}

/// The tenant whose host this request came in on. Only tenant routes can extract it.
#[derive(Clone, Debug)]
pub struct CurrentTenant(pub Tenant);

impl<S: Send + Sync> FromRequestParts<S> for CurrentTenant {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentTenant>()
            .cloned()
            .ok_or(PageError::NotFound)
    }
}
