//! `GET /api/v1/tombstones`: what deleted sessions of the caller's tenant left
//! behind, newest deletion first.

use actix_web::{web, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use shared::api::TombstonesPage;

use crate::auth::Reader;
use crate::error::ApiError;
use crate::routes::sessions::{blocking, page_size, position_cursor};
use crate::store::Store;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TombstonesQuery {
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page (opaque).
    cursor: Option<String>,
}

/// What deleted sessions left behind, newest deletion first.
#[utoipa::path(
    get,
    path = "/api/v1/tombstones",
    tag = "sessions",
    params(TombstonesQuery),
    responses(
        (status = 200, description = "A page of tombstones.", body = shared::api::TombstonesPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 500, response = crate::openapi::Internal),
    ),
    security(("reader_token" = [])),
)]
pub async fn list(
    Reader(who): Reader,
    q: web::Query<TombstonesQuery>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_size(q.limit)?;
    let before = position_cursor(&q.cursor)?;
    let store = store.into_inner();
    let page =
        blocking(move || store.tombstones_page(&who.tenant, before.as_deref(), limit)).await?;
    Ok(HttpResponse::Ok().json(TombstonesPage {
        tombstones: page.items,
        next_cursor: page.next.map(|p| URL_SAFE_NO_PAD.encode(p)),
    }))
}
