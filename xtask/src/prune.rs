//! Empties the functions of the wasm module that nothing can call.
//!
//! Rust's linker keeps every function whose address was taken in the module's
//! function table, and wasm-bindgen takes the address of a closure shim for
//! every closure type js-sys and web-sys describe. The CLI runs those
//! descriptions and deletes them, but it keeps the table whole, so the shims
//! stayed in what every page downloads: 45 dead functions, 3.0 KB of the
//! module (0.44 KB gzipped), when the recorder uses 5 closure types.
//! `wasm-opt` keeps them too.
//!
//! A function is kept when it can be reached, through `call`, `return_call`
//! and `ref.func`, from an export, the start function, or a table slot the
//! module could use. A slot counts as used when its index appears as an
//! `i32.const` anywhere in the code or a global's initial value, or as a
//! 32-bit little-endian word at any byte offset of any data segment (vtables
//! and function pointers in statics are such words). That over-approximates
//! (a length that happens to equal a slot keeps it), with one exception that
//! needs the name section: a closure shim (`wasm_bindgen::convert::closures::
//! …::invoke`) that is not exported, see [`closure_shim`]. Every other function
//! gets the body `unreachable`; indices, types and the table stay as they are,
//! so nothing that refers to a function changes. Custom sections are dropped:
//! the name section (wasm-bindgen runs without `--remove-name-section` so that
//! it is here to read) and `target_features`, which only wasm-bindgen reads;
//! a browser ignores them all. A module this analysis cannot read with
//! confidence (a table that is imported or exported, an element segment at a
//! computed offset or not in table 0, passive or declared element segments)
//! keeps all its functions; one without a name section keeps its closure shims.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use wasmparser::{
    ConstExpr, ElementItems, ElementKind, ExternalKind, KnownCustom, Name, Operator, Parser,
    Payload, TypeRef,
};

/// What pruning did, for the build's log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Functions defined in the module.
    pub functions: usize,
    /// Of those, emptied.
    pub emptied: usize,
}

/// The `i32.const` of a constant expression, if that is all it is.
fn const_i32(expr: &ConstExpr<'_>) -> Option<i32> {
    let mut ops = expr.get_operators_reader();
    match (ops.read().ok()?, ops.read().ok()?) {
        (Operator::I32Const { value }, Operator::End) => Some(value),
        _ => None,
    }
}

/// The module's functions, as far as pruning needs them.
#[derive(Default)]
struct Module<'a> {
    imported_funcs: u32,
    /// Each defined function's body (with its locals), in index order.
    bodies: Vec<wasmparser::FunctionBody<'a>>,
    roots: Vec<u32>,
    /// The name section's function names (wasm-bindgen's output keeps them).
    names: HashMap<u32, &'a str>,
    /// Function index in each slot of table 0.
    slots: Vec<(u32, u32)>,
    /// Every value that could be a table slot's index.
    constants: HashSet<u32>,
    /// Something the analysis does not model: keep everything.
    unsure: bool,
}

