//! The OpenAPI document (`GET /api/v1/openapi.json`) against what the collector
//! really does: every route the app registers is documented and every
//! documented operation is served; real answers have documented statuses and
//! bodies that fit the documented schemas; the golden wire fixtures fit them
//! too; the Swagger UI comes from the binary.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::test::{call_service, init_service, TestRequest};
use collector::config::Settings;
use collector::startup::{app, Application};
use serde_json::{json, Value};

use crate::helpers::*;

async fn document(app: &TestApp) -> Value {
    let res = app.get_as(None, "/api/v1/openapi.json").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    res.json().await.expect("the document is JSON")
}

/// `#/components/schemas/Name` → the schema.
fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let path = reference
        .strip_prefix("#/")
        .unwrap_or_else(|| panic!("{reference} is not local"));
    path.split('/')
        .fold(doc, |v, key| &v[key])
        .as_object()
        .map(|_| ())
        .and(Some(path.split('/').fold(doc, |v, key| &v[key])))
        .unwrap_or_else(|| panic!("{reference} does not resolve"))
}

/// Checks `value` against a JSON schema of the document: the keywords utoipa
/// writes (`$ref`, `allOf`, `oneOf`, `anyOf`, `type`, `enum`, `properties`,
/// `required`, `additionalProperties`, `items`, bounds). Formats and patterns
/// are not checked. Returns where and why it does not fit.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        check(doc, resolve(doc, r), value, at)?;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(doc, s, value, at)?;
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let fits: Vec<_> = one.iter().map(|s| check(doc, s, value, at)).collect();
        let n = fits.iter().filter(|r| r.is_ok()).count();
        if n != 1 {
            let why: Vec<_> = fits.into_iter().filter_map(Result::err).collect();
            return Err(format!(
                "{at}: fits {n} of the oneOf alternatives, not 1 ({why:?})"
            ));
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        if !any.iter().any(|s| check(doc, s, value, at).is_ok()) {
            return Err(format!("{at}: fits none of anyOf"));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => panic!("odd type {t}"),
        };
        let fits = |t: &str| match t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            other => panic!("unknown type {other}"),
        };
        if !types.iter().any(|t| fits(t)) {
            return Err(format!("{at}: {value} is not {types:?}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(value) {
            return Err(format!("{at}: {value} is not one of {e:?}"));
        }
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) {
        if n < min {
            return Err(format!("{at}: {n} < minimum {min}"));
        }
    }
    if let (Some(max), Some(s)) = (
        schema.get("maxLength").and_then(Value::as_u64),
        value.as_str(),
    ) {
        if s.chars().count() as u64 > max {
            return Err(format!("{at}: longer than {max}"));
        }
    }
    if let Some(obj) = value.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for r in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    return Err(format!("{at}: required {r:?} is missing"));
                }
            }
        }
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(doc, s, v, &format!("{at}.{k}"))?,
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        return Err(format!("{at}: property {k:?} is not allowed"))
                    }
                    Some(s @ Value::Object(_)) => check(doc, s, v, &format!("{at}.{k}"))?,
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(a)) = (schema.get("items"), value.as_array()) {
        for (i, v) in a.iter().enumerate() {
            check(doc, items, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// The documented operations as `(METHOD, path)`.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn the_openapi_document_is_served_without_credentials_and_every_reference_resolves() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 50, "suspiciously few references");
    for r in &all {
        resolve(&doc, r);
    }
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["site_key"]["in"], "query");
    assert_eq!(schemes["site_key"]["name"], "site_key");
    for bearer in ["reader_token", "admin_token", "server_key"] {
        assert_eq!(schemes[bearer]["scheme"], "bearer", "{bearer}");
    }
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        for sec in op["security"].as_array().into_iter().flatten() {
            for name in sec.as_object().unwrap().keys() {
                assert!(schemes.contains_key(name), "{method} {path}: {name}");
            }
        }
        // Every `{param}` of the path is declared as a path parameter.
        for param in path
            .split('{')
            .skip(1)
            .map(|s| s.split('}').next().unwrap())
        {
            assert!(
                op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == param && p["in"] == "path"),
                "{method} {path}: {{{param}}} is not declared"
            );
        }
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path}"
        );
    }
    app.stop().await;
}

