//! Binaryen's `wasm-opt -Oz` over the finished module (after wasm-bindgen,
//! `shorten.rs` and `prune.rs`): rustc's LLVM optimises each function for
//! size, Binaryen then folds, merges and re-lays out what is left across the
//! whole module (about 5 KB raw, 0.6 KB gzipped off the recorder).
//!
//! Binaryen comes from npm (the `binaryen` package: the tools compiled to
//! wasm, run by Node), pinned, installed once into the target directory. Not
//! Debian's binaryen (108 rewrote the export of the externref table, so the
//! module no longer instantiated) nor the `wasm-opt` crate (it compiles
//! Binaryen's C++, about 15 minutes on two cores).
//!
//! The module's imports and exports are the glue's contract: the build fails
//! if Binaryen changes any of them ([`interface`]).

use std::path::Path;
use std::process::Command;

use anyhow::{ensure, Context, Result};
use wasmparser::{Parser, Payload};

/// The `binaryen` npm package's version.
const BINARYEN: &str = "132.0.0";

/// What the module may use, said explicitly: `prune.rs` drops the
/// `target_features` section Binaryen would read them from. These are what
/// rustc's wasm32 target enables (Chromium, Firefox and Safari run them all);
/// Binaryen adds no other.
const FEATURES: [&str; 8] = [
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-bulk-memory",
    "--enable-bulk-memory-opt",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
    "--enable-call-indirect-overlong",
];

/// What `wasm-opt` runs, measured on the recorder (gzip -9 of the wasm):
/// `-Oz --converge` (-0.6 KB); first flattening the code and rebuilding its
/// control flow with the Relooper (`--flatten --rereloop`), whose structure
/// `-Oz` then shrinks further (-0.2 KB); and `--low-memory-unused` (-0.1 KB),
/// which lets it fold `pointer + constant` into a load's offset: true of
/// Rust's wasm32 layout, where the stack sits first and grows down from its
/// size (960 KiB, `recorder/bundle/build.rs`), so the first kilobyte is
/// touched only by a stack that deep.
/// The flattening runs twice, each time after an `-Oz` (Zopfli -120 B
/// against once without the first `-Oz`; a third round gave back 30 B;
/// re-measured at 33,894 B: once +38 B, three times +38 B, never +329 B).
/// `--monomorphize` (Zopfli -133 B; +90 B without it at 33,894 B) gives
/// calls with constant arguments a copy of the function optimised for them
/// where Binaryen finds the copy does less; here the module also comes out
/// smaller. A function called from one place is inlined only up to 25 of
/// Binaryen's size units instead of whatever its size (-144 B; 15, 20, 35
/// and 50 measured between -103 and -73 B; at 33,894 B, 15, 20, 30 and 40
/// between +-0 and +107 B against 25, and with the next flag 15 to 35
/// between -13 and +87 B over two builds), and a function of up to 4 units is inlined
/// wherever it is called, not only up to Binaryen's 2 (-35 B at 33,832 B:
/// 3 -21 B, 5 -29 B, 6 +459 B; raw +0.1 KB). Binaryen's memory packing is
/// skipped: it split the data around every run of zeros into 131 segments,
/// each with a header of its own, where two segments with their zeros
/// compress better (raw +0.7 KB, gzip -219 B; Zopfli -222 B at 33,894 B).
/// So is its local CSE, which moves an expression computed twice into a
/// local: gzip encodes the repeat more cheaply than the local's `local.tee`
/// and `local.get` (raw +484 B, gzip -67 B; Zopfli -154 B at 33,894 B); and
/// `simplify-locals` (the `simplify-locals-nostructure` that `-Oz` runs
/// earlier still runs), for the same reason (raw +182 B, gzip -72 B;
/// Zopfli -93 B at 33,894 B). Skipping 25 other passes of `-Oz`, one at a
/// time, came out larger or within 10 B.
/// Appended one at a time at 33,894 B, the same bytes or within 10 B:
/// `--zero-filled-memory`, `--reorder-locals`, `--reorder-globals`,
/// `--merge-locals`, `--coalesce-locals-learning`,
/// `--inline-functions-with-loops`, `--dae2`,
/// `--simplify-globals-optimizing`, `--once-reduction`,
/// `--pick-load-signs`, `--licm`, `--optimize-added-constants-propagate`,
/// `--propagate-globals-globally`, `--tuple-optimization`,
/// `--avoid-reinterprets`, `--code-folding`, `--simplify-locals-nonesting`,
/// `--duplicate-function-elimination` (also first), a last `-Oz` after
/// `--monomorphize`, `--merge-similar-functions` after the first `-Oz`;
/// larger: `-Os` for the first or every `-Oz` (+11, +13 B; the last: +-0),
/// `--inline-max-combined-binary-size=200` (+106 B), `--ssa` (+5 KB),
/// `--monomorphize-always` (+51 KB); `--constraint-analysis` aborts.
/// Not taken: `--traps-never-happen` (-0.2 KB), which would let a panic's
/// check go and the code behind it run on, where the recorder traps;
/// `--reorder-functions` (raw -1.4 KB, Zopfli +0.2 KB: callers no longer
/// sit beside what they call); `-O3` or `-O4` before `-Oz` (+0.3 KB).
const PASSES: [&str; 15] = [
    "-Oz",
    "--flatten",
    "--rereloop",
    "-Oz",
    "--flatten",
    "--rereloop",
    "-Oz",
    "--converge",
    "--low-memory-unused",
    "--monomorphize",
    "--one-caller-inline-max-function-size=25",
    "--always-inline-max-function-size=4",
    "--skip-pass=memory-packing",
    "--skip-pass=local-cse",
    "--skip-pass=simplify-locals",
];

