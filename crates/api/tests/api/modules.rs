//! The module graphs of the server and of the SPA (`frontend/src`), read from their
//! source: no module imports a module that imports it back (directly or round a longer
//! circle), and no service sees `AppState`.
//!
//! An edge is any `crate::`/`super::`/`self::` path a file names, in a `use` tree or
//! inline, resolved to the deepest module it reaches. A module and its own submodules
//! (`persistence` and `persistence::writer`) are one unit of code, so edges between them
//! do not count; their edges to other modules do.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

type Module = Vec<String>;

/// The API library's source.
fn api_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The SPA's source (a binary crate whose `main.rs` only declares the modules).
fn frontend_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../frontend/src")
}

/// Every module under `src` with its source, comments stripped. `main.rs` is left out
/// (the API's binary, a crate of its own; the SPA's root, which only declares modules),
/// and `lib.rs` becomes the root module, which every module contains, so it has no edges.
fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            let rel = path.strip_prefix(src).expect("under src").to_path_buf();
            // Binaries are crates of their own; the SPA's main.rs only lists its modules.
            if rel.starts_with("bin") || rel == Path::new("main.rs") {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut module: Module = rel
                    .with_extension("")
                    .iter()
                    .map(|s| s.to_string_lossy().into_owned())
                    .collect();
                if module.last().is_some_and(|s| s == "mod" || s == "lib") {
                    module.pop();
                }
                let text = std::fs::read_to_string(&path).expect("read");
                out.insert(module, strip_comments(&text));
            }
        }
    }
    out
}

fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a::{b, c::{d, self}}` → `a::b`, `a::c::d`, `a::c`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree).trim();
        return vec![path.to_owned()];
    };
    let close = tree.rfind('}').expect("balanced use tree");
    let prefix = &tree[..open];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, open + 1);
    for (i, ch) in tree.char_indices().take(close).skip(open + 1) {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&tree[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&tree[start..close]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|part| match part.trim() {
            "self" => vec![prefix.trim_end_matches("::").to_owned()],
            part => expand(part)
                .into_iter()
                .map(|p| format!("{prefix}{p}"))
                .collect(),
        })
        .collect()
}

/// Every module path `module`'s source names.
fn paths(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = String::new();
    let mut text = source;
    // `use` statements, expanded; what is left is searched for inline paths.
    while let Some(at) = text.find("use ") {
        let line = text[..at].rsplit('\n').next().unwrap_or("").trim();
        let is_statement = matches!(line, "" | "pub" | "pub(crate)" | "pub(super)");
        rest.push_str(&text[..at]);
        let after = &text[at + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if is_statement {
            found.extend(expand(&after[..end]));
            text = &after[end..];
        } else {
            rest.push_str("use ");
            text = after;
        }
    }
    rest.push_str(text);
    let bytes = rest.as_bytes();
    for root in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = rest[from..].find(root) {
            let at = from + i;
            from = at + root.len();
            let before = at.checked_sub(1).map(|j| bytes[j] as char);
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let end = rest[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(rest.len(), |e| at + e);
            found.push(rest[at..end].to_owned());
        }
    }
    found
}

/// The deepest module `path` (as written in `from`) reaches, if it is one of ours.
fn resolve(from: &Module, path: &str, known: &BTreeSet<Module>) -> Option<Module> {
    let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Module = match segments.first() {
        Some(&"crate") => Vec::new(),
        Some(&"self") => from.clone(),
        Some(&"super") => {
            let mut base = from.clone();
            while segments.first() == Some(&"super") {
                base.pop();
                segments.remove(0);
            }
            segments.insert(0, "super");
            base
        }
        _ => return None,
    };
    let mut best = None;
    for segment in &segments[1..] {
        base.push((*segment).to_owned());
        if known.contains(&base) {
            best = Some(base.clone());
        } else {
            break;
        }
    }
    best
}

fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let modules = modules(src);
    let known: BTreeSet<Module> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(module, source)| {
            let edges = paths(source)
                .iter()
                .filter_map(|p| resolve(module, p, &known))
                .filter(|to| !to.starts_with(module) && !module.starts_with(to))
                .collect();
            (module.clone(), edges)
        })
        .collect()
}

/// The strongly connected components with more than one module (Tarjan).
fn circles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a Module) {
        let n = w.index.len();
        w.index.insert(v, n);
        w.low.insert(v, n);
        w.stack.push(v);
        w.on_stack.insert(v);
        for to in w.graph.get(v).into_iter().flatten() {
            let Some((to, _)) = w.graph.get_key_value(to) else {
                continue;
            };
            if !w.index.contains_key(to) {
                visit(w, to);
                let low = w.low[v].min(w.low[to]);
                w.low.insert(v, low);
            } else if w.on_stack.contains(to) {
                let low = w.low[v].min(w.index[to]);
                w.low.insert(v, low);
            }
        }
        if w.low[v] == w.index[v] {
            let mut component = Vec::new();
            while let Some(m) = w.stack.pop() {
                w.on_stack.remove(m);
                component.push(m.join("::"));
                if m == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                w.found.push(component);
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            visit(&mut walk, v);
        }
    }
    walk.found
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let graph = graph(&api_src());
    assert!(
        graph.len() > 40,
        "the source was read: {} modules",
        graph.len()
    );
    let state = vec!["state".to_owned()];
    assert!(
        graph[&state]
            .iter()
            .any(|m| m.first().is_some_and(|s| s == "services")),
        "edges are found: state.rs names the services"
    );
    let circles = circles(&graph);
    assert!(circles.is_empty(), "import circles: {circles:#?}");
}

#[test]
fn no_spa_module_imports_a_module_that_imports_it_back() {
    let graph = graph(&frontend_src());
    assert!(
        graph.len() > 30,
        "the SPA's source was read: {} modules",
        graph.len()
    );
    let app = vec!["app".to_owned()];
    assert!(
        graph[&app]
            .iter()
            .any(|m| m.first().is_some_and(|s| s == "pages")),
        "edges are found: app.rs names the pages"
    );
    let circles = circles(&graph);
    assert!(
        circles.is_empty(),
        "import circles in the SPA: {circles:#?}"
    );
}

#[test]
fn no_service_sees_the_app_state() {
    let graph = graph(&api_src());
    let state = vec!["state".to_owned()];
    let seeing: Vec<String> = graph
        .iter()
        .filter(|(m, to)| m.first().is_some_and(|s| s == "services") && to.contains(&state))
        .map(|(m, _)| m.join("::"))
        .collect();
    assert!(
        seeing.is_empty(),
        "services that import AppState: {seeing:?}"
    );
}

#[test]
fn use_trees_expand_and_circles_are_found() {
    assert_eq!(
        expand("crate::{a::{b, self}, c as d}"),
        ["crate::a::b", "crate::a", "crate::c"]
    );
    let m = |s: &str| vec![s.to_owned()];
    let graph = BTreeMap::from([
        (m("a"), BTreeSet::from([m("b")])),
        (m("b"), BTreeSet::from([m("c")])),
        (m("c"), BTreeSet::from([m("a")])),
        (m("d"), BTreeSet::from([m("a")])),
    ]);
    assert_eq!(circles(&graph), [["a", "b", "c"]]);
}
