//! The OpenAPI document of everything the collector serves, built by utoipa from
//! the handlers' `#[utoipa::path]` attributes, the query structs the handlers
//! deserialise (`IntoParams`) and the wire types of `shared` (`ToSchema`, behind
//! its `openapi` feature). Served at `GET /api/v1/openapi.json`, browsable with
//! the vendored Swagger UI at `/api/docs/` (see [`crate::routes::docs`]).
//!
//! What is written here by hand: the security schemes (they mirror
//! [`crate::auth`] and the ingest route's site key) and the error answers
//! (they mirror [`crate::error::ApiError`]'s statuses and headers). The API
//! tests check the document against what the running server answers.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi, ToResponse, ToSchema};

use shared::api::{ErrorBody, ErrorDetail};

use crate::routes;

/// Security scheme names, as the operations' `security(...)` name them.
pub mod scheme {
    /// `?site_key=` on ingest: public, write-only, bound to allowed origins.
    pub const SITE_KEY: &str = "site_key";
    /// `Authorization: Bearer` with an agent's or an admin's token.
    pub const READER: &str = "reader_token";
    /// `Authorization: Bearer` with an admin's token.
    pub const ADMIN: &str = "admin_token";
    /// `Authorization: Bearer` with a tenant's server key (the platform).
    pub const SERVER_KEY: &str = "server_key";
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cotrail collector API",
        description = "Co-browsing audit trails: recorders post batches of events, agents and \
admins read, follow, verify, export and delete trails, the platform posts its own audit \
records, admins read the tenant activity log.\n\n\
Every 4xx and 5xx answer is a JSON `ErrorBody` whose `error.code` is stable and \
machine-readable. A 2xx on ingest (and on platform records) means the data is on disk.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        routes::ingest::ingest,
        routes::sessions::list,
        routes::sessions::get,
        routes::sessions::delete,
        routes::sessions::events,
        routes::sessions::gaps,
        routes::sessions::verify,
        routes::live::live,
        routes::export::export,
        routes::tombstones::list,
        routes::platform::post,
        routes::audit_log::list,
        routes::audit_log::verify,
        routes::demo::credentials,
        routes::me::me,
        routes::docs::openapi_json,
        routes::health::healthz,
        routes::health::readyz,
        routes::metrics::metrics,
        routes::assets::recorder_js,
        routes::assets::recorder_file,
    ),
    components(schemas(ErrorBody, ErrorDetail), responses(
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        RequestTimeout,
        Conflict,
        RecordConflict,
        Gone,
        GoneForWriters,
        PayloadTooLarge,
        UnsupportedMediaType,
        TooManyRequests,
        Internal,
        Unavailable,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "ingest", description = "What recorders send."),
        (name = "sessions", description = "Session trails, for agents and admins."),
        (name = "activity log", description = "Platform audit records in, the tenant activity log out."),
        (name = "operations", description = "Health, readiness, metrics, this document."),
        (name = "assets", description = "The recorder bundle pages embed."),
        (name = "demo", description = "Only while the collector runs its generated demo tenant."),
    ),
)]
pub struct ApiDoc;

/// The document as served.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            scheme::SITE_KEY,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "site_key",
                "A site key (public, write-only). A page's `Origin` must be one the key allows; \
                 requests without `Origin` pass.",
            ))),
        );
        components.add_security_scheme(
            scheme::READER,
            bearer("`Authorization: Bearer <token>` of an agent or an admin of the tenant."),
        );
        components.add_security_scheme(
            scheme::ADMIN,
            bearer("`Authorization: Bearer <token>` of an admin of the tenant."),
        );
        components.add_security_scheme(
            scheme::SERVER_KEY,
            bearer("`Authorization: Bearer <server key>`: the platform, posting for a tenant."),
        );
    }
}

/// One reusable error answer: an `ErrorBody` (and whatever headers that status
/// carries), with an example of its `code`.
fn error_response(description: &str, code: &str, message: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        Content::builder()
            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
            .example(Some(serde_json::json!({
                "error": {"code": code, "message": message}
            })))
            .build(),
    )
}

fn integer_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new().schema_type(Type::Integer).build(),
        ))
        .description(Some(description))
        .build()
}

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).build()))
        .description(Some(description))
        .build()
}

macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident => $build:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), RefOr::T($build.build()))
            }
        }
    )*};
}

