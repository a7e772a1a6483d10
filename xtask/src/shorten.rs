//! Shortens the names the wasm module and its wasm-bindgen glue share.
//!
//! `wasm-bindgen` names every import after its JS function plus a 16-digit hash
//! (`__wbg_addEventListener_f2d27251d333a631`) and every closure shim after its
//! mangled Rust path; each name is written twice, in the module's import or
//! export section and in the glue, and hashes do not compress. For about eighty
//! imports that was about 3 KB of the gzipped bundle (wasm 2.0, glue 1.1). Here
//! both sides get short names (`a`, `b`, … `aa`, …), consistently:
//!
//! - imports from the glue's module (`./cotrail_recorder_bg.js`) are renamed in
//!   the module, and as keys of the glue's import object;
//! - exports are renamed in the module and at every `wasm.<name>` in the glue;
//!   the glue's own exported functions (`start`, `recordCustom`, …, what the
//!   loader calls) keep their names, only their calls into wasm change. An
//!   export the glue does not use (wasm-bindgen's `__wbindgen_free` and the
//!   `__abort_handler` and `__instance_terminated` globals of its abort
//!   machinery, here) is dropped: nothing else holds the instance's exports.
//!
//! Every other section is copied byte for byte. An import the glue does not
//! name exactly once (its key), or an import module not named once, is an
//! error, not a silent skip, so a wasm-bindgen
//! upgrade that changes the glue's shape fails the build instead of a page.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasmparser::{Parser, Payload};

/// The glue's module name as the wasm imports it (`--out-name cotrail_recorder`).
pub const GLUE_MODULE: &str = "./cotrail_recorder_bg.js";
/// What the module imports the glue as after shortening.
const SHORT_MODULE: &str = "w";

/// The `n`th short identifier: `a` … `z`, `A` … `Z`, then two letters and on.
fn short_name(mut n: usize) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(LETTERS[n % LETTERS.len()]);
        n /= LETTERS.len();
        if n == 0 {
            break;
        }
        n -= 1;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Replaces every whole-identifier occurrence of `from` (optionally required to
/// follow `prefix`) with `to`; returns the new text and the number replaced.
fn replace_ident(text: &str, prefix: &str, from: &str, to: &str) -> (String, usize) {
    let needle = format!("{prefix}{from}");
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    let mut last = 0;
    let mut from_pos = 0;
    while let Some(found) = text[from_pos..].find(&needle) {
        let start = from_pos + found;
        let end = start + needle.len();
        // Neither `xwasm.stop` nor `wasm.stopped` is `wasm.stop`.
        let before_ok = start == 0 || !is_ident_byte(bytes[start - 1]);
        let after_ok = end == bytes.len() || !is_ident_byte(bytes[end]);
        if before_ok && after_ok {
            out.push_str(&text[last..start]);
            out.push_str(prefix);
            out.push_str(to);
            last = end;
            count += 1;
        }
        from_pos = end;
    }
    out.push_str(&text[last..]);
    (out, count)
}

/// Rewrites the module and the glue together; see the module docs.
pub fn shorten(wasm: &[u8], glue: &str) -> Result<(Vec<u8>, String)> {
    let mut module = wasm_encoder::Module::new();
    let mut glue = glue.to_owned();
    let mut next = 0usize;
    let mut fresh = || {
        let n = short_name(next);
        next += 1;
        n
    };
    let mut renamed_exports: HashMap<String, String> = HashMap::new();
    let mut re = RoundtripReencoder;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.context("parsing the recorder's wasm")?;
        match payload {
            // The code section is copied whole at its start.
            Payload::Version { .. } | Payload::End(_) | Payload::CodeSectionEntry(_) => {}
            Payload::ImportSection(reader) => {
                let mut section = wasm_encoder::ImportSection::new();
                for import in reader.into_imports() {
                    let import = import?;
                    let ty = re.entity_type(import.ty)?;
                    if import.module != GLUE_MODULE {
                        section.import(import.module, import.name, ty);
                        continue;
                    }
                    let short = fresh();
                    // An import is a key of the glue's import object: `name: function(…)`.
                    let (text, n) = replace_ident(&glue, "", import.name, &short);
                    // Exactly once: as its key. Anything else would be renamed too.
                    if n != 1 {
                        bail!(
                            "the glue names the import {:?} {n} times, expected once (its key); did wasm-bindgen change?",
                            import.name
                        );
                    }
                    glue = text;
                    section.import(SHORT_MODULE, &short, ty);
                }
                module.section(&section);
            }
            Payload::ExportSection(reader) => {
                let mut section = wasm_encoder::ExportSection::new();
                for export in reader {
                    let export = export?;
                    let kind = re.export_kind(export.kind)?;
                    let short = fresh();
                    let (text, n) = replace_ident(&glue, "wasm.", export.name, &short);
                    if n == 0 {
                        // Not used by the glue, the one holder of the
                        // instance's exports (the loader ignores what its
                        // init answers): dropped, and with it what only it
                        // kept. Named otherwise, it would be an error.
                        let (_, named) = replace_ident(&glue, "", export.name, "");
                        if named != 0 {
                            bail!(
                                "the glue names the export {:?} but not as wasm.{0}; did wasm-bindgen change?",
                                export.name
                            );
                        }
                        continue;
                    }
                    glue = text;
                    renamed_exports.insert(export.name.to_owned(), short.clone());
                    section.export(&short, kind, export.index);
                }
                module.section(&section);
            }
            other => {
                let Some((id, range)) = other.as_section() else {
                    bail!("unexpected wasm payload without a section");
                };
                module.section(&wasm_encoder::RawSection {
                    id,
                    data: &wasm[range.start as usize..range.end as usize],
                });
            }
        }
    }
    let quoted = format!("\"{GLUE_MODULE}\"");
    let (text, n) = replace_ident(&glue, "", &quoted, &format!("\"{SHORT_MODULE}\""));
    if n != 1 {
        bail!("expected the glue to name its import module {quoted} once, found {n}");
    }
    glue = text;
    let out = module.finish();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&out)
        .context("the shortened wasm does not validate")?;
    Ok((out, glue))
}