/// The paths of the app's resources, read from its resource map (the one
/// introspection actix offers is the map's pretty `Debug`). Prefix mounts
/// (static files) end in `/*`.
fn registered_paths(rmap: &str) -> BTreeSet<String> {
    // (indent of `ResourceMap {`, pattern, is_prefix) from the root down.
    let mut stack: Vec<(usize, String, bool)> = Vec::new();
    let mut paths = BTreeSet::new();
    let mut lines = rmap.lines();
    while let Some(line) = lines.next() {
        let indent = line.len() - line.trim_start().len();
        match line.trim() {
            "ResourceMap {" => {
                stack.retain(|(i, ..)| *i < indent);
                stack.push((indent, String::new(), false));
            }
            "patterns: Single(" => {
                let p = lines.next().expect("a pattern").trim();
                let p = p.trim_end_matches(',').trim_matches('"');
                stack.last_mut().expect("inside a map").1 = p.to_string();
            }
            "is_prefix: true," => stack.last_mut().expect("inside a map").2 = true,
            "nodes: None," => {
                let full: String = stack.iter().map(|(_, p, _)| p.as_str()).collect();
                let prefix = stack.last().expect("inside a map").2;
                paths.insert(if prefix {
                    format!("{}/*", full.trim_end_matches('/'))
                } else {
                    full
                });
            }
            _ => {}
        }
    }
    paths
}

#[actix_web::test]
async fn every_route_the_app_registers_is_documented_and_every_documented_route_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.toml");
    std::fs::write(&tenants, TENANTS).unwrap();
    let www = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www");
    let mut settings = Settings::for_test(dir.path().join("store"), www);
    settings.tenants_file = Some(tenants);
    let application = Application::build(settings)
        .await
        .expect("collector starts");
    let handle = application.handle();
    let svc = init_service(app(application.state())).await;
    // The server itself must run for its handle to stop it.
    let running = tokio::spawn(application.run_until_stopped());
    let doc: Value = {
        let res = call_service(
            &svc,
            TestRequest::get().uri("/api/v1/openapi.json").to_request(),
        )
        .await;
        assert_eq!(res.status(), 200);
        serde_json::from_slice(
            &actix_web::body::to_bytes(res.into_body())
                .await
                .ok()
                .expect("a body"),
        )
        .unwrap()
    };
    let res = call_service(&svc, TestRequest::get().uri("/healthz").to_request()).await;
    let rmap = format!("{:#?}", res.request().resource_map());
    let mut registered = registered_paths(&rmap);
    // Not in the document: the Swagger UI itself and the `www/` site.
    for not_api in ["/*", "/api/docs", "/api/docs/{_:.*}"] {
        assert!(
            registered.remove(not_api),
            "{not_api} is not registered any more:\n{rmap}"
        );
    }
    assert!(registered.len() >= 15, "could not read the routes:\n{rmap}");

    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        registered, documented,
        "registered (left) vs documented (right)"
    );

    // Methods: every documented one is served (not 405, not the API's 404),
    // every other one is refused with 405.
    let ops = operations(&doc);
    for path in &documented {
        let concrete = path
            .replace("{session_id}", "s-openapi")
            .replace("{file}", "recorder.js");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let req = TestRequest::default()
                .method(method.parse().unwrap())
                .uri(&concrete)
                .to_request();
            let res = call_service(&svc, req).await;
            let status = res.status().as_u16();
            let body = actix_web::body::to_bytes(res.into_body())
                .await
                .unwrap_or_default();
            let unrouted = status == 405
                || (status == 404
                    && String::from_utf8_lossy(&body).contains("no such API endpoint"));
            let documented = ops.contains(&(method.to_string(), path.clone()));
            if path == "/api/v1/demo/credentials" && method == "GET" {
                // Outside the demo tenant it answers as if it did not exist, by design.
                assert_eq!(status, 404);
                continue;
            }
            assert_eq!(!unrouted, documented, "{method} {path}: answered {status}");
        }
    }
    drop(svc);
    handle.stop(true).await;
    running.await.unwrap().unwrap();
}

