//! `cargo xtask`: build, run and test orchestration for cotrail.
//!
//! - `cargo xtask run`   installs what the build needs (wasm target, the matching
//!   `wasm-bindgen-cli`, Node and Binaryen), builds the recorder bundle into `www/recorder/`, and runs
//!   the collector with the demo site and review app on the embedded sled store.
//! - `cargo xtask test`  also installs Chromium and chromedriver (Debian packages)
//!   when missing, then runs every test: unit, API, wasm-in-browser and end to end.
//! - `cargo xtask build` only builds the recorder bundle.
//!
//! Extra arguments after `run` go to the collector (`cargo xtask run -- --listen 0.0.0.0:8080`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

mod bench;
mod minify;
mod optimize;
mod prune;
mod reorder;
mod shorten;

/// Must equal the `wasm-bindgen` version pinned in the workspace `Cargo.toml`:
/// the CLI generates glue for exactly one version of the runtime crate.
const WASM_BINDGEN_VERSION: &str = "0.2.130";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("build") => build_bundle(&root),
        Some("run") => {
            build_bundle(&root)?;
            let rest: Vec<&str> = args[1..]
                .iter()
                .map(String::as_str)
                .skip_while(|a| *a == "--")
                .collect();
            let mut cmd = cargo();
            cmd.args(["run", "--release", "--package", "collector", "--"])
                .args(rest);
            run(&mut cmd)
        }
        Some("test") => test(&root),
        Some("bench") => bench::bench(&root, &args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <run|test|build|bench>\n\n  run    build everything and start the collector with the demo at http://127.0.0.1:8080/\n  test   install test tools when missing and run every test\n  build  build the recorder bundle into www/recorder/\n  bench  run every benchmark and write BENCHMARKS.md ([--quick] [--reps N])");
            std::process::exit(2)
        }
    }
}

fn workspace_root() -> PathBuf {
    // `cargo run` (the `cargo xtask` alias) sets it for the binary too. That is
    // preferred over the value compiled in: with a `CARGO_TARGET_DIR` shared by
    // two checkouts, cargo may run the binary the other checkout built, whose
    // compiled-in directory is that checkout's.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Installs the wasm target and the matching wasm-bindgen CLI when missing.
fn ensure_wasm_tools() -> Result<()> {
    let targets =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !targets.lines().any(|l| l.trim() == WASM_TARGET) {
        run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    }
    let have = output(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    if have.split_whitespace().nth(1) != Some(WASM_BINDGEN_VERSION) {
        eprintln!(
            "xtask: installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} (found {:?}); this takes a few minutes once",
            have.trim()
        );
        // No --locked: the registry mirror may lag a pinned lockfile's crates.
        run(cargo().args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            &format!("={WASM_BINDGEN_VERSION}"),
        ]))?;
    }
    Ok(())
}

