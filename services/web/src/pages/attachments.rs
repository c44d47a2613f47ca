//! The agent panel's attachment download, `/agent/attachments/{id}`: session auth and the same
//! access rule as the ticket (out of scope or another tenant's: 404).

use axum::extract::{Path, State};
use axum::response::Response;
use uuid::Uuid;

use crate::AppState;
use crate::auth::SignedInAgent;
use crate::error::PageError;
use crate::tickets::scope_for_agent;

pub async fn download(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path(id): Path<Uuid>,
) -> Result<Response, PageError> {
    let Some(scope) = scope_for_agent(&agent.agent) else {
        return Err(PageError::Forbidden(
            "Your role does not include working tickets.".into(),
        ));
    };
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let attachment = crate::attachments::visible(&mut tx, scope, id)
        .await?
        .ok_or(PageError::NotFound)?;
    tx.commit().await?;
    crate::attachments::download_response(&state.attachments, &attachment)
        .await
        .map_err(|e| PageError::Internal(Box::new(e)))
}
