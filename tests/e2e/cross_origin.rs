use actix_web::{web, App, HttpResponse, HttpServer};
use cotrail_e2e::*;
use serde_json::json;
use shared::EventData;
use thirtyfour::prelude::*;

/// A customer site on another origin embeds the recorder with one tag pointing
/// at the collector, and calls `recordCustom` on its first line of code, before
/// the wasm can possibly be ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_on_another_origin_embeds_the_recorder_with_one_script_tag() -> anyhow::Result<()> {
    let collector = Collector::spawn().await;
    let page = format!(
        r#"<!doctype html><html><head><title>Partner shop</title>
<script src="http://127.0.0.1:{port}/recorder.js" data-site-key="pk_demo" data-session-id="xorigin-1"></script>
<script>recordCustom("early", {{"first": true}});</script></head>
<body><button id="buy">Buy</button></body></html>"#,
        port = collector.port
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let site_port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        let page = page.clone();
        App::new().route(
            "/",
            web::get().to(move || {
                let page = page.clone();
                async move { HttpResponse::Ok().content_type("text/html").body(page) }
            }),
        )
    })
    .listen(listener)?
    .workers(1)
    .run();
    let site = server.handle();
    tokio::spawn(server);

    let b = Browser::start().await?;
    // `localhost` vs `127.0.0.1`: different origins, so CORS is really exercised.
    b.driver
        .goto(format!("http://localhost:{site_port}/"))
        .await?;
    b.wait_for_recorder().await?;
    // The page downloads two files of the recorder: the loader (the glue is
    // inside it) and then the wasm, two round trips to recording. The wasm is
    // under the build's id (`?v=`), which lets browsers cache it for good.
    let files: Vec<String> = b
        .eval(
            r#"return performance.getEntriesByType('resource').map((e) => e.name)
                 .filter((n) => n.includes('/recorder'));"#,
        )
        .await?;
    let port = collector.port;
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[0], format!("http://127.0.0.1:{port}/recorder.js"));
    let id = files[1]
        .strip_prefix(&format!(
            "http://127.0.0.1:{port}/recorder/cotrail_recorder_bg.wasm?v="
        ))
        .unwrap_or_else(|| panic!("the wasm under the build's id: {files:?}"));
    assert!(
        id.len() == 16 && id.bytes().all(|c| c.is_ascii_hexdigit()),
        "{files:?}"
    );
    b.driver.find(By::Id("buy")).await?.click().await?;

    let events = collector
        .wait_for_events("xorigin-1", "the early custom event and the click", |ev| {
            ev.iter()
                .any(|e| matches!(&e.event.data, EventData::Click(_)))
                && ev
                    .iter()
                    .any(|e| matches!(&e.event.data, EventData::Custom(_)))
        })
        .await;
    let early = events
        .iter()
        .find_map(|e| match &e.event.data {
            EventData::Custom(c) => Some(c),
            _ => None,
        })
        .unwrap();
    assert_eq!(early.custom_type, "early");
    assert_eq!(early.value, json!({"first": true}));
    let page = events
        .iter()
        .find_map(|e| match &e.event.data {
            EventData::PageChange(p) => Some(p),
            _ => None,
        })
        .expect("the first view is a PAGE-CHANGE");
    assert_eq!(page.title, "Partner shop");
    assert!(page
        .url
        .starts_with(&format!("http://localhost:{site_port}/")));

    b.quit().await;
    site.stop(true).await;
    collector.stop().await;
    Ok(())
}

