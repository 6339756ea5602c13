//! The crate's top-level modules only point down: reads every `crate::…` and `super::…` path
//! in `src/` and fails on any cycle between top-level modules, naming the files that close it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → modules it uses → files that use them.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Source without comments and string literals, so neither can fake a dependency.
fn code_only(src: &str) -> String {
    let (mut out, mut chars) = (String::new(), src.chars().peekable());
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if !escaped && c == '"' {
                        break;
                    }
                    escaped = !escaped && c == '\\';
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// First path segments named after `crate::` at `rest` (`a::…`, or `{a::…, b, c::{…}}`).
fn first_segments(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    let Some(inner) = rest.strip_prefix('{') else {
        return vec![ident(rest).to_string()];
    };
    let (mut depth, mut names, mut start) = (0usize, Vec::new(), 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                names.push(ident(inner[start..].trim_start()).to_string());
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                names.push(ident(inner[start..].trim_start()).to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    names.retain(|n| !n.is_empty() && n != "self");
    names
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let tops: BTreeSet<String> = files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(&src).unwrap();
            let first = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            first.trim_end_matches(".rs").to_string()
        })
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut graph = Graph::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let parts: Vec<String> = rel
            .components()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_string()
            })
            .collect();
        let top = parts[0].clone();
        if !tops.contains(&top) {
            continue;
        }
        // How many `super::` reach the crate root from this file.
        let depth = parts.len() - usize::from(parts.last().is_some_and(|p| p == "mod"));
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        let to_root = ["crate::".to_string(), "super::".repeat(depth)];
        for prefix in to_root {
            let mut at = 0;
            while let Some(i) = code[at..].find(&prefix) {
                let pos = at + i;
                at = pos + prefix.len();
                let before = code[..pos].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue; // part of a longer path (`super::super::` inside a deeper one)
                }
                for used in first_segments(&code[at..]) {
                    if used != top && tops.contains(&used) {
                        graph
                            .entry(top.clone())
                            .or_default()
                            .entry(used)
                            .or_default()
                            .insert(rel.display().to_string());
                    }
                }
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one (depth-first search).
fn cycle_from(graph: &Graph, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &Graph,
        node: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(node).into_iter().flat_map(|m| m.keys()) {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(graph, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn top_level_modules_form_no_cycle() {
    let graph = graph();
    assert!(
        graph.values().map(BTreeMap::len).sum::<usize>() > 20,
        "the reader found almost no dependencies: {graph:?}"
    );
    let mut cycles = Vec::new();
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, module) {
            let steps: Vec<String> = cycle
                .iter()
                .zip(cycle.iter().cycle().skip(1))
                .map(|(a, b)| format!("{a} → {b} ({})", join(&graph[a][b])))
                .collect();
            cycles.push(steps.join("; "));
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

fn join(files: &BTreeSet<String>) -> String {
    files.iter().cloned().collect::<Vec<_>>().join(", ")
}

#[test]
fn the_reader_sees_grouped_and_relative_paths() {
    assert_eq!(
        first_segments(" {a::b, c, d::{e, f}, self}"),
        ["a", "c", "d"]
    );
    assert_eq!(first_segments("model::Generator"), ["model"]);
    assert_eq!(
        code_only("x // crate::a\n\"crate::b\" /* crate::c */ y"),
        "x \n\"\"  y"
    );
    // The graph knows edges that only exist through `super::` at the top level or grouped uses.
    let g = graph();
    assert!(g["engine"].contains_key("model"), "{g:?}");
    assert!(g["app"].contains_key("engine"), "{g:?}");
}
