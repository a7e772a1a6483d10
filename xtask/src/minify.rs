//! Minifies the bundle's JavaScript (the loader and the wasm-bindgen glue) with
//! oxc, the minifier Rolldown and Vite ship: comments and whitespace go, locals
//! get one-letter names, and expressions are folded. Exported names and object
//! keys are left alone, so what the loader calls and what the wasm module
//! imports keep their names. For the bundle this was about 1.4 KB of gzip
//! (glue 3,831 -> 2,892 B, loader 1,566 -> 1,075 B) when it was added.
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

/// Whether the file is an ES module (the glue) or a classic script (the loader).
#[derive(Clone, Copy)]
pub enum Kind {
    Module,
    Script,
}

/// `js` minified; a file oxc cannot parse is an error naming `what`.
pub fn minify(js: &str, kind: Kind, what: &str) -> Result<String> {
    let allocator = Allocator::default();
    let source_type = match kind {
        Kind::Module => SourceType::mjs(),
        Kind::Script => SourceType::cjs(),
    };
    let parsed = Parser::new(&allocator, js, source_type).parse();
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
    fn comments_and_whitespace_go_exports_and_keys_stay() {
        let js = "/** Doc. */\nexport function start(config) {\n    // note\n    const result = wasm.aJ(config);\n    return result;\n}\nconst imports = { __proto__: null, aa: function(arg0) { return arg0 + 1; } };\nexport function get() { return imports; }\nconst unused = 1;\n";
        let out = minify(js, Kind::Module, "a test module").unwrap();
        assert!(out.len() < js.len() * 2 / 3, "{out}");
        assert!(!out.contains("Doc.") && !out.contains("note"), "{out}");
        assert!(out.contains("export function start("), "{out}");
        assert!(out.contains("wasm.aJ(") && out.contains("aa:"), "{out}");
        assert!(out.contains("__proto__:null"), "{out}");
        assert!(!out.contains("result") && !out.contains("arg0"), "{out}");
        assert!(!out.contains("unused"), "dead code goes: {out}");
    }

    #[test]
    fn a_script_keeps_its_top_level_and_strict_iife() {
        let js = "(function () {\n  'use strict';\n  var w = window;\n  w.cotrail = { stop: function () { return 1; } };\n})();\n";
        let out = minify(js, Kind::Script, "a test script").unwrap();
        assert!(out.contains("\"use strict\""), "{out}");
        assert!(out.contains("cotrail") && out.contains("stop"), "{out}");
    }

    #[test]
    fn what_does_not_parse_is_an_error() {
        let err = minify("function (", Kind::Script, "the loader").unwrap_err();
        assert!(
            err.to_string().contains("cannot minify the loader"),
            "{err}"
        );
    }
}
