//! The audit of the audit: the collector records who viewed, exported,
//! verified or deleted a session trail in the tenant's activity log, beside the
//! platform's own records (`source: "collector"`, entity `session`, the user as
//! `user_id`, actor `user`, the request's origin).
//!
//! Routes call [`record_access`] before they answer. A trail is not served when
//! its access cannot be recorded: an unaudited read is what this log exists to
//! rule out.

use actix_web::{web, HttpRequest};
use shared::audit::{AccessAction, AuditEntry};
use shared::SessionId;

use crate::error::ApiError;
use crate::routes::ingest::{now_ms, request_origin};
use crate::store::Store;
use crate::tenants::Principal;

/// Appends `who`'s `action` on `session` to `who`'s tenant's activity log.
pub async fn record_access(
    store: &Store,
    who: &Principal,
    req: &HttpRequest,
    action: AccessAction,
    session: &SessionId,
) -> Result<(), ApiError> {
    let entry = AuditEntry::access(
        who.user.clone(),
        action,
        session,
        request_origin(req),
        now_ms(),
    );
    let (store, tenant) = (store.clone(), who.tenant.clone());
    web::block(move || store.append_audit(&tenant, &entry))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("store task failed: {e}")))?
        .map_err(ApiError::Internal)
}
