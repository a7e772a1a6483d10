//! The recorder bundle as pages download it: brotli or gzip where the browser
//! accepts it, plain otherwise, never a file outside the bundle.

use std::io::{Read as _, Write as _};

use crate::helpers::TestApp;

const WASM: &[u8] = b"\0asm\x01\0\0\0 a stand-in module, long enough to shrink when gzipped: \
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const LOADER: &[u8] = b"// loader\nconsole.log('cotrail loader');\n";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        enc.write_all(bytes).unwrap();
    }
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .expect("a brotli body");
    out
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

/// A `www/` with a built bundle (plain files and their `.br` and `.gz` twins,
/// as `cargo xtask build` writes them), a file with a gzip twin only, one with
/// none, and a file beside the bundle.
fn www() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("recorder");
    std::fs::create_dir_all(&bundle).unwrap();
    for (name, bytes) in [("cotrail_recorder_bg.wasm", WASM), ("recorder.js", LOADER)] {
        std::fs::write(bundle.join(name), bytes).unwrap();
        std::fs::write(bundle.join(format!("{name}.gz")), gzip(bytes)).unwrap();
        std::fs::write(bundle.join(format!("{name}.br")), brotli(bytes)).unwrap();
    }
    std::fs::write(bundle.join("gz_only.js"), b"gzip twin only").unwrap();
    std::fs::write(bundle.join("gz_only.js.gz"), gzip(b"gzip twin only")).unwrap();
    std::fs::write(bundle.join("no_twin.js"), b"plain only").unwrap();
    std::fs::write(dir.path().join("secret.txt"), b"outside the bundle").unwrap();
    dir
}

async fn get(app: &TestApp, path: &str, accept: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(format!("{}{path}", app.base));
    if let Some(a) = accept {
        req = req.header("accept-encoding", a);
    }
    req.send().await.unwrap()
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test]
async fn the_bundle_is_served_compressed_to_browsers_that_accept_it() {
    let www = www();
    let path = www.path().to_path_buf();
    let app = TestApp::spawn_with(|s| s.www_dir = path).await;

    // As a page on a customer's site loads it (another origin).
    let res = app
        .client
        .get(format!("{}/recorder/cotrail_recorder_bg.wasm", app.base))
        .header("accept-encoding", "gzip, deflate, br, zstd")
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "content-encoding"),
        "br",
        "brotli is preferred"
    );
    assert_eq!(header(&res, "content-type"), "application/wasm");
    assert!(header(&res, "vary")
        .to_ascii_lowercase()
        .contains("accept-encoding"));
    assert!(!header(&res, "access-control-allow-origin").is_empty());
    let body = res.bytes().await.unwrap();
    assert!(body.len() < WASM.len(), "the compressed body is smaller");
    assert_eq!(unbrotli(&body), WASM);

    // gzip for clients without brotli (or refusing it).
    for accept in ["gzip", "gzip, deflate", "br;q=0, gzip"] {
        let res = get(&app, "/recorder/cotrail_recorder_bg.wasm", Some(accept)).await;
        assert_eq!(res.status(), 200, "{accept}");
        assert_eq!(header(&res, "content-encoding"), "gzip", "{accept}");
        assert_eq!(header(&res, "content-type"), "application/wasm");
        assert_eq!(gunzip(&res.bytes().await.unwrap()), WASM, "{accept}");
    }
    // A file built with a gzip twin only: gzip even when brotli is accepted.
    let res = get(&app, "/recorder/gz_only.js", Some("br, gzip")).await;
    assert_eq!(header(&res, "content-encoding"), "gzip");
    assert_eq!(gunzip(&res.bytes().await.unwrap()), b"gzip twin only");

    // The loader too, still revalidated on every load.
    let res = get(&app, "/recorder.js", Some("gzip")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-encoding"), "gzip");
    assert!(header(&res, "content-type").starts_with("text/javascript"));
    assert_eq!(header(&res, "cache-control"), "no-cache");
    assert_eq!(gunzip(&res.bytes().await.unwrap()), LOADER);
}

#[tokio::test]
async fn clients_that_accept_neither_brotli_nor_gzip_get_the_plain_file() {
    let www = www();
    let path = www.path().to_path_buf();
    let app = TestApp::spawn_with(|s| s.www_dir = path).await;
    for accept in [
        None,
        Some("identity"),
        Some("gzip;q=0, br;q=0, identity"),
        Some("zstd"),
    ] {
        let res = get(&app, "/recorder/cotrail_recorder_bg.wasm", accept).await;
        assert_eq!(res.status(), 200, "{accept:?}");
        assert_eq!(header(&res, "content-encoding"), "", "{accept:?}");
        assert_eq!(header(&res, "content-type"), "application/wasm");
        assert!(header(&res, "vary")
            .to_ascii_lowercase()
            .contains("accept-encoding"));
        assert_eq!(res.bytes().await.unwrap(), WASM, "{accept:?}");
    }
    // A file without a `.gz` twin goes out plain even when gzip is accepted.
    let res = get(&app, "/recorder/no_twin.js", Some("br, gzip")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-encoding"), "");
    assert_eq!(res.bytes().await.unwrap(), &b"plain only"[..]);
}

#[tokio::test]
async fn head_requests_get_the_headers_without_the_body() {
    let www = www();
    let path = www.path().to_path_buf();
    let app = TestApp::spawn_with(|s| s.www_dir = path).await;
    for path in ["/recorder.js", "/recorder/cotrail_recorder_bg.wasm"] {
        let res = app
            .client
            .head(format!("{}{path}", app.base))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header(&res, "content-encoding"), "gzip", "{path}");
        assert!(!header(&res, "etag").is_empty(), "{path}");
        assert!(res.bytes().await.unwrap().is_empty(), "{path}");
    }
}