/// Finds the operation of a concrete request; panics when none is documented.
fn operation<'a>(doc: &'a Value, method: &str, concrete: &str) -> (&'a Value, String) {
    let path = concrete.split('?').next().unwrap();
    for (template, item) in doc["paths"].as_object().unwrap() {
        let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
        if t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t.starts_with('{') || t == p) {
            if let Some(op) = item.get(method.to_lowercase()) {
                return (op, template.clone());
            }
        }
    }
    panic!("{method} {concrete} is not documented");
}

/// Checks a real answer against the document: its status is documented for
/// the operation, its content type too, and a JSON body fits the schema.
/// Returns the body.
async fn conforms(doc: &Value, method: &str, concrete: &str, res: reqwest::Response) -> Value {
    let (op, template) = operation(doc, method, concrete);
    let status = res.status().as_u16().to_string();
    let mut response = op["responses"].get(&status).unwrap_or_else(|| {
        panic!("{method} {template} answered {status}, which is not documented")
    });
    if let Some(r) = response.get("$ref").and_then(Value::as_str) {
        response = resolve(doc, r);
    }
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = res.text().await.unwrap();
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return Value::Null;
    };
    let ct = ct.unwrap_or_else(|| panic!("{method} {template} {status}: no content type"));
    let essence = ct.split(';').next().unwrap().trim();
    let media = content
        .iter()
        .find(|(k, _)| k.split(';').next().unwrap().trim() == essence)
        .map(|(_, v)| v)
        .unwrap_or_else(|| {
            panic!(
                "{method} {template} {status}: {ct} is not documented ({:?})",
                content.keys()
            )
        });
    if essence != "application/json" {
        return Value::String(text);
    }
    let body: Value = serde_json::from_str(&text).unwrap();
    if let Err(e) = check(doc, &media["schema"], &body, "body") {
        panic!("{method} {template} {status}: {e}\n{body}");
    }
    body
}

