//! The API's own description: `GET /api/v1/openapi.json` (the OpenAPI
//! document) and the Swagger UI at `/api/docs/`, whose files are compiled into
//! the binary (`utoipa-swagger-ui`'s `vendored` feature: nothing is fetched at
//! build time or from a CDN at run time). Both need no credentials: they
//! describe the API, they hold no tenant's data.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the document is served.
pub const OPENAPI_JSON: &str = "/api/v1/openapi.json";
/// Where the Swagger UI is served (its index; its files are under it).
pub const UI: &str = "/api/docs/";

/// The document, serialised once: it never changes while the collector runs.
pub struct Document(pub web::Bytes);

impl Document {
    pub fn new() -> Self {
        // Plain data with string keys only: serialising it cannot fail.
        let json = crate::openapi::document()
            .to_json()
            .expect("the OpenAPI document serialises");
        Document(web::Bytes::from(json))
    }
}

impl Default for Document {
    fn default() -> Self {
        Self::new()
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of the collector's API.",
        content_type = "application/json", body = Object)),
)]
pub async fn openapi_json(doc: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

/// The Swagger UI, reading the document from [`OPENAPI_JSON`]. Its online
/// validator badge is off: by default the page would send the document to
/// swagger.io, and nothing about this API needs to leave the machine.
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new(format!("{UI}{{_:.*}}"))
        .config(Config::new([OPENAPI_JSON]).validator_url("none"))
}

/// `/api/docs` without the slash: the UI's relative asset links need it.
pub async fn ui_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, UI))
        .finish()
}
