//! Drops what a browser does not need from the bundle's JavaScript: comments
//! that take whole lines, blank lines and indentation. `wasm-bindgen` writes its
//! glue with a doc comment on every export and import; the loader is commented
//! for the people who read it in the repo. This is not a minifier (a minifier
//! crate would be a large build dependency for about a kilobyte of gzip): code
//! is never rewritten, and a comment that shares its line with code is kept.
//! `/*! … */` blocks (the loader's embedding notes) are kept as well.
//!
//! Sound for JavaScript without strings or template literals that span lines,
//! which neither file has (the glue's template literals are one-line; a test
//! in the e2e suite runs the stripped bundle in Chromium).

/// Strips whole-line comments, blank lines and leading whitespace.
pub fn strip(js: &str) -> String {
    let mut out = String::with_capacity(js.len());
    let mut in_block = false;
    for line in js.lines() {
        let mut t = line.trim();
        if in_block {
            match t.find("*/") {
                Some(end) => {
                    in_block = false;
                    t = t[end + 2..].trim_start();
                }
                None => continue,
            }
        } else if t.starts_with("/*") && !t.starts_with("/*!") {
            match t[2..].find("*/") {
                Some(end) => t = t[2 + end + 2..].trim_start(),
                None => {
                    in_block = true;
                    continue;
                }
            }
        }
        if t.is_empty() || t.starts_with("//") {
            continue;
        }
        out.push_str(t);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn whole_line_comments_blank_lines_and_indentation_go() {
        let js = "/**\n * Doc.\n * @param {string} a\n */\nexport function f(a) {\n    // note\n\n    return a; // kept\n}\n";
        assert_eq!(strip(js), "export function f(a) {\nreturn a; // kept\n}\n");
    }

    #[test]
    fn code_sharing_a_line_with_a_comment_is_kept() {
        assert_eq!(strip("/* a */ x();\n"), "x();\n");
        assert_eq!(strip("/* a\n b */ y();\n"), "y();\n");
        assert_eq!(
            strip("try { f(); } catch (_) { /* nothing */ }\n"),
            "try { f(); } catch (_) { /* nothing */ }\n"
        );
        assert_eq!(
            strip("const u = 'http://x/*';\n"),
            "const u = 'http://x/*';\n"
        );
    }

    #[test]
    fn bang_comments_stay() {
        assert_eq!(
            strip("/*! embed:\n   <script> */\nrun();\n"),
            "/*! embed:\n<script> */\nrun();\n"
        );
    }
}