fn read(wasm: &[u8]) -> Result<Module<'_>> {
    let mut m = Module::default();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.context("parsing the recorder's wasm")? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    match import?.ty {
                        TypeRef::Func(_) => m.imported_funcs += 1,
                        TypeRef::Table(_) => m.unsure = true,
                        _ => {}
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    match export.kind {
                        ExternalKind::Func => m.roots.push(export.index),
                        // Only table 0 holds functions; a page could call through it.
                        ExternalKind::Table if export.index == 0 => m.unsure = true,
                        _ => {}
                    }
                }
            }
            Payload::StartSection { func, .. } => m.roots.push(func),
            Payload::CustomSection(reader) => {
                if let KnownCustom::Name(names) = reader.as_known() {
                    for name in names {
                        if let Name::Function(map) = name? {
                            for naming in map {
                                let naming = naming?;
                                m.names.insert(naming.index, naming.name);
                            }
                        }
                    }
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader {
                    if let Some(v) = const_i32(&global?.init_expr) {
                        m.constants.insert(v as u32);
                    }
                }
            }
            Payload::ElementSection(reader) => {
                for element in reader {
                    let element = element?;
                    let base = match element.kind {
                        ElementKind::Active {
                            table_index: None | Some(0),
                            offset_expr,
                        } => const_i32(&offset_expr),
                        _ => None,
                    };
                    let (Some(base), ElementItems::Functions(funcs)) = (base, element.items) else {
                        m.unsure = true;
                        continue;
                    };
                    for (i, func) in funcs.into_iter().enumerate() {
                        m.slots.push((base as u32 + i as u32, func?));
                    }
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    // Every segment, active or passive, at every offset,
                    // aligned or not.
                    for w in data?.data.windows(4) {
                        m.constants
                            .insert(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut ops = body.get_operators_reader()?;
                while !ops.eof() {
                    if let Operator::I32Const { value } = ops.read()? {
                        m.constants.insert(value as u32);
                    }
                }
                m.bodies.push(body);
            }
            _ => {}
        }
    }
    Ok(m)
}

/// A closure's invoke shim that is not exported. wasm-bindgen's glue calls a
/// closure through its shim's export, and Rust code calls the closure itself
/// (through its vtable), never the shim: only the CLI's descriptions, which it
/// deletes, held the other shims' table slots.
fn closure_shim(m: &Module<'_>, func: u32) -> bool {
    !m.roots.contains(&func)
        && m.names.get(&func).is_some_and(|name| {
            name.starts_with("wasm_bindgen::convert::closures::") && name.contains("::invoke::")
        })
}

/// The functions reachable from the roots and the slots the module could use.
fn reachable(m: &Module<'_>) -> Result<Vec<bool>> {
    let total = m.imported_funcs as usize + m.bodies.len();
    let mut seen = vec![false; total];
    let mut stack: Vec<u32> = m.roots.clone();
    stack.extend(
        m.slots
            .iter()
            .filter(|(slot, func)| m.constants.contains(slot) && !closure_shim(m, *func))
            .map(|&(_, func)| func),
    );
    while let Some(f) = stack.pop() {
        let Some(s) = seen.get_mut(f as usize) else {
            anyhow::bail!("function index {f} is out of range");
        };
        if std::mem::replace(s, true) {
            continue;
        }
        let Some(body) = (f as usize)
            .checked_sub(m.imported_funcs as usize)
            .map(|i| &m.bodies[i])
        else {
            continue; // an import
        };
        let mut ops = body.get_operators_reader()?;
        while !ops.eof() {
            match ops.read()? {
                Operator::Call { function_index }
                | Operator::ReturnCall { function_index }
                | Operator::RefFunc { function_index } => stack.push(function_index),
                _ => {}
            }
        }
    }
    Ok(seen)
}

/// Empties the unreachable functions and drops the custom sections; see the
/// module docs.
pub fn prune(wasm: &[u8]) -> Result<(Vec<u8>, Pruned)> {
    let m = read(wasm)?;
    let mut pruned = Pruned {
        functions: m.bodies.len(),
        emptied: 0,
    };
    let seen = if m.unsure {
        vec![true; m.imported_funcs as usize + m.bodies.len()]
    } else {
        reachable(&m)?
    };
    let mut code = wasm_encoder::CodeSection::new();
    for (i, body) in m.bodies.iter().enumerate() {
        if seen[m.imported_funcs as usize + i] {
            let r = body.range();
            code.raw(&wasm[r.start as usize..r.end as usize]);
        } else {
            let mut f = wasm_encoder::Function::new([]);
            f.instruction(&wasm_encoder::Instruction::Unreachable);
            f.instruction(&wasm_encoder::Instruction::End);
            code.function(&f);
            pruned.emptied += 1;
        }
    }
    // Every section copied byte for byte, but the code and custom sections.
    let mut module = wasm_encoder::Module::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::Version { .. } | Payload::End(_) | Payload::CodeSectionEntry(_) => {}
            Payload::CodeSectionStart { .. } => {
                module.section(&code);
            }
            Payload::CustomSection(_) => {}
            other => {
                let Some((id, range)) = other.as_section() else {
                    anyhow::bail!("unexpected wasm payload without a section");
                };
                module.section(&wasm_encoder::RawSection {
                    id,
                    data: &wasm[range.start as usize..range.end as usize],
                });
            }
        }
    }
    let out = module.finish();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&out)
        .context("the pruned wasm does not validate")?;
    Ok((out, pruned))
}

