//! `GET /api/v1/tombstones`: what deleted sessions of the caller's tenant left
//! behind, newest deletion first.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use shared::api::TombstonesPage;

use crate::auth::Reader;
use crate::error::ApiError;
use crate::routes::sessions::{blocking, offset_cursor, offset_page, page_size};
use crate::store::Store;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TombstonesQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

pub async fn list(
    Reader(who): Reader,
    q: web::Query<TombstonesQuery>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_size(q.limit)?;
    let skip = offset_cursor(&q.cursor)?;
    let store = store.into_inner();
    let all = blocking(move || store.tombstones(&who.tenant)).await?;
    let (tombstones, next_cursor) = offset_page(all, skip, limit);
    Ok(HttpResponse::Ok().json(TombstonesPage {
        tombstones,
        next_cursor,
    }))
}
