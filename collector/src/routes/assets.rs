//! `GET /recorder.js` (the loader a site embeds), the `www/` site, and the
//! security headers its pages are served with.

use std::path::PathBuf;

use actix_files::NamedFile;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, CacheControl, CacheDirective, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage as _, HttpRequest, HttpResponse};

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
    let mut res = bundle_file(&req, &www, "recorder.js").await?;
    // Sites embed this URL unversioned: revalidate so fixes reach them.
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        CacheControl(vec![CacheDirective::NoCache])
            .to_string()
            .parse()
            .expect("static header value"),
    );
    Ok(res)
}

/// The file `cargo xtask build` writes beside the bundle: the id of the glue
/// and wasm it built (a hash of both), which the loader (holding the glue)
/// puts in the wasm's URL.
pub const BUILD_ID_FILE: &str = "build-id";

/// `?v=` of a bundle file's URL.
#[derive(serde::Deserialize)]
pub struct BundleQuery {
    v: Option<String>,
}

/// The rest of the recorder bundle (its wasm module; the JavaScript glue is
/// inside `recorder.js`), which `recorder.js` loads under its build's id
/// (`?v=`). Any origin may load it. Under the id of the build served here it
/// is cached for good (`immutable`): a new build comes under a new id, so a
/// browser never pairs a loader's glue with another build's cached wasm. Without it, or under another build's
/// id (a page whose loader came before an upgrade), the current files are
/// served to be revalidated (`no-cache`).
#[utoipa::path(
    get,
    path = "/recorder/{file}",
    tag = "assets",
    params(
        ("file" = String, Path, description = "A file of the built bundle, e.g. `cotrail_recorder_bg.wasm`."),
        ("v" = Option<String>, Query, description = "The build's id, as the loader puts it in the URL."),
    ),
    responses(
        (status = 200, description = "The file; brotli- or gzip-encoded when the request accepts it.", content(
            ("application/wasm"),
            ("text/javascript"),
        )),
        (status = 304, description = "Not modified (`If-None-Match` matched the `ETag`)."),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub async fn recorder_file(
    req: HttpRequest,
    www: web::Data<WwwDir>,
    file: web::Path<String>,
    query: web::Query<BundleQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut res = bundle_file(&req, &www, &file).await?;
    let id_file = www.0.join("recorder").join(BUILD_ID_FILE);
    let built = web::block(move || std::fs::read_to_string(id_file))
        .await
        .ok()
        .and_then(Result::ok);
    let current = matches!((&query.v, &built), (Some(v), Some(b)) if v == b.trim());
    let cache = if current {
        vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(31_536_000),
            CacheDirective::Extension("immutable".into(), None),
        ]
    } else {
        vec![CacheDirective::NoCache]
    };
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        CacheControl(cache)
            .to_string()
            .parse()
            .expect("static header value"),
    );
    Ok(res)
}

/// Serves `www/recorder/{name}`: its `.br` or `.gz` twin (written by `cargo
/// xtask build` at each format's best level) with the matching
/// `Content-Encoding` when the client accepts it (brotli preferred), the plain
/// file otherwise. Every page that embeds the recorder downloads these files,
/// so they go out at their smallest; `Vary: Accept-Encoding` (and an `ETag` per
/// file) keeps caches from answering one encoding with another.
async fn bundle_file(
    req: &HttpRequest,
    www: &WwwDir,
    name: &str,
) -> Result<HttpResponse, ApiError> {
    // Plain file names only: no directories, no hidden files, no traversal.
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !plain {
        return Err(ApiError::NotFound(
            "no such file in the recorder bundle".into(),
        ));
    }
    let dir = www.0.join("recorder");
    let path = dir.join(name);
    if !path.is_file() {
        return Err(if dir.join("recorder.js").is_file() {
            ApiError::NotFound("no such file in the recorder bundle".into())
        } else {
            ApiError::Unavailable(format!(
                "the recorder bundle is not built ({} is missing); run `cargo xtask build`",
                path.display()
            ))
        });
    }
    let accept = req.get_header::<header::AcceptEncoding>();
    // Only that encoding offered: `Some` when the client accepts it at all.
    let accepts = |enc: header::Encoding| {
        accept
            .as_ref()
            .and_then(|a| a.negotiate([enc.clone()].iter()))
            .is_some_and(|chosen| chosen == enc)
    };
    // Brotli first (smaller), then gzip, each only if its twin was built.
    let twin = [
        (
            header::Encoding::brotli(),
            "br",
            header::ContentEncoding::Brotli,
        ),
        (
            header::Encoding::gzip(),
            "gz",
            header::ContentEncoding::Gzip,
        ),
    ]
    .into_iter()
    .map(|(enc, ext, coding)| (enc, dir.join(format!("{name}.{ext}")), coding))
    // A twin older than its file (a build that wrote the file but not yet
    // its twins, or a copy of the plain files only) is another build's.
    .find(|(enc, twin, _)| accepts(enc.clone()) && twin.is_file() && !older(twin, &path));
    let file = if let Some((_, twin, coding)) = twin {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        NamedFile::open_async(&twin)
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("opening {}: {e}", twin.display())))?
            .set_content_type(actix_files::file_extension_to_mime(ext))
            .set_content_encoding(coding)
    } else {
        NamedFile::open_async(&path)
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("opening {}: {e}", path.display())))?
    };
    let mut res = file
        .use_etag(true)
        .disable_content_disposition()
        .into_response(req);
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Ok(res)
}

/// Whether `a` was modified before `b` (false when either time is unknown).
fn older(a: &std::path::Path, b: &std::path::Path) -> bool {
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(a), modified(b)), (Some(a), Some(b)) if a < b)
}

/// The review app's policy: its own scripts and styles only. No inline script,
/// no `eval`, no wasm (the app is plain JavaScript modules), nothing from
/// another origin, never framed: even if recorded text ever reached the DOM as
/// markup, the browser would refuse to run it.
pub const REVIEW_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

/// The demo site's policy: no inline script either, but the recorder compiles
/// its wasm (`'wasm-unsafe-eval'` allows WebAssembly and nothing else that
/// `'unsafe-eval'` would) and the pages post to this collector.
pub const SITE_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

/// The Swagger UI's policy (`/api/docs/`): its scripts are files, but it sets
/// inline styles, which only this page allows. No wasm, nothing from elsewhere.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Whether a request path is the review app's or the API docs', read as the
/// file server reads it: percent-decoded, empty and `.` segments dropped (so
/// `/%72eview/` and `//review/` are the review app too, and get its policy).
fn area(path: &str) -> (bool, bool) {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let mut segments = decoded.split('/').filter(|s| !s.is_empty() && *s != ".");
    match (segments.next(), segments.next()) {
        (Some("review"), _) => (true, false),
        (Some("api"), Some("docs")) => (false, true),
        _ => (false, false),
    }
}

/// Adds a Content-Security-Policy (the review app's under `/review`, the API
/// docs' under `/api/docs`, the site's elsewhere) and `X-Content-Type-Options: nosniff` to every answer
/// that does not set its own. On API answers the policy is inert; on pages
/// it forbids inline script.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let (review, docs) = area(req.path());
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let policy = if review {
            REVIEW_CSP
        } else if docs {
            DOCS_CSP
        } else {
            SITE_CSP
        };
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(policy),
        );
    }
    if !headers.contains_key(header::X_CONTENT_TYPE_OPTIONS) {
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    if review {
        // Session ids in the app's URL fragment never leave in a Referer anyway;
        // this keeps the path out too.
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    Ok(res)
}