/// The glue's export statement as wasm-bindgen 0.2.130 writes it.
const GLUE_EXPORTS: &str = "export { initSync, __wbg_init as default };";

/// The glue as the body of a function inside the loader
/// (`recorder/js/loader.js`), which returns what the module exported: its
/// exported functions by their names, and its init as `init`. The page then
/// downloads one script and the wasm instead of a script, a module and the
/// wasm: one request fewer, no module for a site's CSP to allow, and the
/// loader and the glue compressed and minified as one (about 0.3 KB of
/// gzip). `initSync` is not returned, so the minifier drops it and its
/// deprecation warning: the loader only instantiates asynchronously.
/// The [`GLUE_REWRITES`] are made on the way (23 B of gzip).
/// A glue with an export or import of another shape (or `import.meta`) is an
/// error, as in [`shorten`]: a function body cannot hold one; so is a glue
/// without one of the rewrites' texts, exactly once.
pub fn function_body(glue: &str) -> Result<String> {
    let found = glue.matches(GLUE_EXPORTS).count();
    if found != 1 {
        bail!("expected the glue to hold {GLUE_EXPORTS:?} once, found it {found} times; did wasm-bindgen change?");
    }
    let mut glue = glue.to_owned();
    for (from, to) in GLUE_REWRITES {
        let found = glue.matches(from).count();
        if found != 1 {
            bail!("expected the glue to hold {from:?} once, found it {found} times; did wasm-bindgen change?");
        }
        glue = glue.replacen(from, to, 1);
    }
    let glue = glue.as_str();
    let mut names = Vec::new();
    let mut body = String::with_capacity(glue.len());
    for line in glue.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("export function ") {
            let name = rest.split('(').next().unwrap_or_default();
            names.push(name.to_string());
            body.push_str("function ");
            body.push_str(rest);
        } else if line.trim_end() == GLUE_EXPORTS {
            body.push_str("return { init: __wbg_init");
            for name in &names {
                body.push_str(", ");
                body.push_str(name);
            }
            body.push_str(" };\n");
        } else {
            body.push_str(line);
        }
    }
    for word in ["export ", "import ", "import(", "import.meta"] {
        if body.contains(word) {
            bail!("the glue still holds `{word}` where the loader inlines it; did wasm-bindgen change?");
        }
    }
    Ok(body)
}

/// Texts of the glue as wasm-bindgen 0.2.130 writes them, each with what
/// does the same in fewer bytes once minified, which oxc does not find
/// itself: a variable that only renames an argument, `ptr / 1` (a
/// division by the element size of a byte array) of a `ptr` that is an
/// integer already (`ptr >>> 0`), and the memory views' caches emptied
/// where the module is instantiated, which are empty then: a view is only
/// made of the instance's memory, which exists from there on, and the
/// loader calls the init once (and [`LOADER_INIT`] answers a call after
/// the first finished with the first instance).
const GLUE_REWRITES: [(&str, &str); 5] = [
    (
        "    wasmModule = module;\n    cachedDataViewMemory0 = null;\n    cachedUint8ArrayMemory0 = null;\n",
        "    wasmModule = module;\n",
    ),
    (
        "const val = arg0;\n            const ret = typeof(val) === 'object' && val !== null;",
        "const ret = typeof(arg0) === 'object' && arg0 !== null;",
    ),
    (
        "const obj = arg1;\n            const ret = typeof(obj) === 'number' ? obj : undefined;",
        "const ret = typeof(arg1) === 'number' ? arg1 : undefined;",
    ),
    (
        "const obj = arg1;\n            const ret = typeof(obj) === 'string' ? obj : undefined;",
        "const ret = typeof(arg1) === 'string' ? arg1 : undefined;",
    ),
    (
        "    ptr = ptr >>> 0;\n    return getUint8ArrayMemory0().subarray(ptr / 1, ptr / 1 + len);",
        "    ptr = ptr >>> 0;\n    return getUint8ArrayMemory0().subarray(ptr, ptr + len);",
    ),
];

