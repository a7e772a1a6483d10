//! `GET /recorder.js` (the loader a site embeds) and the `www/` site.

use std::path::PathBuf;

use actix_files::NamedFile;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;

/// Where the static site lives; `recorder/` inside it holds the built bundle.
#[derive(Clone)]
pub struct WwwDir(pub PathBuf);

/// The loader a site embeds with one `<script>` tag. Any origin may load it;
/// answered with an `ETag` and `Cache-Control: no-cache` so fixes reach sites.
#[utoipa::path(
    get,
    path = "/recorder.js",
    tag = "assets",
    responses(
        (status = 200, description = "The recorder's loader.", content_type = "text/javascript", body = String),
        (status = 304, description = "Not modified (`If-None-Match` matched the `ETag`)."),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
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

/// The rest of the recorder bundle (its wasm module and JavaScript glue),
/// which `recorder.js` loads. Any origin may load them.
#[utoipa::path(
    get,
    path = "/recorder/{file}",
    tag = "assets",
    params(("file" = String, Path, description = "A file of the built bundle, e.g. `cotrail_recorder_bg.wasm`.")),
    responses(
        (status = 200, description = "The file.", content(
            ("application/wasm"),
            ("text/javascript"),
        )),
        (status = 404, description = "No such file."),
    ),
)]
#[allow(dead_code)] // Documentation only: `actix_files::Files` serves these.
fn recorder_file() {}
