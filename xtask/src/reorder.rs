//! Orders the wasm module's functions for the compressor.
//!
//! Deflate (gzip) and brotli find repeats only within a window behind the
//! byte they encode (32 KB for gzip, about half the module's code), and a
//! repeat nearby costs fewer bits than one far back. `wasm-opt` leaves the
//! functions in the linker's order, which puts a function beside the ones
//! that happened to be next to it in the source, not beside the ones that
//! look like it. Here the functions are laid out greedily: after the first,
//! each next one is the function whose body shares the most 6-byte strings
//! with the last 2 KB already laid out. Nothing else changes: every body is
//! the same code, and only function indices are renumbered (calls,
//! `ref.func`, the table's element segments, exports, start).
//!
//! On the recorder (at 80e1c36) the wasm's Zopfli gzip went from 30,265 to
//! 30,039 B (-226 B; brotli -309 B), raw bytes about the same. Imported
//! functions keep their indices (the glue names imports, not indices), and
//! the result must validate.

use std::collections::HashSet;
use std::convert::Infallible;

use anyhow::{Context, Result};
use wasm_encoder::reencode::{Error, Reencode};
use wasmparser::{Parser, Payload, TypeRef};

/// The layouts tried: how far back (bytes) a candidate's strings are looked
/// for, and their length. Which one compresses best moves with every change
/// to the code (by 50-150 B between these), so the build tries each and
/// keeps the smallest. On the recorder, 256 B to 4 KB and strings of 4 to 8
/// bytes were measured; these were the best.
const LAYOUTS: [Layout; 6] = [
    (768, 6),
    (1024, 6),
    (1536, 6),
    (2048, 6),
    (1024, 5),
    (2048, 5),
];

/// A layout's window (bytes) and string length (see [`layout`]).
pub type Layout = (usize, usize);

/// The module with its defined functions in the order of the [`LAYOUTS`]
/// whose module `size` (a compressor's output length) finds smallest, and
/// that layout; the module as it is when none is smaller.
pub fn reorder(
    module: &[u8],
    size: impl Fn(&[u8]) -> Result<usize>,
) -> Result<(Vec<u8>, Option<Layout>)> {
    let mut imported = 0u32;
    let mut bodies: Vec<&[u8]> = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        match payload.context("reading the module to reorder")? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Func(_) = import?.ty {
                        imported += 1;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let r = body.range();
                bodies.push(&module[r.start as usize..r.end as usize]);
            }
            _ => {}
        }
    }
    let mut best = (size(module)?, module.to_vec(), None);
    for (window, gram) in LAYOUTS {
        let candidate = with_order(module, imported, layout(&bodies, window, gram))?;
        let n = size(&candidate)?;
        if n < best.0 {
            best = (n, candidate, Some((window, gram)));
        }
    }
    Ok((best.1, best.2))
}

/// `module` with its defined functions in `order` (new position -> old
/// index among the defined functions), validated.
fn with_order(module: &[u8], imported: u32, order: Vec<usize>) -> Result<Vec<u8>> {
    let mut position = vec![0u32; order.len()];
    for (new, &old) in order.iter().enumerate() {
        position[old] = new as u32;
    }
    let mut out = wasm_encoder::Module::new();
    Reorder {
        imported,
        order,
        position,
    }
    .parse_core_module(&mut out, Parser::new(0), module)
    .map_err(|e| anyhow::anyhow!("reordering the module's functions: {e}"))?;
    let out = out.finish();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&out)
        .context("the reordered module does not validate")?;
    Ok(out)
}

/// The order (indices into `bodies`) in which to lay the bodies out: the
/// first stays first; then, greedily, the body with the most `gram`-byte
/// strings in common with the last `window` bytes laid out (ties: the
/// earliest in the original order, so the result is deterministic).
pub fn layout(bodies: &[&[u8]], window: usize, gram: usize) -> Vec<usize> {
    let grams: Vec<HashSet<&[u8]>> = bodies.iter().map(|b| b.windows(gram).collect()).collect();
    let mut left: Vec<usize> = (0..bodies.len()).collect();
    let mut order = Vec::with_capacity(bodies.len());
    let mut tail: Vec<u8> = Vec::new();
    while !left.is_empty() {
        let near: HashSet<&[u8]> = tail[tail.len().saturating_sub(window)..]
            .windows(gram)
            .collect();
        let mut best = 0;
        let mut best_shared = None;
        for (i, &k) in left.iter().enumerate() {
            let shared = if order.is_empty() {
                // The first function stays first.
                usize::from(k == 0)
            } else {
                grams[k].iter().filter(|g| near.contains(*g)).count()
            };
            if best_shared.is_none_or(|b| shared > b) {
                best = i;
                best_shared = Some(shared);
            }
        }
        let k = left.remove(best);
        order.push(k);
        tail.extend_from_slice(bodies[k]);
        if tail.len() > 2 * window {
            tail.drain(..tail.len() - window);
        }
    }
    order
}

