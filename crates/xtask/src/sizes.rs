//! `cargo xtask sizes`: Rust files over 400 lines and functions over 80 lines in `crates/`
//! and `frontend/`, each listed, longest first.
//!
//! Functions are found by parsing each file with `syn`, so a `fn` in a string, a comment
//! or a macro's input is not one, and a function's length is its own lines: from the line
//! of `fn` to the line of its closing brace, doc comments and attributes not counted.
//! Free functions, methods and trait methods with a body count, nested ones too. Code in
//! a `tests/` directory, in a `#[cfg(test)]` module or marked `#[test]` (`#[tokio::test]`,
//! …) is counted and marked `test`.
//!
//! A long file or function may say why at its top: a doc line starting `Long:` (`//!
//! Long: …` in the file's opening comment, `/// Long: …` on the function). Those are
//! marked `reason`; the count without one is what should fall.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use syn::visit::Visit;

pub const FILE_LINES: usize = 400;
pub const FN_LINES: usize = 80;
const ROOTS: [&str; 2] = ["crates", "frontend"];

#[derive(Debug)]
struct Long {
    lines: usize,
    place: String,
    test: bool,
    /// It says why at its top (a `Long:` doc line).
    reason: bool,
}

/// The doc line that gives a long file or function its reason.
const REASON: &str = "Long:";

/// Whether the file's opening `//!` comment has a `Long:` line.
fn file_reason(text: &str) -> bool {
    text.lines()
        .take_while(|l| l.starts_with("//!") || l.trim().is_empty())
        .any(|l| l.trim_start_matches("//!").trim_start().starts_with(REASON))
}

/// Whether a `/// Long: …` line is among the attributes (doc comments are `#[doc]`).
fn fn_reason(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let syn::Meta::NameValue(nv) = &a.meta else {
            return false;
        };
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) = &nv.value
        else {
            return false;
        };
        a.path().is_ident("doc") && text.value().trim_start().starts_with(REASON)
    })
}

/// The report `cargo xtask sizes` prints, for the workspace at `root`.
pub fn report(root: &Path) -> anyhow::Result<String> {
    let mut files = Vec::new();
    let mut functions = Vec::new();
    for file in rust_files(root)? {
        let text = fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
        let rel = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .to_string_lossy()
            .into_owned();
        let in_tests = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .components()
            .any(|c| c.as_os_str() == "tests");
        let lines = text.lines().count();
        if lines > FILE_LINES {
            files.push(Long {
                lines,
                place: rel.clone(),
                test: in_tests,
                reason: file_reason(&text),
            });
        }
        let ast = syn::parse_file(&text).with_context(|| format!("parse {rel}"))?;
        let mut finder = Functions {
            file: &rel,
            test_depth: usize::from(in_tests),
            found: &mut functions,
        };
        finder.visit_file(&ast);
    }
    let mut out = String::new();
    section(
        &mut out,
        &format!("Rust files over {FILE_LINES} lines in crates/ and frontend/"),
        files,
    );
    section(
        &mut out,
        &format!("Functions over {FN_LINES} lines"),
        functions,
    );
    Ok(out)
}

fn section(out: &mut String, title: &str, mut items: Vec<Long>) {
    items.sort_by(|a, b| b.lines.cmp(&a.lines).then_with(|| a.place.cmp(&b.place)));
    let tests = items.iter().filter(|i| i.test).count();
    let unexplained = items.iter().filter(|i| !i.reason).count();
    let _ = writeln!(
        out,
        "{title}: {} ({} outside tests, {tests} in tests); without a reason at the top: {unexplained}",
        items.len(),
        items.len() - tests
    );
    for item in &items {
        let test = if item.test { "  test" } else { "" };
        let reason = if item.reason { "  reason" } else { "" };
        let _ = writeln!(out, "  {:>5}  {}{test}{reason}", item.lines, item.place);
    }
}

/// `.rs` files under `crates/` and `frontend/`, build output and dependencies left out.
fn rust_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending: Vec<PathBuf> = ROOTS.iter().map(|r| root.join(r)).collect();
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("list {}", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !matches!(name, "target" | "node_modules" | "dist") && !name.starts_with('.') {
                    pending.push(path);
                }
            } else if name.ends_with(".rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

struct Functions<'a> {
    file: &'a str,
    /// Above zero inside test code.
    test_depth: usize,
    found: &'a mut Vec<Long>,
}