#[tokio::test]
async fn each_encoding_revalidates_against_its_own_etag() {
    let www = www();
    let path = www.path().to_path_buf();
    let app = TestApp::spawn_with(|s| s.www_dir = path).await;
    let gz = get(&app, "/recorder/cotrail_recorder_bg.wasm", Some("gzip")).await;
    let br = get(&app, "/recorder/cotrail_recorder_bg.wasm", Some("br")).await;
    let plain = get(&app, "/recorder/cotrail_recorder_bg.wasm", None).await;
    let tags = [&gz, &br, &plain].map(|r| header(r, "etag").to_owned());
    let gz_tag = tags[0].clone();
    assert!(tags.iter().all(|t| !t.is_empty()));
    assert!(
        tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2],
        "a cache must not answer one encoding with another: {tags:?}"
    );
    let res = app
        .client
        .get(format!("{}/recorder/cotrail_recorder_bg.wasm", app.base))
        .header("accept-encoding", "gzip")
        .header("if-none-match", &gz_tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
}

#[tokio::test]
async fn only_files_of_the_bundle_are_served() {
    let www = www();
    let path = www.path().to_path_buf();
    let app = TestApp::spawn_with(|s| s.www_dir = path).await;
    for path in [
        "/recorder/missing.wasm",
        "/recorder/..%2Fsecret.txt",
        "/recorder/%2E%2E%2Fsecret.txt",
        "/recorder/.hidden",
        "/recorder/a%5Cb",
    ] {
        let res = get(&app, path, Some("gzip")).await;
        assert_eq!(res.status(), 404, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
}

#[tokio::test]
async fn an_unbuilt_bundle_says_how_to_build_it() {
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_path_buf();
    let app = TestApp::spawn_with(|s| s.www_dir = path).await;
    for path in ["/recorder.js", "/recorder/cotrail_recorder_bg.wasm"] {
        let res = get(&app, path, Some("gzip")).await;
        assert_eq!(res.status(), 503, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("cargo xtask build"),
            "{path}: {body}"
        );
    }
}

/// The loader asks for the glue and the wasm under their build's id: under
/// the id of the build served, browsers may keep them for good; without it or
/// under another build's id (a page whose loader came before an upgrade), they
/// get the current files to revalidate.
#[tokio::test]
async fn bundle_files_under_the_current_build_id_are_cached_for_good() {
    let www = www();
    std::fs::write(www.path().join("recorder/build-id"), "0123456789abcdef").unwrap();
    let path = www.path().to_path_buf();
    let app = TestApp::spawn_with(|s| s.www_dir = path).await;
    let wasm = "/recorder/cotrail_recorder_bg.wasm";
    let res = get(&app, &format!("{wasm}?v=0123456789abcdef"), None).await;
    assert_eq!(res.status(), 200);
    let cache = header(&res, "cache-control").to_owned();
    assert!(
        cache.contains("immutable") && cache.contains("max-age=31536000"),
        "{cache}"
    );
    assert_eq!(res.bytes().await.unwrap(), WASM);
    for other in [format!("{wasm}?v=fedcba9876543210"), wasm.to_owned()] {
        let res = get(&app, &other, None).await;
        assert_eq!(res.status(), 200, "{other}");
        assert_eq!(header(&res, "cache-control"), "no-cache", "{other}");
        assert_eq!(res.bytes().await.unwrap(), WASM);
    }
    app.stop().await;
}

/// A compressed twin older than its file is another build's: the file is
/// served plain instead.
#[tokio::test]
async fn a_twin_older_than_its_file_is_not_served() {
    let www = www();
    let bundle = www.path().join("recorder");
    let newer = b"\0asm\x01\0\0\0 the next build, written after its old twins";
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(bundle.join("cotrail_recorder_bg.wasm"), newer).unwrap();
    let path = www.path().to_path_buf();
    let app = TestApp::spawn_with(|s| s.www_dir = path).await;
    let res = get(&app, "/recorder/cotrail_recorder_bg.wasm", Some("gzip, br")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-encoding"), "");
    assert_eq!(res.bytes().await.unwrap(), &newer[..]);
    app.stop().await;
}