error_responses! {
    /// 400: malformed request or a broken limit; `code` says which.
    BadRequest => error_response(
        "The request is malformed or breaks a limit; `error.code` says which \
         (e.g. `invalid_batch`, `too_many_events`, `text_too_long`, `bad_session_id`, \
         `bad_cursor`, `bad_limit`, `bad_query`, `bad_pin`).",
        "invalid_batch",
        "invalid batch: missing field `tab_id` at line 1 column 40",
    );
    /// 401: no credentials or credentials nobody issued.
    Unauthorized => error_response(
        "No credentials, or credentials nobody issued (`missing_credentials`, \
         `invalid_credentials`, `missing_site_key`, `unknown_site_key`).",
        "missing_credentials",
        "send Authorization: Bearer <token>",
    )
    .header("WWW-Authenticate", string_header("`Bearer`."));
    /// 403: valid credentials that may not do this.
    Forbidden => error_response(
        "Valid credentials that may not do this (`admin_only`, `origin_not_allowed`).",
        "admin_only",
        "this needs an admin token",
    );
    /// 404: no such session (or another tenant's), or no such endpoint.
    NotFound => error_response(
        "Not found: no such session (another tenant's sessions are not found either).",
        "not_found",
        "no such session",
    );
    /// 408: the body did not arrive in time.
    RequestTimeout => error_response(
        "The request body did not arrive within the body read timeout.",
        "body_timeout",
        "the body did not arrive within 10000 ms",
    );
    /// 409: the tab already has other events at a batch's sequence numbers.
    Conflict => error_response(
        "The tab already has other events at some of the batch's sequence numbers \
         (a re-sent batch repeats its events exactly); nothing of the batch was stored.",
        "seq_conflict",
        "this tab already has other events at seq [5]; a re-sent batch must repeat its events exactly, so nothing of the batch was stored",
    );
    /// 409: a `record_id` already stored with other content.
    RecordConflict => error_response(
        "A record's `record_id` is already stored with other content (a re-posted \
         record repeats it exactly); nothing of the request was stored.",
        "record_conflict",
        "record_id [\"r-1\"] already stored with other content; a re-posted record must repeat it exactly, so nothing of the request was stored",
    );
    /// 410: the session was deleted; the body carries its tombstone.
    Gone => error_response(
        "The session was deleted: `tombstone` says when, why, and the chain head it had.",
        "session_deleted",
        "session s-1 was deleted (retention)",
    );
    /// 410 to a recorder: the session was deleted (no tombstone: that is for readers).
    GoneForWriters => error_response(
        "The session was deleted and takes no more events. The tombstone (who, when, \
         the chain head) is only shown to readers.",
        "session_deleted",
        "session s-1 was deleted; it takes no more events",
    );
    /// 413: the body is over the size limit.
    PayloadTooLarge => error_response(
        "The body is larger than the limit (1 MiB).",
        "payload_too_large",
        "request body is larger than 1048576 bytes",
    );
    /// 415: a content type the route does not take.
    UnsupportedMediaType => error_response(
        "The content type is not one this route accepts.",
        "unsupported_media_type",
        "content type \"application/xml\" is not accepted; send application/json or text/plain",
    );
    /// 429: over a rate limit, with `Retry-After`.
    TooManyRequests => error_response(
        "Over a rate limit (per client IP or per site key); retry after `Retry-After` seconds.",
        "rate_limited",
        "too many requests from this site key; retry after 1 s",
    )
    .header("Retry-After", integer_header("Seconds to wait before retrying."));
    /// 500: our fault, logged with its cause; no internals in the answer.
    Internal => error_response(
        "The collector failed (logged with its cause; retry later).",
        "internal",
        "internal error",
    );
    /// 503: try again (the store does not take writes, or changed mid-read).
    Unavailable => error_response(
        "Temporarily unavailable; try again.",
        "unavailable",
        "the session changed while it was read; try again",
    );
}

/// `GET /healthz` and `GET /readyz` answers.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Status {
    /// `ok` (healthz) or `ready` (readyz).
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_and_names_its_security_schemes() {
        let doc = serde_json::to_value(document()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for s in [
            scheme::SITE_KEY,
            scheme::READER,
            scheme::ADMIN,
            scheme::SERVER_KEY,
        ] {
            assert!(
                doc["components"]["securitySchemes"][s].is_object(),
                "{s} missing"
            );
        }
    }
}