#[cfg(test)]
mod tests {
    use super::{prune, Pruned};
    use wasm_encoder::*;
    use wasmparser::{Operator, Parser, Payload};

    const SHIM: &str = "wasm_bindgen::convert::closures::_::invoke::h0123456789abcdef";

    /// Five functions: 0 exported, calling 1 and holding the constant 3; 2, 3
    /// and 4 in table slots 1, 2 and 3. The data holds the word 1 (slot 1's
    /// index); nothing holds 2; 4 is named as a closure shim.
    fn module(export_table: bool, export_shim: bool) -> Vec<u8> {
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        m.section(&types);
        let mut funcs = FunctionSection::new();
        for _ in 0..5 {
            funcs.function(0);
        }
        m.section(&funcs);
        let mut tables = TableSection::new();
        tables.table(TableType {
            element_type: RefType::FUNCREF,
            table64: false,
            minimum: 4,
            maximum: None,
            shared: false,
        });
        m.section(&tables);
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        m.section(&memories);
        let mut exports = ExportSection::new();
        exports.export("e", ExportKind::Func, 0);
        if export_table {
            exports.export("t", ExportKind::Table, 0);
        }
        if export_shim {
            exports.export("s", ExportKind::Func, 4);
        }
        m.section(&exports);
        let mut elements = ElementSection::new();
        elements.active(
            Some(0),
            &ConstExpr::i32_const(1),
            Elements::Functions([2, 3, 4][..].into()),
        );
        m.section(&elements);
        let mut code = CodeSection::new();
        let mut f = Function::new([]);
        f.instruction(&Instruction::Call(1));
        f.instruction(&Instruction::I32Const(3));
        f.instruction(&Instruction::Drop);
        f.instruction(&Instruction::End);
        code.function(&f);
        for _ in 1..5 {
            let mut f = Function::new([]);
            f.instruction(&Instruction::Nop);
            f.instruction(&Instruction::End);
            code.function(&f);
        }
        m.section(&code);
        let mut data = DataSection::new();
        data.active(0, &ConstExpr::i32_const(0), [9u8, 1, 0, 0, 0]);
        m.section(&data);
        let mut names = NameSection::new();
        let mut map = NameMap::new();
        map.append(0, "exported");
        map.append(4, SHIM);
        names.functions(&map);
        m.section(&names);
        m.section(&CustomSection {
            name: "target_features".into(),
            data: b"\x01+\x0bbulk-memory"[..].into(),
        });
        m.finish()
    }

    /// Which defined functions have the body `unreachable`, and the custom
    /// sections left.
    fn emptied(wasm: &[u8]) -> (Vec<bool>, Vec<String>) {
        let mut out = Vec::new();
        let mut custom = Vec::new();
        for p in Parser::new(0).parse_all(wasm) {
            match p.unwrap() {
                Payload::CodeSectionEntry(body) => {
                    let mut ops = body.get_operators_reader().unwrap();
                    out.push(matches!(ops.read().unwrap(), Operator::Unreachable));
                }
                Payload::CustomSection(c) => custom.push(c.name().to_owned()),
                _ => {}
            }
        }
        (out, custom)
    }

    #[test]
    fn functions_nothing_can_reach_are_emptied_and_custom_sections_dropped() {
        let (out, pruned) = prune(&module(false, false)).unwrap();
        assert_eq!(
            pruned,
            Pruned {
                functions: 5,
                emptied: 2
            }
        );
        let (emptied, custom) = emptied(&out);
        // Kept: the export, what it calls, the slot the data names. Emptied: the
        // slot nothing names, and the closure shim although code holds its slot.
        assert_eq!(emptied, [false, false, false, true, true]);
        assert!(custom.is_empty(), "{custom:?}");
    }

    #[test]
    fn a_module_whose_table_the_page_can_reach_is_kept_whole() {
        let (out, pruned) = prune(&module(true, false)).unwrap();
        assert_eq!(pruned.emptied, 0);
        assert_eq!(emptied(&out).0, [false; 5]);
    }

    #[test]
    fn a_shim_the_glue_calls_is_kept() {
        let (out, pruned) = prune(&module(false, true)).unwrap();
        assert_eq!(pruned.emptied, 1);
        assert_eq!(emptied(&out).0, [false, false, false, true, false]);
    }
}
