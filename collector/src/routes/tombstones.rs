//! `GET /api/v1/tombstones`: what deleted sessions of the caller's tenant left
//! behind, newest deletion first.

use actix_web::{web, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use shared::api::TombstonesPage;

use crate::auth::Reader;
use crate::error::ApiError;
use crate::routes::sessions::{blocking, decode_cursor, page_size};
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
    // The cursor is the number of tombstones already shown, opaque to clients.
    let skip = match decode_cursor(&q.cursor)? {
        Some(b) => u64::from_be_bytes(
            b.try_into()
                .map_err(|_| ApiError::bad_request("bad_cursor", "cursor is not valid"))?,
        ) as usize,
        None => 0,
    };
    let store = store.into_inner();
    let all = blocking(move || store.tombstones(&who.tenant)).await?;
    let total = all.len();
    let tombstones: Vec<_> = all.into_iter().skip(skip).take(limit).collect();
    let end = skip + tombstones.len();
    let next_cursor = (end < total).then(|| URL_SAFE_NO_PAD.encode((end as u64).to_be_bytes()));
    Ok(HttpResponse::Ok().json(TombstonesPage {
        tombstones,
        next_cursor,
    }))
}