#[tokio::test]
async fn answers_have_documented_statuses_and_fit_the_documented_schemas() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let c = &app.client;
    let url = |p: &str| format!("{}{p}", app.base);
    let ok = |res: &reqwest::Response, s: u16| assert_eq!(res.status().as_u16(), s);

    // Ingest: accepted, malformed, no key, wrong type, too large.
    let mut gap = batch(
        "s-doc",
        "t-1",
        vec![
            click(0, 1_763_800_000_000, "buy"),
            click(1, 1_763_800_000_001, "pay"),
        ],
    );
    gap["gaps"] = json!([{"from": 2, "to": 3, "reason": "queue_full"}]);
    let p = "/api/v1/batches?site_key=pk_acme";
    let res = app.post_batch(&gap).await;
    ok(&res, 200);
    conforms(&doc, "POST", p, res).await;
    let res = app.post_batch_raw("application/json", "{\"v\":1}").await;
    ok(&res, 400);
    conforms(&doc, "POST", p, res).await;
    let res = app
        .post_batch_as("", "application/json", gap.to_string())
        .await;
    ok(&res, 401);
    conforms(&doc, "POST", p, res).await;
    let res = app.post_batch_raw("application/xml", gap.to_string()).await;
    ok(&res, 415);
    conforms(&doc, "POST", p, res).await;
    let res = app
        .post_batch_raw("application/json", vec![b' '; 1024 * 1024 + 1])
        .await;
    ok(&res, 413);
    conforms(&doc, "POST", p, res).await;
    let res = c
        .post(url(p))
        .header("content-type", "text/plain")
        .header("origin", "https://evil.example")
        .body(gap.to_string())
        .send()
        .await
        .unwrap();
    ok(&res, 403);
    conforms(&doc, "POST", p, res).await;

    // Reads, as the agent.
    for (path, status) in [
        ("/api/v1/sessions", 200),
        ("/api/v1/sessions?limit=0", 400),
        ("/api/v1/sessions/s-doc", 200),
        ("/api/v1/sessions/nope", 404),
        ("/api/v1/sessions/s-doc/events?type=CLICK&order=desc", 200),
        ("/api/v1/sessions/s-doc/events?actor=robot", 400),
        ("/api/v1/sessions/s-doc/gaps", 200),
        ("/api/v1/sessions/s-doc/verify", 200),
        ("/api/v1/sessions/nope/verify", 404),
        ("/api/v1/tombstones", 200),
        ("/api/v1/audit", 403),
        ("/api/v1/demo/credentials", 404),
        ("/api/v1/sessions/s-doc/export", 200),
        ("/api/v1/sessions/s-doc/export?format=csv", 200),
        ("/api/v1/sessions/s-doc/export?format=xml", 400),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status().as_u16(), status, "{path}");
        conforms(&doc, "GET", path, res).await;
    }
    let res = app.get_as(None, "/api/v1/sessions").await;
    ok(&res, 401);
    conforms(&doc, "GET", "/api/v1/sessions", res).await;

    // Platform records, with the server key; the activity log, as the admin.
    let record: Value = serde_json::from_str(include_str!(
        "../../../shared/tests/fixtures/platform/start_call.json"
    ))
    .unwrap();
    let p = "/api/v1/platform/records";
    let res = c
        .post(url(p))
        .bearer_auth(SERVER_KEY)
        .json(&json!([record]))
        .send()
        .await
        .unwrap();
    ok(&res, 200);
    conforms(&doc, "POST", p, res).await;
    let res = c.post(url(p)).json(&record).send().await.unwrap();
    ok(&res, 401);
    conforms(&doc, "POST", p, res).await;
    let res = c
        .post(url(p))
        .bearer_auth(SERVER_KEY)
        .header("content-type", "text/plain")
        .body(record.to_string())
        .send()
        .await
        .unwrap();
    ok(&res, 415);
    conforms(&doc, "POST", p, res).await;
    let res = app.get_as(Some(ADMIN_TOKEN), "/api/v1/audit?limit=5").await;
    ok(&res, 200);
    let page = conforms(&doc, "GET", "/api/v1/audit", res).await;
    assert!(page["records"].as_array().unwrap().len() >= 2, "{page}");

    // The live tail answers an event stream.
    let res = app.get("/api/v1/sessions/s-doc/live?last_event_id=0").await;
    ok(&res, 200);
    let (op, _) = operation(&doc, "GET", "/api/v1/sessions/s-doc/live");
    assert!(op["responses"]["200"]["content"]["text/event-stream"].is_object());
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    drop(res);

    // Deletion: agents may not; an admin may; afterwards reads are 410 with
    // the tombstone, and the tombstone list has it.
    let p = "/api/v1/sessions/s-doc";
    let res = app.delete_as(Some(AGENT_TOKEN), p).await;
    ok(&res, 403);
    conforms(&doc, "DELETE", p, res).await;
    let res = app.delete_as(Some(ADMIN_TOKEN), p).await;
    ok(&res, 200);
    conforms(&doc, "DELETE", p, res).await;
    for path in [
        p,
        "/api/v1/sessions/s-doc/events",
        "/api/v1/sessions/s-doc/export",
        "/api/v1/sessions/s-doc/live",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 410, "{path}");
        let body = conforms(&doc, "GET", path, res).await;
        assert_eq!(body["tombstone"]["session_id"], "s-doc");
    }
    let res = app.post_batch(&gap).await;
    ok(&res, 410);
    conforms(&doc, "POST", "/api/v1/batches", res).await;
    let res = app.get("/api/v1/tombstones").await;
    conforms(&doc, "GET", "/api/v1/tombstones", res).await;

    // Operations.
    for path in ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"] {
        let res = app.get_as(None, path).await;
        ok(&res, 200);
        conforms(&doc, "GET", path, res).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn over_the_rate_limit_the_answer_is_the_documented_429() {
    let app = TestApp::spawn_with(|s| {
        s.ingest_per_site_key_per_second = 1;
        s.ingest_per_site_key_burst = 1;
    })
    .await;
    let doc = document(&app).await;
    let b = batch("s-rl", "t", vec![click(0, 1, "a")]);
    let mut last = None;
    for _ in 0..5 {
        let res = app.post_batch(&b).await;
        if res.status() == 429 {
            assert!(res.headers().contains_key("retry-after"));
            last = Some(res);
            break;
        }
    }
    let res = last.expect("the site key's limit was hit");
    conforms(&doc, "POST", "/api/v1/batches", res).await;
    app.stop().await;
}