/// The glue's `__wbg_init` as wasm-bindgen 0.2.130 writes it with
/// `--omit-default-module-path`: one call made once (later calls share it),
/// with the deprecated positional argument, a URL, a string or a `Request`
/// for the module besides the `{ module_or_path }` object.
const GLUE_INIT: &str = "let __wbg_init_promise;
async function __wbg_init(module_or_path) {
    if (wasm !== undefined) return wasm;
    if (__wbg_init_promise === undefined) {
        __wbg_init_promise = __wbg_init_once(module_or_path);
        __wbg_init_promise.catch(() => { __wbg_init_promise = undefined; });
    }
    return __wbg_init_promise;
}

async function __wbg_init_once(module_or_path) {

    if (module_or_path !== undefined) {
        if (Object.getPrototypeOf(module_or_path) === Object.prototype) {
            ({module_or_path} = module_or_path)
        } else {
            console.warn('using deprecated parameters for the initialization function; pass a single object instead')
        }
    }


    const imports = __wbg_get_imports();

    if (typeof module_or_path === 'string' || (typeof Request === 'function' && module_or_path instanceof Request) || (typeof URL === 'function' && module_or_path instanceof URL)) {
        module_or_path = fetch(module_or_path);
    }

    const { instance, module } = await __wbg_load(await module_or_path, imports);

    return __wbg_finalize_init(instance, module);
}
";

/// `__wbg_init` for the one call the loader makes (`recorder/js/loader.js`):
/// once per page, with `{ module_or_path }` holding the promise of the wasm's
/// `Response`. What that call does is unchanged (`__wbg_load`, see
/// [`LOADER_LOAD`], keeps the fallback for a server that does not say
/// `application/wasm`); the shapes of the argument it never passes, their deprecation warning and
/// the promise a concurrent second call would share go (0.1 KB of gzip); a
/// call after the first finished still answers the same instance.
const LOADER_INIT: &str = "async function __wbg_init({ module_or_path }) {
    if (wasm !== undefined) return wasm;
    const imports = __wbg_get_imports();
    const { instance, module } = await __wbg_load(await module_or_path, imports);
    return __wbg_finalize_init(instance, module);
}
";

/// The glue with [`LOADER_INIT`] for wasm-bindgen's `__wbg_init`. An init
/// not written as expected is an error, as in [`shorten`].
pub fn loader_init(glue: &str) -> Result<String> {
    let found = glue.matches(GLUE_INIT).count();
    if found != 1 {
        bail!("expected the glue to hold wasm-bindgen's __wbg_init once, found it {found} times; did wasm-bindgen change?");
    }
    Ok(glue.replacen(GLUE_INIT, LOADER_INIT, 1))
}

/// The glue's `__wbg_load` as wasm-bindgen 0.2.130 writes it: a `Response`
/// compiled while it streams in, with a fallback for a server that does not
/// say `application/wasm`, and a branch for bytes or a compiled module.
const GLUE_LOAD: &str = r#"async function __wbg_load(module, imports) {
    if (typeof Response === 'function' && module instanceof Response) {
        if (!module.ok) {
            throw new Error(`failed to fetch Wasm: ${module.status} ${module.statusText} fetching '${module.url}'`);
        }

        if (typeof WebAssembly.instantiateStreaming === 'function') {
            try {
                return await WebAssembly.instantiateStreaming(module, imports);
            } catch (e) {
                const validResponse = expectedResponseType(module.type);

                if (validResponse && module.headers.get('Content-Type') !== 'application/wasm') {
                    console.warn("`WebAssembly.instantiateStreaming` failed because your server does not serve Wasm with `application/wasm` MIME type. Falling back to `WebAssembly.instantiate` which is slower. Original error:\n", e);

                } else { throw e; }
            }
        }

        const bytes = await module.arrayBuffer();
        return await WebAssembly.instantiate(bytes, imports);
    } else {
        const instance = await WebAssembly.instantiate(module, imports);

        if (instance instanceof WebAssembly.Instance) {
            return { instance, module };
        } else {
            return instance;
        }
    }

    function expectedResponseType(type) {
        switch (type) {
            case 'basic': case 'cors': case 'default': return true;
        }
        return false;
    }
}
"#;

/// `__wbg_load` for what the loader passes: always the `Response` of its own
/// `fetch` of the wasm. The same steps for it: a failed download is an
/// error (with its status and URL), the module is compiled while it streams
/// in, and a server that does not say `application/wasm` gets the slower
/// compile of the whole body with a warning (shorter than wasm-bindgen's).
/// The branch for bytes or a compiled module, which the loader never passes,
/// goes; so does the check of the response's type: an opaque response, which
/// the loader's `cors` fetch never gets, fails to compile instead of failing
/// to stream. Nor is `instantiateStreaming` looked for first: every engine
/// with the reference types the module needs has it (Chromium 61, Firefox
/// 58, Safari 15). (0.2 KB of gzip.)
const LOADER_LOAD: &str = r#"async function __wbg_load(module, imports) {
    if (!module.ok) throw new Error(`failed to fetch Wasm: ${module.status} ${module.url}`);
    try {
        return await WebAssembly.instantiateStreaming(module, imports);
    } catch (e) {
        if (module.headers.get('Content-Type') === 'application/wasm') throw e;
        console.warn('cotrail: the wasm is not served as application/wasm; compiling it the slower way', e);
    }
    return await WebAssembly.instantiate(await module.arrayBuffer(), imports);
}
"#;

