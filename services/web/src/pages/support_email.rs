//! The page a support address verification link opens. Confirming takes a click (a POST), so
//! mail scanners that follow links do not verify anything by themselves.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use store::auth_tokens::Purpose;

use crate::AppState;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::error::PageError;
use crate::invalidation::{Invalidation, announce};
use crate::pages::agent::EmptyForm;
use crate::pages::{Brand, render};
use crate::tenancy::CurrentTenant;

#[derive(Template)]
#[template(path = "support_email_verify.html")]
struct VerifyPage<'a> {
    brand: Brand,
    csrf: &'a str,
    address: &'a str,
    done: bool,
}

fn expired() -> PageError {
    PageError::Forbidden("This link has expired, was already used, or belongs to an address that is no longer the support address.".into())
}

pub async fn show(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Path(secret): Path<String>,
) -> Result<Html<String>, PageError> {
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let address =
        store::auth_tokens::peek_address(&mut tx, Purpose::SupportEmailVerification, &secret)
            .await?;
    tx.commit().await?;
    let address = address.ok_or_else(expired)?;
    let settings = state.settings.get(&state.store, tenant.id).await?;
    render(&VerifyPage {
        brand: Brand::from(settings.as_ref()),
        csrf: &csrf,
        address: &address,
        done: false,
    })
}

pub async fn confirm(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Path(secret): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let address =
        store::auth_tokens::consume_address(&mut tx, Purpose::SupportEmailVerification, &secret)
            .await?
            .ok_or_else(expired)?;
    if !store::settings::verify_support_email(&mut tx, &address).await? {
        return Err(expired());
    }
    tx.commit().await?;
    announce(&state, Invalidation::Settings(tenant.id)).await;
    let settings = state.settings.get(&state.store, tenant.id).await?;
    Ok(render(&VerifyPage {
        brand: Brand::from(settings.as_ref()),
        csrf: &csrf,
        address: &address,
        done: true,
    })?
    .into_response())
}