#[test]
fn the_golden_wire_fixtures_fit_the_documented_schemas() {
    let doc = serde_json::to_value(collector::openapi::document()).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/fixtures");
    let mut seen = BTreeMap::new();
    let read = |p: &std::path::Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = if path.file_stem().unwrap() == "batch_with_gap" {
                "Batch"
            } else {
                "Event"
            };
            check(
                &doc,
                &schema(name),
                &read(&path),
                &path.display().to_string(),
            )
            .unwrap();
            *seen.entry(name).or_insert(0) += 1;
        }
    }
    for entry in std::fs::read_dir(dir.join("platform")).unwrap() {
        let path = entry.unwrap().path();
        let record = read(&path);
        check(
            &doc,
            &schema("PlatformRecord"),
            &record,
            &path.display().to_string(),
        )
        .unwrap();
        check(&doc, &schema("PlatformRecords"), &json!([record]), "array").unwrap();
        *seen.entry("PlatformRecord").or_insert(0) += 1;
    }
    assert_eq!(seen["Batch"], 1);
    assert!(seen["Event"] >= 7, "{seen:?}");
    assert_eq!(seen["PlatformRecord"], 14, "{seen:?}");

    // The check is not vacuous: what the decoder refuses, the schemas refuse.
    let click: Value = read(&dir.join("click.json"));
    for bad in [
        json!({"type": "TAP"}),
        json!({"data": {"target": {"tag": "button"}}}),
        json!({"actor": {"kind": "robot"}}),
        json!({"seq": -1}),
    ] {
        let mut v = click.clone();
        v.as_object_mut()
            .unwrap()
            .extend(bad.as_object().unwrap().clone());
        assert!(check(&doc, &schema("Event"), &v, "event").is_err(), "{v}");
    }
    let mut custom: Value = read(&dir.join("custom.json"));
    custom["data"]["extra"] = json!(1);
    assert!(check(&doc, &schema("Event"), &custom, "custom").is_err());
}

#[tokio::test]
async fn the_swagger_ui_and_its_assets_are_served_from_the_binary_without_credentials() {
    let app = TestApp::spawn().await;
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/api/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], "/api/docs/");

    let res = app.get_as(None, "/api/docs/").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Every script and stylesheet is local: nothing from a CDN.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );

    for (file, ct) in [
        ("swagger-ui.css", "text/css"),
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-initializer.js", "text/javascript"),
    ] {
        let res = app.get_as(None, &format!("/api/docs/{file}")).await;
        assert_eq!(res.status(), 200, "{file}");
        let got = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            got.starts_with(ct)
                || (ct == "text/javascript" && got.starts_with("application/javascript")),
            "{file}: {got}"
        );
        let body = res.text().await.unwrap();
        assert!(body.len() > 100, "{file}");
        if file == "swagger-initializer.js" {
            // The UI reads this collector's document and sends it nowhere
            // (no online validator).
            assert!(body.contains("/api/v1/openapi.json"), "{body}");
            assert!(body.contains(r#""validatorUrl": "none""#), "{body}");
        }
    }
    app.stop().await;
}