/// The glue with [`LOADER_LOAD`] for wasm-bindgen's `__wbg_load`. A load not
/// written as expected is an error, as in [`loader_init`].
pub fn loader_load(glue: &str) -> Result<String> {
    let found = glue.matches(GLUE_LOAD).count();
    if found != 1 {
        bail!("expected the glue to hold wasm-bindgen's __wbg_load once, found it {found} times; did wasm-bindgen change?");
    }
    Ok(glue.replacen(GLUE_LOAD, LOADER_LOAD, 1))
}

/// The start of the glue's `passStringToWasm0` as wasm-bindgen 0.2.130
/// writes it: a branch for callers that pass no `realloc`, which encodes the
/// string into a buffer of its own and copies it.
const GLUE_PASS_STRING: &str = "function passStringToWasm0(arg, malloc, realloc) {
    if (realloc === undefined) {
        const buf = cachedTextEncoder.encode(arg);
        const ptr = malloc(buf.length, 1) >>> 0;
        getUint8ArrayMemory0().subarray(ptr, ptr + buf.length).set(buf);
        WASM_VECTOR_LEN = buf.length;
        return ptr;
    }

";

/// How the glue calls `passStringToWasm0`: always with `realloc`.
const GLUE_PASS_STRING_CALL: &str =
    "passStringToWasm0(ret, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc)";

/// The glue without the branch of `passStringToWasm0` for callers without
/// `realloc` ([`GLUE_PASS_STRING`]): its only callers pass one (checked:
/// every call is [`GLUE_PASS_STRING_CALL`]), so the branch never runs
/// (0.04 KB of gzip). Run before [`shorten`], which renames `wasm.`'s
/// exports. A function or a call not written as expected is an error, as in
/// [`loader_init`].
pub fn pass_string_with_realloc(glue: &str) -> Result<String> {
    let found = glue.matches(GLUE_PASS_STRING).count();
    if found != 1 {
        bail!("expected the glue to hold wasm-bindgen's passStringToWasm0 once, found it {found} times; did wasm-bindgen change?");
    }
    let uses = glue.matches("passStringToWasm0(").count();
    let with_realloc = glue.matches(GLUE_PASS_STRING_CALL).count();
    if uses != with_realloc + 1 {
        bail!("expected every call of passStringToWasm0 to pass realloc ({with_realloc} of {} do); did wasm-bindgen change?", uses - 1);
    }
    Ok(glue.replacen(
        GLUE_PASS_STRING,
        "function passStringToWasm0(arg, malloc, realloc) {\n",
        1,
    ))
}

/// The start and the end of the glue's import object as wasm-bindgen 0.2.130
/// writes it: each import a key at eight spaces, `name: function(…) {`, in
/// an object without a prototype, which the glue returns as the only key,
/// the import module's name, of another object without one.
const GLUE_IMPORTS_START: &str = "    const import0 = {\n        __proto__: null,\n";
const GLUE_IMPORTS_END: &str = "\n    };\n    return {\n        __proto__: null,\n";
/// `__proto__: null,` as the two objects hold it, at eight spaces.
const GLUE_NO_PROTOTYPE: &str = "        __proto__: null,\n";

/// The body of an `instanceof` import as wasm-bindgen 0.2.130 writes it,
/// before and after the class: a check that answers `false` where it throws
/// (a class the page deleted, a hostile `Symbol.hasInstance`).
const GLUE_INSTANCEOF_HEAD: &str =
    "            let result;\n            try {\n                result = arg0 instanceof ";
const GLUE_INSTANCEOF_TAIL: &str = ";\n            } catch (_) {\n                result = false;\n            }\n            const ret = result;\n            return ret;\n";

/// How an import that reports what it throws to the module starts and ends
/// as wasm-bindgen 0.2.130 writes it: its body in a function that
/// `handleError` calls with the import's `arguments`.
const GLUE_GUARDED_START: &str = ") { return handleError(function (";
const GLUE_GUARDED_END: &str = "        }, arguments); },";
/// wasm-bindgen 0.2.130's `handleError`: it calls the function it is given
/// and stores what it throws (in the module's table of JS values, for the
/// `Result` the import answers).
const GLUE_HANDLE_ERROR: &str = "function handleError(f, args) {
    try {
        return f.apply(this, args);
    } catch (e) {
        const idx = addToExternrefTable0(e);
        wasm.__wbindgen_exn_store(idx);
    }
}
";
/// `handleError` as the imports' `catch` calls it, with what was thrown.
const LOADER_HANDLE_ERROR: &str = "function handleError(e) {
    wasm.__wbindgen_exn_store(addToExternrefTable0(e));
}
";

