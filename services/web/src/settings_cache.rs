//! Per-tenant workspace settings, cached in process. Saving drops the tenant's entry here and,
//! over Redis, on every other instance, so a change shows on the very next request.

use std::sync::Arc;
use std::time::Duration;

use domain::TenantId;
use moka::sync::Cache;
use store::Store;
use store::settings::WorkspaceSettings;

pub struct SettingsCache {
    cache: Cache<TenantId, Arc<WorkspaceSettings>>,
}

impl SettingsCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    pub async fn get(
        &self,
        store: &Store,
        tenant: TenantId,
    ) -> Result<Arc<WorkspaceSettings>, store::StoreError> {
        if let Some(settings) = self.cache.get(&tenant) {
            crate::telemetry::cache_lookup(crate::telemetry::Cache::Settings, true);
            return Ok(settings);
        }
        crate::telemetry::cache_lookup(crate::telemetry::Cache::Settings, false);
        let mut tx = store.begin_tenant(tenant).await?;
        let settings = Arc::new(store::settings::load(&mut tx).await?);
        tx.commit().await?;
        self.cache.insert(tenant, settings.clone());
        Ok(settings)
    }

    pub fn invalidate(&self, tenant: TenantId) {
        self.cache.invalidate(&tenant);
    }

    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }
}