/// Builds the recorder for the browser and writes the bundle a site loads:
/// `www/recorder/recorder.js` (the loader behind `GET /recorder.js`, with the
/// wasm-bindgen glue inside) and `cotrail_recorder_bg.wasm`.
fn build_bundle(root: &Path) -> Result<()> {
    ensure_wasm_tools()?;
    // No build id while the files change: a collector serving meanwhile
    // answers every request `no-cache` instead of caching a half-written
    // build for a year under the old id. Written again last.
    let id_file = root.join("www/recorder/build-id");
    if id_file.exists() {
        std::fs::remove_file(&id_file).context("removing the old build id")?;
    }
    run(cargo().args([
        "build",
        "--package",
        // The recorder linked without `std` (see recorder/bundle/src/lib.rs).
        "cotrail-recorder-bundle",
        "--target",
        WASM_TARGET,
        "--profile",
        "wasm-release",
    ]))?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let wasm = target_dir
        .join(WASM_TARGET)
        .join("wasm-release/cotrail_recorder_bundle.wasm");
    let out = root.join("www/recorder");
    std::fs::create_dir_all(&out)?;
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            "web",
            "--no-typescript",
            // Only a debugger reads it. (The name section stays for
            // `prune.rs` to read; it drops it with the other custom sections.)
            "--remove-producers-section",
            // Every browser that runs wasm with reference types has
            // `TextEncoder.encodeInto`: no fallback encoder in the glue.
            "--encode-into",
            "always",
            // The loader always says where the wasm is (next to itself).
            "--omit-default-module-path",
            "--out-name",
            "cotrail_recorder",
            "--out-dir",
        ])
        .arg(&out)
        .arg(&wasm))?;
    let glue = out.join("cotrail_recorder.js");
    let module = out.join("cotrail_recorder_bg.wasm");
    let text = std::fs::read_to_string(&glue).context("reading the wasm-bindgen glue")?;
    let text = shorten::pass_string_with_realloc(&text)?;
    let text = shorten::import_methods(&text)?;
    let text = shorten::closure_registry(&text)?;
    let bytes = std::fs::read(&module).context("reading the wasm-bindgen module")?;
    let (bytes, text) = shorten::shorten(&bytes, &text)?;
    let (bytes, pruned) = prune::prune(&bytes)?;
    eprintln!(
        "xtask: {} of the module's {} functions cannot be called; emptied",
        pruned.emptied, pruned.functions
    );
    let bytes = optimize::optimize(&target_dir, &bytes)?;
    // Judged by a quicker Zopfli than the twins' (see `reorder`).
    let (bytes, layout) = reorder::reorder(&bytes, |m| Ok(gzip(m, 15)?.len()))?;
    match layout {
        Some((window, gram)) => eprintln!(
            "xtask: functions laid out by {gram}-byte strings shared with the last {window} bytes"
        ),
        None => {
            eprintln!("xtask: functions left in the linker's order (no layout compressed better)")
        }
    }
    std::fs::write(&module, &bytes).context("writing the module")?;
    let text = shorten::loader_init(&text)?;
    let text = shorten::loader_load(&text)?;
    let text = shorten::function_body(&text)?;
    // The glue goes into the loader: the page downloads the loader and the
    // wasm, nothing else.
    std::fs::remove_file(&glue).context("removing the glue's own file")?;
    for twin in ["cotrail_recorder.js.gz", "cotrail_recorder.js.br"] {
        let _ = std::fs::remove_file(out.join(twin));
    }
    // The build's id, in the loader's URL of the wasm (which the collector
    // then lets browsers cache for good) and beside the bundle for the
    // collector to compare it with; of the glue and the wasm, which must be
    // one build's.
    let build = build_id(text.as_bytes(), &bytes);
    let loader = std::fs::read_to_string(root.join("recorder/js/loader.js"))
        .context("reading the loader")?;
    for placeholder in [BUILD_PLACEHOLDER, GLUE_PLACEHOLDER] {
        anyhow::ensure!(
            loader.matches(placeholder).count() == 1,
            "recorder/js/loader.js must hold {placeholder} once"
        );
    }
    let loader = loader
        .replace(BUILD_PLACEHOLDER, &build)
        .replace(GLUE_PLACEHOLDER, &text);
    let loader = minify::minify(&loader, "the loader")?;
    std::fs::write(out.join("recorder.js"), loader).context("writing the loader")?;
    for f in ["recorder.js", "cotrail_recorder_bg.wasm"] {
        let bytes = std::fs::read(out.join(f))?;
        let gz = gzip_best(&bytes)?;
        std::fs::write(out.join(format!("{f}.gz")), &gz)?;
        let br = brotli_best(&bytes)?;
        std::fs::write(out.join(format!("{f}.br")), &br)?;
        eprintln!(
            "xtask: www/recorder/{f}: {} bytes, {} gzipped, {} brotli",
            bytes.len(),
            gz.len(),
            br.len()
        );
    }
    std::fs::write(&id_file, &build).context("writing the build id")?;
    Ok(())
}

/// What `recorder/js/loader.js` says where the build's id goes.
const BUILD_PLACEHOLDER: &str = "__COTRAIL_BUILD__";
/// Where the glue goes in `recorder/js/loader.js`: the body of its `glue()`.
const GLUE_PLACEHOLDER: &str = "/* __COTRAIL_GLUE__ */";