/// The glue's import object made smaller, what the module calls unchanged:
///
/// - Its imports are methods (`name(…) {`) instead of keys holding function
///   expressions (`name: function(…) {`): the module only calls them, and a
///   method is called the same way, with the same `this` and `arguments`;
///   what it lacks, a `prototype` and being a constructor, nothing uses
///   (0.03 KB of gzip: oxc keeps the form it is given).
/// - It and the object around it are plain objects, without wasm-bindgen's
///   `__proto__: null`: instantiating reads only the module's key and each
///   import's, all of them own properties, which a prototype never shadows
///   (11 B of gzip).
/// - An `instanceof` import returns from its `try` and its `catch` instead
///   of through a variable: the same answer, `false` where the check throws
///   (10 B of gzip).
/// - An import that reports what it throws runs its body in a `try` of its
///   own, whose `catch` passes the exception to `handleError` to store,
///   instead of in a function that `handleError` applies to its
///   `arguments`: the same statements with the same arguments (the module
///   passes each import as many as it declares), `this` undefined in both
///   (the bodies do not read it), the same `undefined` answered after a
///   throw (19 B of gzip).
///
/// Run before [`shorten`], which renames the keys. A key at the import
/// object's indentation written otherwise, an `instanceof` import whose body
/// is not [`GLUE_INSTANCEOF_HEAD`] … [`GLUE_INSTANCEOF_TAIL`], a
/// `handleError` or an import calling it not written as expected (or another
/// caller of it), or an import object not written as expected, is an error,
/// as in [`loader_init`].
pub fn import_methods(glue: &str) -> Result<String> {
    let found = glue.matches(GLUE_IMPORTS_START).count();
    if found != 1 {
        bail!("expected the glue to hold wasm-bindgen's import object once, found it {found} times; did wasm-bindgen change?");
    }
    let glue = &instanceof_returns(glue)?;
    let start = glue.find(GLUE_IMPORTS_START).expect("counted") + GLUE_IMPORTS_START.len();
    let Some(len) = glue[start..].find(GLUE_IMPORTS_END) else {
        bail!("the glue's import object has no end written as expected; did wasm-bindgen change?");
    };
    let mut out = String::with_capacity(glue.len());
    out.push_str(&glue[..start - GLUE_NO_PROTOTYPE.len()]);
    let mut methods = 0;
    // Inside an import that calls through `handleError`, its name.
    let mut guarded: Option<&str> = None;
    let mut wrappers = 0;
    for line in glue[start..start + len].split_inclusive('\n') {
        let key = line
            .strip_prefix("        ")
            .filter(|rest| rest.bytes().next().is_some_and(is_ident_byte));
        let Some(key) = key else {
            let text = line.strip_suffix('\n');
            if guarded.is_some() && text.unwrap_or(line) == GLUE_GUARDED_END {
                out.push_str("        } catch (e) { handleError(e); } },");
                out.push_str(if text.is_some() { "\n" } else { "" });
                guarded = None;
                wrappers += 1;
                continue;
            }
            // Deeper lines (bodies) and closing braces.
            out.push_str(line);
            continue;
        };
        if let Some(name) = guarded {
            bail!("expected the glue's import {name:?} to end `}}, arguments); }},`; did wasm-bindgen change?");
        }
        let Some((name, rest)) = key.split_once(": function(") else {
            bail!("expected the glue's import {:?} to be written `name: function(`; did wasm-bindgen change?", line.trim());
        };
        if !name.bytes().all(is_ident_byte) {
            bail!("expected the glue's import {:?} to be written `name: function(`; did wasm-bindgen change?", line.trim());
        }
        out.push_str("        ");
        out.push_str(name);
        out.push('(');
        if let Some(args) = rest.strip_prefix(GLUE_GUARDED_START) {
            // `(arg0, arg1) {` and the body on the lines after it.
            let Some(args) = args.strip_suffix(") {\n") else {
                bail!("expected the glue's import {name:?} to be written `function (args) {{` inside handleError; did wasm-bindgen change?");
            };
            out.push_str(args);
            out.push_str(") { try {\n");
            guarded = Some(name);
        } else {
            out.push_str(rest);
        }
        methods += 1;
    }
    if methods == 0 {
        bail!("the glue's import object holds no import; did wasm-bindgen change?");
    }
    if let Some(name) = guarded {
        bail!("expected the glue's import {name:?} to end `}}, arguments); }},`; did wasm-bindgen change?");
    }
    out.push_str(&GLUE_IMPORTS_END[..GLUE_IMPORTS_END.len() - GLUE_NO_PROTOTYPE.len()]);
    out.push_str(&glue[start + len + GLUE_IMPORTS_END.len()..]);
    let found = out.matches(GLUE_HANDLE_ERROR).count();
    if found != 1 {
        bail!("expected the glue to hold wasm-bindgen's handleError once, found it {found} times; did wasm-bindgen change?");
    }
    let out = out.replacen(GLUE_HANDLE_ERROR, LOADER_HANDLE_ERROR, 1);
    // The definition and one call per import: no caller is left that passes
    // a function.
    let calls = out.matches("handleError(").count();
    if calls != wrappers + 1 {
        bail!("expected handleError to be called only by the {wrappers} imports written to call it, found {} calls; did wasm-bindgen change?", calls - 1);
    }
    Ok(out)
}