/// The module, optimised by `wasm-opt` (see [`PASSES`]).
pub fn optimize(target_dir: &Path, module: &[u8]) -> Result<Vec<u8>> {
    let wasm_opt = ensure_binaryen(target_dir)?;
    let dir = target_dir.join("tools");
    let (input, output) = (dir.join("before-opt.wasm"), dir.join("after-opt.wasm"));
    std::fs::write(&input, module).context("writing the module for wasm-opt")?;
    crate::run(
        Command::new("node")
            .arg(&wasm_opt)
            .arg(&input)
            .args(PASSES)
            .args(["--strip-debug", "--strip-producers"])
            .args(FEATURES)
            .arg("-o")
            .arg(&output),
    )?;
    let optimized = std::fs::read(&output).context("reading wasm-opt's module")?;
    let (before, after) = (interface(module)?, interface(&optimized)?);
    ensure!(
        before == after,
        "wasm-opt changed the module's imports or exports, which the glue names:\n before: {before:?}\n after:  {after:?}"
    );
    Ok(optimized)
}

/// Installs the pinned `binaryen` package (and Node) when missing; returns
/// its `wasm-opt` script.
fn ensure_binaryen(target_dir: &Path) -> Result<std::path::PathBuf> {
    let dir = target_dir.join("tools/binaryen");
    let package = dir.join("node_modules/binaryen");
    let manifest = std::fs::read_to_string(package.join("package.json")).unwrap_or_default();
    if !manifest.contains(&format!("\"version\": \"{BINARYEN}\"")) {
        crate::bench::ensure_node()?;
        std::fs::create_dir_all(&dir)?;
        crate::run(
            Command::new("npm")
                .arg("install")
                .arg("--prefix")
                .arg(&dir)
                .args(["--no-save", "--no-audit", "--no-fund", "--loglevel=error"])
                .arg(format!("binaryen@{BINARYEN}")),
        )?;
    }
    Ok(package.join("bin/wasm-opt"))
}

/// A module's imports (module, name, kind) and exports (name, kind; a
/// table's with its element type), in order.
pub fn interface(module: &[u8]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    // Every table's element type, imported ones first (the index space).
    let mut tables = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        match payload.context("reading the module")? {
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    let import = import?;
                    let kind = match import.ty {
                        wasmparser::TypeRef::Func(_) => "func".to_owned(),
                        wasmparser::TypeRef::Table(t) => {
                            tables.push(t.element_type);
                            format!("table {}", t.element_type)
                        }
                        wasmparser::TypeRef::Memory(_) => "memory".to_owned(),
                        wasmparser::TypeRef::Global(_) => "global".to_owned(),
                        other => format!("{other:?}"),
                    };
                    out.push(format!("import {} {} {kind}", import.module, import.name));
                }
            }
            Payload::TableSection(section) => {
                for table in section {
                    tables.push(table?.ty.element_type);
                }
            }
            Payload::ExportSection(exports) => {
                for export in exports {
                    let export = export?;
                    let mut line = format!("export {} {:?}", export.name, export.kind);
                    if export.kind == wasmparser::ExternalKind::Table {
                        let ty = tables
                            .get(export.index as usize)
                            .context("an export of no table")?;
                        line.push_str(&format!(" {ty}"));
                    }
                    out.push(line);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::interface;
    use wasm_encoder::{
        CodeSection, EntityType, ExportKind, ExportSection, Function, FunctionSection,
        ImportSection, Instruction, Module, RefType, TableSection, TableType, TypeSection,
    };

    /// A module importing one function, with an externref table (0) and a
    /// function table (1), exporting a function and, as `t`, table `table`.
    fn module(table: u32) -> Vec<u8> {
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        m.section(&types);
        let mut imports = ImportSection::new();
        imports.import("wbg", "a", EntityType::Function(0));
        m.section(&imports);
        let mut functions = FunctionSection::new();
        functions.function(0);
        m.section(&functions);
        let mut tables = TableSection::new();
        for element_type in [RefType::EXTERNREF, RefType::FUNCREF] {
            tables.table(TableType {
                element_type,
                minimum: 1,
                maximum: None,
                table64: false,
                shared: false,
            });
        }
        m.section(&tables);
        let mut exports = ExportSection::new();
        exports.export("f", ExportKind::Func, 1);
        exports.export("t", ExportKind::Table, table);
        m.section(&exports);
        let mut code = CodeSection::new();
        let mut f = Function::new([]);
        f.instruction(&Instruction::End);
        code.function(&f);
        m.section(&code);
        m.finish()
    }

    /// What the build compares before and after wasm-opt: every import and
    /// export with its kind, a table's with its element type, so that the
    /// externref table's export pointed at the function table (what Debian's
    /// binaryen 108 did) differs.
    #[test]
    fn the_interface_names_every_import_and_export_with_its_kind() {
        let kept = interface(&module(0)).unwrap();
        assert_eq!(
            kept,
            [
                "import wbg a func",
                "export f Func",
                "export t Table externref"
            ]
        );
        assert_ne!(interface(&module(1)).unwrap(), kept);
    }
}