impl Functions<'_> {
    fn function(
        &mut self,
        attrs: &[syn::Attribute],
        sig: &syn::Signature,
        block: &syn::Block,
        visit: impl FnOnce(&mut Self),
    ) {
        let test = is_test(attrs);
        self.test_depth += usize::from(test);
        let first = sig.fn_token.span.start().line;
        let last = block.brace_token.span.close().end().line;
        let lines = last + 1 - first;
        if lines > FN_LINES {
            self.found.push(Long {
                lines,
                place: format!("{}:{first} {}", self.file, sig.ident),
                test: self.test_depth > 0,
                reason: fn_reason(attrs),
            });
        }
        visit(self);
        self.test_depth -= usize::from(test);
    }
}

impl<'ast> Visit<'ast> for Functions<'_> {
    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        let test = is_cfg_test(&module.attrs);
        self.test_depth += usize::from(test);
        syn::visit::visit_item_mod(self, module);
        self.test_depth -= usize::from(test);
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.function(&f.attrs, &f.sig, &f.block, |v| {
            syn::visit::visit_item_fn(v, f);
        });
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.function(&f.attrs, &f.sig, &f.block, |v| {
            syn::visit::visit_impl_item_fn(v, f);
        });
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        match &f.default {
            Some(block) => self.function(&f.attrs, &f.sig, block, |v| {
                syn::visit::visit_trait_item_fn(v, f);
            }),
            None => syn::visit::visit_trait_item_fn(self, f),
        }
    }
}

/// `#[test]`, `#[tokio::test]`, `#[actix_web::test]`, `#[wasm_bindgen_test]`.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "test" || s.ident == "wasm_bindgen_test")
    }) || is_cfg_test(attrs)
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(source: &str) -> Vec<Long> {
        let ast = syn::parse_file(source).expect("parse");
        let mut found = Vec::new();
        Functions {
            file: "x.rs",
            test_depth: 0,
            found: &mut found,
        }
        .visit_file(&ast);
        found
    }

    fn body(lines: usize) -> String {
        "    let _ = 1;\n".repeat(lines - 2)
    }

    #[test]
    fn counts_a_function_from_fn_to_its_closing_brace() {
        let source = format!(
            "/// doc\n#[inline]\nfn long() {{\n{}}}\nfn short() {{\n{}}}\n",
            body(FN_LINES + 1),
            body(FN_LINES)
        );
        let found = found(&source);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].lines, FN_LINES + 1);
        assert_eq!(found[0].place, "x.rs:3 long");
        assert!(!found[0].test);
    }

    #[test]
    fn a_long_line_at_the_top_is_a_reason() {
        let source = format!(
            "/// What it does.\n///\n/// Long: one match over every case.\nfn explained() {{\n{}}}\n\
             /// Not long: a doc line elsewhere.\nfn bare() {{\n{}}}\n",
            body(FN_LINES + 1),
            body(FN_LINES + 1)
        );
        let reasons: Vec<bool> = found(&source).iter().map(|l| l.reason).collect();
        assert_eq!(reasons, [true, false]);
        assert!(file_reason(
            "//! A room.\n//!\n//! Long: the one place of it.\n\nuse x;\n"
        ));
        assert!(!file_reason(
            "//! A room.\n\n// Long: not the opening comment\n"
        ));
    }

    #[test]
    fn finds_methods_nested_functions_and_test_code_but_not_strings() {
        let long = body(FN_LINES + 1);
        let source = format!(
            "impl S {{\n fn method() {{\n{long}}}\n}}\n\
             fn outer() {{\n fn inner() {{\n{long}}}\n}}\n\
             const S: &str = \"fn fake() {{\n{long}}}\";\n\
             #[cfg(test)]\nmod tests {{\n #[test]\n fn case() {{\n{long}}}\n}}\n"
        );
        let mut names: Vec<(String, bool)> = found(&source)
            .into_iter()
            .map(|l| (l.place.rsplit(' ').next().unwrap_or("").to_owned(), l.test))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ("case".to_owned(), true),
                ("inner".to_owned(), false),
                ("method".to_owned(), false),
                ("outer".to_owned(), false)
            ],
            "the string's fn is no function"
        );
    }
}