/// A page whose site key the collector does not know (or whose origin the key
/// does not list) has its batches refused with a status it can read: the
/// recorder reports the refusal (`stats().rejected`, a console warning) and
/// does not resend the batch, instead of retrying what the browser would
/// otherwise show it as a network error for as long as the page is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_with_a_wrong_site_key_is_told_so_and_does_not_retry() -> anyhow::Result<()> {
    let collector = Collector::spawn().await;
    let page = format!(
        r#"<!doctype html><html><head><title>Misconfigured shop</title>
<script>window.__warnings = []; const w = console.warn; console.warn = (...a) => {{ window.__warnings.push(a.join(' ')); w(...a); }};</script>
<script src="/recorder.js" data-collector="{base}" data-site-key="pk_nobody" data-flush-ms="200"></script></head>
<body><button id="buy">Buy</button></body></html>"#,
        base = collector.base
    );
    // The site's own origin (another port) differs from the collector's.
    let site = StaticSite::serve(vec![("/", page)]).await;
    let b = Browser::start().await?;
    b.driver.goto(format!("{}/", site.base)).await?;
    b.wait_for_recorder().await?;
    b.driver.find(By::Id("buy")).await?.click().await?;
    b.wait_for_js(
        "the refusal counted",
        "return window.cotrail.stats().rejected >= 1",
    )
    .await?;
    // Longer than the first retry delays: nothing is retried.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let (retries, warnings): (f64, Vec<String>) = b
        .eval("return [window.cotrail.stats().retries, window.__warnings];")
        .await?;
    assert_eq!(retries, 0.0, "a refused batch is not retried: {warnings:?}");
    assert!(
        warnings.iter().any(|w| w.contains("HTTP 401")),
        "the console says why: {warnings:?}"
    );
    assert!(collector.sessions().await.sessions.is_empty());
    b.quit().await;
    site.stop().await;
    collector.stop().await;
    Ok(())
}

/// The bundle as a site might host it itself: a server that sends the wasm
/// without `application/wasm` still gets a recorder (compiled the slower way,
/// with a console warning saying why), and a wasm that is not there is a
/// recorder that does not start, with the status in the warning, and
/// `cotrail.ready` resolving false.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasm_served_without_its_type_still_records_and_a_missing_one_is_reported(
) -> anyhow::Result<()> {
    let collector = Collector::spawn().await;
    let bundle = www_dir().join("recorder");
    let read =
        |f: &str| std::fs::read(bundle.join(f)).expect("the built bundle (cargo xtask build)");
    let (loader, wasm) = (read("recorder.js"), read("cotrail_recorder_bg.wasm"));
    // `/plain/`: the wasm as `application/octet-stream`; `/gone/`: no wasm.
    let page = |dir: &str| {
        format!(
            r#"<!doctype html><html><head><title>Own hosting</title>
<script>window.__warnings = []; var w = console.warn;
console.warn = function () {{ window.__warnings.push(Array.prototype.map.call(arguments, String).join(' ')); return w.apply(console, arguments); }};</script>
<script src="/{dir}/recorder.js" data-site-key="pk_demo" data-session-id="hosted-{dir}" data-collector="{base}"></script>
<script>cotrail.ready.then(function (ok) {{ window.__ready = ok; }});</script>
</head><body><button id="buy">Buy</button></body></html>"#,
            base = collector.base
        )
    };
    let (plain, gone) = (page("plain"), page("gone"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let site_port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        let file = |body: Vec<u8>, ty: &'static str| {
            web::get().to(move || {
                let body = body.clone();
                async move { HttpResponse::Ok().content_type(ty).body(body) }
            })
        };
        App::new()
            .route("/plain/", file(plain.clone().into_bytes(), "text/html"))
            .route("/gone/", file(gone.clone().into_bytes(), "text/html"))
            .route(
                "/{dir}/recorder.js",
                file(loader.clone(), "text/javascript"),
            )
            .route(
                "/plain/recorder/cotrail_recorder_bg.wasm",
                file(wasm.clone(), "application/octet-stream"),
            )
    })
    .listen(listener)?
    .workers(1)
    .run();
    let site = server.handle();
    tokio::spawn(server);

    let b = Browser::start().await?;
    b.driver
        .goto(format!("http://127.0.0.1:{site_port}/plain/"))
        .await?;
    b.wait_for_recorder().await?;
    b.driver.find(By::Id("buy")).await?.click().await?;
    collector
        .wait_for_events("hosted-plain", "the click", |ev| {
            ev.iter()
                .any(|e| matches!(&e.event.data, EventData::Click(_)))
        })
        .await;
    let warnings: Vec<String> = b.eval("return window.__warnings;").await?;
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("not served as application/wasm")),
        "the console says why it compiled the slower way: {warnings:?}"
    );

    b.driver
        .goto(format!("http://127.0.0.1:{site_port}/gone/"))
        .await?;
    b.wait_for_js(
        "cotrail.ready resolving false without the wasm",
        "return window.__ready === false",
    )
    .await?;
    let warnings: Vec<String> = b.eval("return window.__warnings;").await?;
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("recorder did not start") && w.contains("404")),
        "the console says why, with the status: {warnings:?}"
    );
    b.quit().await;
    site.stop(true).await;
    collector.stop().await;
    Ok(())
}