/// The `instanceof` imports of [`import_methods`] returning from their `try`
/// and `catch`; one written otherwise is an error.
fn instanceof_returns(glue: &str) -> Result<String> {
    let imports = glue.matches("        __wbg_instanceof_").count();
    let mut out = String::with_capacity(glue.len());
    let mut rest = glue;
    let mut found = 0;
    while let Some(at) = rest.find(GLUE_INSTANCEOF_HEAD) {
        let after = &rest[at + GLUE_INSTANCEOF_HEAD.len()..];
        let class_len = after
            .bytes()
            .take_while(|&b| is_ident_byte(b) || b == b'.')
            .count();
        let (class, tail) = after.split_at(class_len);
        let Some(tail) = tail.strip_prefix(GLUE_INSTANCEOF_TAIL) else {
            bail!("expected the glue's instanceof {class:?} to be written as wasm-bindgen 0.2.130 does; did wasm-bindgen change?");
        };
        out.push_str(&rest[..at]);
        out.push_str("            try {\n                return arg0 instanceof ");
        out.push_str(class);
        out.push_str(
            ";\n            } catch (_) {\n                return false;\n            }\n",
        );
        rest = tail;
        found += 1;
    }
    out.push_str(rest);
    if found != imports {
        bail!("expected each of the glue's {imports} instanceof imports to be written as wasm-bindgen 0.2.130 does, found {found}; did wasm-bindgen change?");
    }
    Ok(out)
}

/// The glue's registry of closures handed to JS as wasm-bindgen 0.2.130
/// writes it: a do-nothing stand-in where `FinalizationRegistry` is missing.
const GLUE_CLOSURE_DTORS: &str =
    "const CLOSURE_DTORS = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(";