/// The id of a build of the glue and the wasm: the first 16 hex digits of
/// the SHA-256 of both.
fn build_id(glue: &[u8], wasm: &[u8]) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    hash.update((glue.len() as u64).to_be_bytes());
    hash.update(glue);
    hash.update(wasm);
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// gzip through Zopfli: a deflate encoder that searches much harder than
/// zlib's level 9 and writes an ordinary gzip stream that every browser
/// decodes. The collector serves these `.gz` twins to every browser that
/// accepts gzip but not brotli (`routes/assets.rs`), once per page that embeds
/// the recorder, so seconds of compression at build time pay off: 5.7%
/// fewer bytes than gzip -9 on the wasm (bench/NOTES.md). It runs 1,000
/// iterations instead of its default 15 (the same bytes 27 B smaller, about
/// 6 s more; 200 gave 22 B).
fn gzip_best(bytes: &[u8]) -> Result<Vec<u8>> {
    gzip(bytes, 1000)
}

/// gzip through Zopfli with `iterations` (15 is its default).
fn gzip(bytes: &[u8], iterations: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let options = zopfli::Options {
        iteration_count: std::num::NonZeroU64::new(iterations).context("no iterations")?,
        ..Default::default()
    };
    zopfli::compress(options, zopfli::Format::Gzip, bytes, &mut out)?;
    Ok(out)
}

/// Brotli at quality 11 with a 4 MiB window (`.br` twins, preferred by the
/// collector for browsers that accept `br`).
fn brotli_best(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write as _;
    let mut out = Vec::new();
    {
        let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        enc.write_all(bytes)?;
        enc.flush()?;
    }
    Ok(out)
}

/// Installs Chromium and chromedriver from Debian when missing.
fn ensure_browser() -> Result<()> {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return Ok(());
    }
    eprintln!("xtask: installing chromium and chromium-driver from Debian");
    let sudo = output(Command::new("id").arg("-u"))
        .map(|u| u.trim() != "0")
        .unwrap_or(true);
    let apt = |args: &[&str]| {
        let mut c = if sudo {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        } else {
            Command::new("apt-get")
        };
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run(&mut apt(&["update"]))?;
    let install = ["install", "-y", "chromium", "chromium-driver"];
    // dpkg sometimes reports a missing archive on the first try; a second run succeeds.
    if run(&mut apt(&install)).is_err() {
        run(&mut apt(&install))?;
    }
    for (path, package) in [(CHROMEDRIVER, "chromium-driver"), (CHROMIUM, "chromium")] {
        if !Path::new(path).exists() {
            bail!("{path} is still missing after installing {package}; install it (`apt-get install {package}`)");
        }
    }
    Ok(())
}

fn test(root: &Path) -> Result<()> {
    ensure_browser()?;
    build_bundle(root)?;
    run(cargo().args(["test", "--workspace", "--exclude", "cotrail-recorder"]))?;
    // The recorder's pure core natively, then its DOM tests in headless Chromium.
    run(cargo().args(["test", "--package", "cotrail-recorder"]))?;
    run(cargo()
        .args([
            "test",
            "--package",
            "cotrail-recorder",
            "--target",
            WASM_TARGET,
        ])
        .env("CHROMEDRIVER", CHROMEDRIVER))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{brotli_best, gzip_best};
    use std::io::Read as _;

    /// The twins the collector serves must decode to the file itself with the
    /// decoders browsers use (zlib's gzip, brotli). (Their sizes are measured
    /// in the benchmark, not here.)
    #[test]
    fn compressed_twins_decode_to_the_file() {
        // Mixed repeats and noise, so both encoders have matches to find.
        let mut bytes = Vec::new();
        let mut x: u32 = 12345;
        for i in 0..40_000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            bytes.push(if i % 7 < 3 {
                (x >> 24) as u8
            } else {
                (i % 251) as u8
            });
        }
        let gz = gzip_best(&bytes).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, bytes);
        assert!(gz.len() < bytes.len());

        let br = brotli_best(&bytes).unwrap();
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, bytes);
    }
}