/// Re-encodes a module with its defined functions in `order`, renumbering
/// every reference to them.
struct Reorder {
    imported: u32,
    /// New position -> old index among the defined functions.
    order: Vec<usize>,
    /// Old index among the defined functions -> new position.
    position: Vec<u32>,
}

impl Reencode for Reorder {
    type Error = Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, Error<Infallible>> {
        Ok(match func.checked_sub(self.imported) {
            Some(defined) => self.imported + self.position[defined as usize],
            None => func,
        })
    }

    fn parse_function_section(
        &mut self,
        functions: &mut wasm_encoder::FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), Error<Infallible>> {
        let types = section.into_iter().collect::<Result<Vec<u32>, _>>()?;
        for old in self.order.clone() {
            let ty = self.type_index(types[old])?;
            functions.function(ty);
        }
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), Error<Infallible>> {
        let bodies = section.into_iter().collect::<Result<Vec<_>, _>>()?;
        for &old in &self.order.clone() {
            self.parse_function_body(code, bodies[old].clone())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, ConstExpr, ElementSection, Elements, EntityType, ExportKind, ExportSection,
        Function, FunctionSection, ImportSection, Instruction, Module, RefType, StartSection,
        TableSection, TableType, TypeSection,
    };
    use wasmparser::Operator;

    #[test]
    fn bodies_that_share_strings_are_laid_out_together() {
        let a: &[u8] = b"0123456789abcdefghij-first";
        let b: &[u8] = b"zyxwvutsrqponmlkjihg-other";
        let a2: &[u8] = b"0123456789abcdefghij-again";
        let b2: &[u8] = b"zyxwvutsrqponmlkjihg-twice";
        assert_eq!(layout(&[a, b, a2, b2], 1024, 6), vec![0, 2, 1, 3]);
        // Only the last `window` bytes count: with 6, `c`'s one string in
        // common with the end of `a` beats `a2`'s many with its start.
        let c: &[u8] = b"xy-first";
        assert_eq!(layout(&[a, a2, c], 1024, 6), vec![0, 1, 2]);
        assert_eq!(layout(&[a, a2, c], 6, 6), vec![0, 2, 1]);
        assert_eq!(layout(&[], 1024, 6), Vec::<usize>::new());
    }

    /// One import, then functions `i` (0-based among the defined) that
    /// return `100 + i`, and call the defined function `calls[i]` first when
    /// it is given; function 1 is exported as `f`, the start function is 2,
    /// and the table holds 0 and 3. With `pad`, even and odd functions each
    /// begin with the same long run of code, unlike the other's.
    fn module(calls: &[Option<u32>], pad: bool) -> Vec<u8> {
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], []);
        types.ty().function([], [wasm_encoder::ValType::I32]);
        m.section(&types);
        let mut imports = ImportSection::new();
        imports.import("env", "g", EntityType::Function(0));
        m.section(&imports);
        let mut funcs = FunctionSection::new();
        for (i, _) in calls.iter().enumerate() {
            funcs.function(if i == 2 { 0 } else { 1 });
        }
        m.section(&funcs);
        let mut table = TableSection::new();
        table.table(TableType {
            element_type: RefType::FUNCREF,
            table64: false,
            minimum: 2,
            maximum: None,
            shared: false,
        });
        m.section(&table);
        let mut exports = ExportSection::new();
        exports.export("f", ExportKind::Func, 2);
        m.section(&exports);
        m.section(&StartSection { function_index: 3 });
        let mut elements = ElementSection::new();
        elements.active(
            Some(0),
            &ConstExpr::i32_const(0),
            Elements::Functions([1, 4].as_slice().into()),
        );
        m.section(&elements);
        let mut code = CodeSection::new();
        for (i, call) in calls.iter().enumerate() {
            let mut f = Function::new([]);
            for k in (0..if pad { 40 } else { 0 }).map(|k| k * 2 + i as i64 % 2) {
                f.instruction(&Instruction::I64Const(k << 20));
                f.instruction(&Instruction::Drop);
            }
            f.instruction(&Instruction::Call(0));
            if let Some(callee) = call {
                f.instruction(&Instruction::Call(callee + 1));
                if *callee != 2 {
                    f.instruction(&Instruction::Drop);
                }
            }
            if i != 2 {
                f.instruction(&Instruction::I32Const(100 + i as i32));
            }
            f.instruction(&Instruction::End);
            code.function(&f);
        }
        m.section(&code);
        m.finish()
    }

    /// Per defined function, by the constant it returns (its identity): the
    /// identities of the defined functions it calls; and the identities of
    /// the export, the start function and the table's slots.
    fn shape(module: &[u8]) -> (Vec<(i32, Vec<i32>)>, Vec<i32>) {
        let mut calls = Vec::new();
        let mut refs = Vec::new();
        for payload in Parser::new(0).parse_all(module) {
            match payload.unwrap() {
                Payload::CodeSectionEntry(body) => {
                    let mut ops = body.get_operators_reader().unwrap();
                    let (mut id, mut callees) = (-1, Vec::new());
                    while !ops.eof() {
                        match ops.read().unwrap() {
                            Operator::Call { function_index } if function_index > 0 => {
                                callees.push(function_index as i32)
                            }
                            Operator::I32Const { value } => id = value,
                            _ => {}
                        }
                    }
                    calls.push((id, callees));
                }
                Payload::ExportSection(r) => {
                    refs.extend(r.into_iter().map(|e| e.unwrap().index as i32))
                }
                Payload::StartSection { func, .. } => refs.push(func as i32),
                Payload::ElementSection(r) => {
                    for e in r {
                        if let wasmparser::ElementItems::Functions(f) = e.unwrap().items {
                            refs.extend(f.into_iter().map(|f| f.unwrap() as i32));
                        }
                    }
                }
                _ => {}
            }
        }
        // Indices to identities (index 0 is the import).
        let ids: Vec<i32> = calls.iter().map(|c| c.0).collect();
        let id = |index: i32| ids[index as usize - 1];
        let calls = calls
            .iter()
            .map(|(i, callees)| (*i, callees.iter().map(|&c| id(c)).collect()))
            .collect::<Vec<_>>();
        let mut calls = calls;
        calls.sort();
        (calls, refs.into_iter().map(id).collect())
    }

    #[test]
    fn every_reference_follows_its_function() {
        // Function 2 returns nothing: it is the start function; give it an
        // identity through what calls it instead.
        let original = module(&[Some(3), Some(0), None, Some(1)], false);
        let reversed = with_order(&original, 1, vec![3, 2, 1, 0]).unwrap();
        assert_ne!(reversed, original);
        assert_eq!(shape(&reversed), shape(&original));
        // 0 calls 3, 1 calls 0, 3 calls 1; the export is 1, the start 2
        // (-1: no constant), the table 0 and 3.
        assert_eq!(
            shape(&original),
            (
                vec![
                    (-1, vec![]),
                    (100, vec![103]),
                    (101, vec![100]),
                    (103, vec![101])
                ],
                vec![101, -1, 100, 103]
            )
        );
    }

    #[test]
    fn the_original_order_is_written_back_byte_for_byte() {
        let original = module(&[Some(3), Some(0), None, Some(1)], false);
        assert_eq!(
            with_order(&original, 1, vec![0, 1, 2, 3]).unwrap(),
            original
        );
    }

    #[test]
    fn the_smallest_candidate_is_kept_and_the_module_itself_when_none_is_smaller() {
        let original = module(&[Some(3), Some(0), None, Some(1)], true);
        let (same, layout) =
            reorder(&original, |m| Ok(usize::from(m != original.as_slice()))).unwrap();
        assert_eq!((same, layout), (original.clone(), None));
        let (other, layout) =
            reorder(&original, |m| Ok(usize::from(m == original.as_slice()))).unwrap();
        assert_eq!(layout, Some(LAYOUTS[0]));
        assert_ne!(other, original);
        assert_eq!(shape(&other), shape(&original));
        // The even functions together, then the odd ones.
        let ids = |m: &[u8]| -> Vec<i32> {
            let mut out = Vec::new();
            for payload in Parser::new(0).parse_all(m) {
                if let Payload::CodeSectionEntry(body) = payload.unwrap() {
                    let mut ops = body.get_operators_reader().unwrap();
                    let mut id = -1;
                    while !ops.eof() {
                        if let Operator::I32Const { value } = ops.read().unwrap() {
                            id = value;
                        }
                    }
                    out.push(id);
                }
            }
            out
        };
        assert_eq!(ids(&original), vec![100, 101, -1, 103]);
        assert_eq!(ids(&other), vec![100, -1, 101, 103]);
    }
}