/// The glue's closure registry without its stand-in for engines without
/// `FinalizationRegistry`: the module needs reference types (Chromium 96,
/// Firefox 79, Safari 15), and every engine that has them has the registry
/// (Chromium 84, Firefox 79, Safari 14.1), so the stand-in never runs (0.02
/// KB of gzip). A registry not written as expected is an error, as in
/// [`loader_init`].
pub fn closure_registry(glue: &str) -> Result<String> {
    let found = glue.matches(GLUE_CLOSURE_DTORS).count();
    if found != 1 {
        bail!("expected the glue to hold wasm-bindgen's CLOSURE_DTORS once, found it {found} times; did wasm-bindgen change?");
    }
    Ok(glue.replacen(
        GLUE_CLOSURE_DTORS,
        "const CLOSURE_DTORS = new FinalizationRegistry(",
        1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_distinct_identifiers() {
        let names: Vec<String> = (0..3000).map(short_name).collect();
        assert_eq!(&names[..3], ["a", "b", "c"]);
        assert_eq!(names[52], "aa");
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        assert!(names
            .iter()
            .all(|n| n.bytes().all(|b| b.is_ascii_alphabetic())));
    }

    #[test]
    fn only_whole_identifiers_are_replaced() {
        let js = "wasm.stop(); wasm.stopped(); xwasm.stop(); wasm.stop";
        let (out, n) = replace_ident(js, "wasm.", "stop", "a");
        assert_eq!(out, "wasm.a(); wasm.stopped(); xwasm.stop(); wasm.a");
        assert_eq!(n, 2);
        let (out, n) = replace_ident(
            "__wbg_f_1: function() {}, __wbg_f_12: 1",
            "",
            "__wbg_f_1",
            "b",
        );
        assert_eq!(out, "b: function() {}, __wbg_f_12: 1");
        assert_eq!(n, 1);
    }

    /// A module as wasm-bindgen writes one: `imports` as `(module, name)`
    /// functions, one function of its own exported under each of `exports`.
    fn module(imports: &[(&str, &str)], exports: &[&str]) -> Vec<u8> {
        use wasm_encoder::*;
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        m.section(&types);
        let mut section = ImportSection::new();
        for (module, name) in imports {
            section.import(module, name, EntityType::Function(0));
        }
        m.section(&section);
        let mut funcs = FunctionSection::new();
        funcs.function(0);
        m.section(&funcs);
        let own = imports.len() as u32;
        let mut section = ExportSection::new();
        for name in exports {
            section.export(name, ExportKind::Func, own);
        }
        m.section(&section);
        let mut code = CodeSection::new();
        let mut f = Function::new([]);
        f.instruction(&Instruction::Call(0));
        f.instruction(&Instruction::End);
        code.function(&f);
        m.section(&code);
        m.finish()
    }

    /// Two imports from the glue, one from elsewhere, two exports (one the glue
    /// calls, the other dropped): the result must validate and agree with the
    /// glue.
    #[test]
    fn module_and_glue_are_renamed_together() {
        let wasm = module(
            &[
                (GLUE_MODULE, "__wbg_now_043d245551b22f9c"),
                (GLUE_MODULE, "__wbg_warn_228ff2257384d295"),
                ("env", "other"),
            ],
            &["start", "unused_by_glue"],
        );
        let glue = "export function start() { wasm.start(); }\nfunction __wbg_get_imports() {\nconst import0 = {\n__wbg_now_043d245551b22f9c: function() { return Date.now(); },\n__wbg_warn_228ff2257384d295: function() {},\n};\nreturn {\n\"./cotrail_recorder_bg.js\": import0,\n};\n}\n";
        let (out, js) = shorten(&wasm, glue).unwrap();
        assert_eq!(
            js,
            "export function start() { wasm.c(); }\nfunction __wbg_get_imports() {\nconst import0 = {\na: function() { return Date.now(); },\nb: function() {},\n};\nreturn {\n\"w\": import0,\n};\n}\n"
        );
        let mut seen = Vec::new();
        for p in Parser::new(0).parse_all(&out) {
            match p.unwrap() {
                Payload::ImportSection(r) => {
                    for i in r.into_imports() {
                        let i = i.unwrap();
                        seen.push(format!("import {} {}", i.module, i.name));
                    }
                }
                Payload::ExportSection(r) => {
                    for e in r {
                        seen.push(format!("export {}", e.unwrap().name));
                    }
                }
                _ => {}
            }
        }
        assert_eq!(
            seen,
            ["import w a", "import w b", "import env other", "export c",]
        );
    }

    #[test]
    fn an_export_the_glue_names_other_than_through_wasm_is_an_error() {
        let wasm = module(&[], &["start", "unused_by_glue"]);
        let glue = "export function start() { wasm.start(); }\nconst f = wasm['unused_by_glue'];\nconst import0 = {};\nreturn { \"./cotrail_recorder_bg.js\": import0 };\n";
        let err = shorten(&wasm, glue).unwrap_err();
        assert!(err.to_string().contains("unused_by_glue"), "{err}");
    }

    #[test]
    fn an_import_the_glue_does_not_name_exactly_once_is_an_error() {
        let wasm = module(&[(GLUE_MODULE, "__wbg_gone_0123456789abcdef")], &[]);
        let err = shorten(&wasm, "const import0 = {};\n").unwrap_err();
        assert!(
            err.to_string().contains("__wbg_gone_0123456789abcdef"),
            "{err}"
        );
        // Named besides its key: renaming it would touch that other use too.
        let twice =
            "const import0 = { __wbg_gone_0123456789abcdef: f };\n__wbg_gone_0123456789abcdef();\n";
        let err = shorten(&wasm, twice).unwrap_err();
        assert!(err.to_string().contains("2 times"), "{err}");
    }

    /// What [`function_body`] rewrites on the way, as wasm-bindgen writes it
    /// and as the body holds it then.
    fn rewritten() -> (String, String) {
        let mut from = String::new();
        let mut to = String::new();
        for (f, t) in GLUE_REWRITES {
            from.push_str(f);
            from.push('\n');
            to.push_str(t);
            to.push('\n');
        }
        (from, to)
    }

    #[test]
    fn the_glue_becomes_a_function_body_that_returns_its_exports() {
        let (from, to) = rewritten();
        let glue = format!(
            "let wasm;\n{from}export function start(config) {{\n    wasm.a(config);\n}}\n\
             function initSync(m) {{}}\nasync function __wbg_init(m) {{}}\n\
             export function stop() {{\n    wasm.b();\n}}\n\
             export {{ initSync, __wbg_init as default }};\n"
        );
        let out = function_body(&glue).unwrap();
        assert_eq!(
            out,
            format!(
                "let wasm;\n{to}function start(config) {{\n    wasm.a(config);\n}}\n\
                 function initSync(m) {{}}\nasync function __wbg_init(m) {{}}\n\
                 function stop() {{\n    wasm.b();\n}}\n\
                 return {{ init: __wbg_init, start, stop }};\n"
            )
        );
        let err = function_body("export { __wbg_init as default, initSync };").unwrap_err();
        assert!(err.to_string().contains("0 times"), "{err}");
        let err =
            function_body(&format!("export const x = 1;\n{from}{GLUE_EXPORTS}\n")).unwrap_err();
        assert!(err.to_string().contains("`export `"), "{err}");
        let err = function_body(&format!(
            "new URL('x', import.meta.url);\n{from}{GLUE_EXPORTS}\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("import.meta"), "{err}");
        // A rewrite's text missing, or twice.
        let err = function_body(&format!(
            "{}{GLUE_EXPORTS}\n",
            from.replace("ptr / 1", "ptr")
        ))
        .unwrap_err();
        assert!(err.to_string().contains("0 times"), "{err}");
        let err =
            function_body(&format!("{from}{}{GLUE_EXPORTS}\n", GLUE_REWRITES[0].0)).unwrap_err();
        assert!(err.to_string().contains("2 times"), "{err}");
    }

    #[test]
    fn the_init_is_the_loaders_and_an_unknown_shape_is_an_error() {
        let glue = format!("let wasm;\n{GLUE_INIT}\nexport {{ __wbg_init as default }};\n");
        let out = loader_init(&glue).unwrap();
        assert_eq!(
            out,
            format!("let wasm;\n{LOADER_INIT}\nexport {{ __wbg_init as default }};\n")
        );
        let err = loader_init("async function __wbg_init(m) {}").unwrap_err();
        assert!(err.to_string().contains("0 times"), "{err}");
    }

    #[test]
    fn strings_are_passed_with_realloc_and_an_unknown_shape_is_an_error() {
        let rest = "    let len = arg.length;\n}\n";
        let glue = format!("let a;\n{GLUE_PASS_STRING}{rest}var p = {GLUE_PASS_STRING_CALL};\n");
        let out = pass_string_with_realloc(&glue).unwrap();
        assert_eq!(
            out,
            format!("let a;\nfunction passStringToWasm0(arg, malloc, realloc) {{\n{rest}var p = {GLUE_PASS_STRING_CALL};\n")
        );
        // A call without realloc would need the branch.
        let err = pass_string_with_realloc(&format!(
            "{glue}var q = passStringToWasm0(ret, wasm.__wbindgen_malloc);\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("1 of 2"), "{err}");
        let err = pass_string_with_realloc("function passStringToWasm0(a, m, r) {}").unwrap_err();
        assert!(err.to_string().contains("0 times"), "{err}");
    }

    #[test]
    fn the_load_is_the_loaders_and_an_unknown_shape_is_an_error() {
        let glue = format!("let wasm;\n{GLUE_LOAD}\nfunction initSync(module) {{}}\n");
        let out = loader_load(&glue).unwrap();
        assert_eq!(
            out,
            format!("let wasm;\n{LOADER_LOAD}\nfunction initSync(module) {{}}\n")
        );
        let err = loader_load("async function __wbg_load(m, i) {}").unwrap_err();
        assert!(err.to_string().contains("0 times"), "{err}");
    }

    #[test]
    fn imports_become_methods_and_an_unknown_shape_is_an_error() {
        let glue = format!("function __wbg_get_imports() {{\n{GLUE_IMPORTS_START}        __wbg_a_1: function(arg0) {{\n            const ret = {{ b: function() {{}} }};\n            return ret;\n        }},\n        __wbg_c_2: function() {{ return handleError(function () {{\n        }}, arguments); }},{GLUE_IMPORTS_END}        x: import0,\n    }};\n}}\n");
        let glue = format!("{GLUE_HANDLE_ERROR}{glue}");
        let out = import_methods(&glue).unwrap();
        // Without `__proto__: null` in either object, and an import calling
        // through handleError with a try of its own.
        assert_eq!(
            out,
            format!("{LOADER_HANDLE_ERROR}function __wbg_get_imports() {{\n    const import0 = {{\n        __wbg_a_1(arg0) {{\n            const ret = {{ b: function() {{}} }};\n            return ret;\n        }},\n        __wbg_c_2() {{ try {{\n        }} catch (e) {{ handleError(e); }} }},\n    }};\n    return {{\n        x: import0,\n    }};\n}}\n")
        );
        let two = glue.replace(
            "__wbg_c_2: function() { return handleError(function () {\n",
            "__wbg_c_2: function() { return handleError(function (arg0, arg1) {\n            return arg0.call(arg1);\n",
        );
        let out = import_methods(&two).unwrap();
        assert!(out.contains("        __wbg_c_2(arg0, arg1) { try {\n            return arg0.call(arg1);\n        } catch (e) { handleError(e); } },\n"), "{out}");
        // handleError written otherwise, or called by anything else.
        let err = import_methods(&glue.replace("f.apply(this, args)", "f(...args)")).unwrap_err();
        assert!(err.to_string().contains("0 times"), "{err}");
        let err = import_methods(&format!("{glue}handleError(g, []);\n")).unwrap_err();
        assert!(err.to_string().contains("2 calls"), "{err}");
        // A wrapper that does not end as expected.
        let err = import_methods(&glue.replace("        }, arguments); },", "        }, [1]); },"))
            .unwrap_err();
        assert!(err.to_string().contains("__wbg_c_2"), "{err}");
        // An instanceof import returns from its try and catch.
        let check = format!("        __wbg_instanceof_Node_3: function(arg0) {{\n{GLUE_INSTANCEOF_HEAD}Node{GLUE_INSTANCEOF_TAIL}        }},\n");
        let with = glue.replace("        __wbg_c_2", &format!("{check}        __wbg_c_2"));
        let out = import_methods(&with).unwrap();
        assert!(out.contains("        __wbg_instanceof_Node_3(arg0) {\n            try {\n                return arg0 instanceof Node;\n            } catch (_) {\n                return false;\n            }\n        },\n"), "{out}");
        // One written otherwise.
        let other = with.replace("result = false", "result = null");
        let err = import_methods(&other).unwrap_err();
        assert!(err.to_string().contains("\"Node\""), "{err}");
        let other = with.replace("let result;", "let r;");
        let err = import_methods(&other).unwrap_err();
        assert!(err.to_string().contains("found 0"), "{err}");
        // A key holding anything but a function expression.
        let other = glue.replace("__wbg_c_2: function()", "__wbg_c_2: () =>");
        let err = import_methods(&other).unwrap_err();
        assert!(err.to_string().contains("__wbg_c_2"), "{err}");
        let err = import_methods("const import0 = {};").unwrap_err();
        assert!(err.to_string().contains("0 times"), "{err}");
        let empty = format!("{GLUE_IMPORTS_START}{GLUE_IMPORTS_END}");
        assert!(import_methods(&empty).is_err());
    }

    #[test]
    fn the_closure_registry_is_always_made_and_an_unknown_shape_is_an_error() {
        let rest = "state => wasm.__wbindgen_destroy_closure(state.a, state.b));\n";
        let glue = format!("let a;\n{GLUE_CLOSURE_DTORS}{rest}");
        let out = closure_registry(&glue).unwrap();
        assert_eq!(
            out,
            format!("let a;\nconst CLOSURE_DTORS = new FinalizationRegistry({rest}")
        );
        let err =
            closure_registry("const CLOSURE_DTORS = new FinalizationRegistry(f);").unwrap_err();
        assert!(err.to_string().contains("0 times"), "{err}");
    }
}
