//! Which PostgreSQL to use: an external server (TENANTDESK_DATABASE_URL, and the owner's
//! TENANTDESK_MIGRATION_URL) or the embedded cluster in the data directory.

use std::path::Path;

use anyhow::{Context, bail};
use store::{Owner, Store};

use crate::embedded_postgres::{Claim, EmbeddedPostgres, Options};

pub struct Database {
    runtime_url: String,
    owner_url: Option<String>,
    /// Kept alive for as long as the database is in use; stops the cluster when dropped.
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    pub fn open(
        database_url: Option<&str>,
        migration_url: Option<&str>,
        data_dir: &Path,
        claim: Claim,
    ) -> anyhow::Result<Self> {
        if let Some(runtime_url) = database_url {
            return Ok(Self {
                runtime_url: runtime_url.to_owned(),
                owner_url: migration_url.map(str::to_owned),
                embedded: None,
            });
        }
        let embedded = EmbeddedPostgres::start(data_dir, claim, Options { durable: true })
            .with_context(|| {
                format!("starting the embedded PostgreSQL in {}", data_dir.display())
            })?;
        Ok(Self {
            runtime_url: embedded.runtime_url(),
            owner_url: Some(embedded.owner_url()),
            embedded: Some(embedded),
        })
    }

    pub fn has_owner(&self) -> bool {
        self.owner_url.is_some()
    }

    pub async fn owner(&self) -> anyhow::Result<Owner> {
        let Some(url) = &self.owner_url else {
            bail!(
                "this command needs the owner connection: set TENANTDESK_MIGRATION_URL \
                 (or --migration-url) to a role that owns the schema"
            );
        };
        Owner::connect(url)
            .await
            .context("connecting as the owner role")
    }

    pub async fn runtime(&self, max_connections: u32) -> anyhow::Result<Store> {
        Store::connect(&self.runtime_url, max_connections)
            .await
            .context("connecting as the runtime role")
    }

    pub fn stop(mut self) {
        if let Some(embedded) = self.embedded.as_mut() {
            embedded.stop();
        }
    }
}
