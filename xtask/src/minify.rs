//! Minifies the bundle's JavaScript (the loader, with the wasm-bindgen glue
//! inside) with oxc, the minifier Rolldown and Vite ship: comments and
//! whitespace go, locals get one-letter names, and expressions are folded.
//! Object keys are left alone, so what the loader calls and what the wasm
//! module imports keep their names. For the bundle this was about 1.4 KB of
//! gzip (glue 3,831 -> 2,892 B, loader 1,566 -> 1,075 B) when it was added.
//!
//! A build dependency of `xtask` only (about a minute to compile once); the
//! collector and the page never link it. The e2e suite runs the minified files
//! in Chromium.

use anyhow::{bail, Result};
use oxc::allocator::Allocator;
use oxc::codegen::{Codegen, CodegenOptions};
use oxc::minifier::{Minifier, MinifierOptions};
use oxc::parser::Parser;
use oxc::span::SourceType;

/// `js`, a classic script, minified; a file oxc cannot parse is an error
/// naming `what`.
pub fn minify(js: &str, what: &str) -> Result<String> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, js, SourceType::cjs()).parse();
    if parsed.panicked || !parsed.diagnostics.is_empty() {
        let first = parsed
            .diagnostics
            .first()
            .map(|d| d.to_string())
            .unwrap_or_default();
        bail!("cannot minify {what}: it does not parse ({first})");
    }
    let mut program = parsed.program;
    let minified = Minifier::new(MinifierOptions::default()).minify(&allocator, &mut program);
    Ok(Codegen::new()
        .with_options(CodegenOptions::minify())
        .with_scoping(minified.scoping)
        .build(&program)
        .code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_whitespace_go_keys_stay() {
        let js = "(function () {\n/** Doc. */\nfunction glue() {\nfunction start(config) {\n    // note\n    const result = wasm.aJ(config);\n    return result;\n}\nconst imports = { __proto__: null, aa: function(arg0) { return arg0 + 1; } };\nfunction get() { return imports; }\nconst unused = 1;\nreturn { start, get };\n}\nwindow.g = glue;\n})();\n";
        let out = minify(js, "a test script").unwrap();
        assert!(out.len() < js.len() * 2 / 3, "{out}");
        assert!(!out.contains("Doc.") && !out.contains("note"), "{out}");
        assert!(out.contains("start:") && out.contains("get:"), "{out}");
        assert!(out.contains("wasm.aJ(") && out.contains("aa:"), "{out}");
        assert!(out.contains("__proto__:null"), "{out}");
        assert!(!out.contains("result") && !out.contains("arg0"), "{out}");
        assert!(!out.contains("unused"), "dead code goes: {out}");
    }

    #[test]
    fn a_script_keeps_its_top_level_and_strict_iife() {
        let js = "(function () {\n  'use strict';\n  var w = window;\n  w.cotrail = { stop: function () { return 1; } };\n})();\n";
        let out = minify(js, "a test script").unwrap();
        assert!(out.contains("\"use strict\""), "{out}");
        assert!(out.contains("cotrail") && out.contains("stop"), "{out}");
    }

    #[test]
    fn what_does_not_parse_is_an_error() {
        let err = minify("function (", "the loader").unwrap_err();
        assert!(
            err.to_string().contains("cannot minify the loader"),
            "{err}"
        );
    }
}
