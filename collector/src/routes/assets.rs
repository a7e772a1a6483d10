//! `GET /recorder.js` (the loader a site embeds) and the `www/` site.

use std::path::PathBuf;

use actix_files::NamedFile;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;

/// Where the static site lives; `recorder/` inside it holds the built bundle.
#[derive(Clone)]
pub struct WwwDir(pub PathBuf);

pub async fn recorder_js(
    req: HttpRequest,
    www: web::Data<WwwDir>,
) -> Result<HttpResponse, ApiError> {
    let path = www.0.join("recorder").join("recorder.js");
    let file = NamedFile::open_async(&path).await.map_err(|_| {
        ApiError::Unavailable(format!(
            "the recorder bundle is not built ({} is missing); run `cargo xtask build`",
            path.display()
        ))
    })?;
    let mut res = file.use_etag(true).into_response(&req);
    // Sites embed this URL unversioned: revalidate so fixes reach them.
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        CacheControl(vec![CacheDirective::NoCache])
            .to_string()
            .parse()
            .expect("static header value"),
    );
    Ok(res)
}
