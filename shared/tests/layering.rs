//! The module boundaries of `shared`, checked on its source: each top-level module names only
//! the modules it may depend on (dependencies point inward, so there is no cycle), and no
//! capability names an SDK, the HTTP client or the Lambda runtime, nor reaches out of its own
//! module by `super::super`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module and the modules it may use. Capabilities: kernel and the capabilities below
/// them; adapters: the capabilities whose ports they implement; `lambda`: everything.
const ALLOWED: [(&str, &[&str]); 14] = [
    ("kernel", &[]),
    ("rate", &["kernel"]),
    ("sellers", &["kernel"]),
    ("stock", &["kernel"]),
    ("pii", &["kernel", "sellers"]),
    ("audit", &["kernel", "pii"]),
    ("orders", &["kernel", "pii", "sellers", "stock", "rate"]),
    (
        "labels",
        &["kernel", "orders", "pii", "sellers", "stock", "rate"],
    ),
    // The staff API's routes: HTTP-shaped, I/O-free (lambda_http is in `lambda`).
    (
        "api",
        &[
            "kernel", "orders", "pii", "sellers", "stock", "audit", "labels",
        ],
    ),
    (
        "testkit",
        &[
            "kernel", "orders", "pii", "sellers", "stock", "rate", "audit", "labels",
        ],
    ),
    // api: its idempotency keys' port, implemented on the control table.
    (
        "aws",
        &[
            "kernel", "orders", "pii", "sellers", "stock", "rate", "audit", "labels", "api",
        ],
    ),
    // testkit: the transport's unit tests use its in-memory credentials (cfg(test) only: no
    // deploy build has a testkit, so production code cannot lean on it).
    (
        "spapi",
        &[
            "kernel", "orders", "pii", "sellers", "stock", "rate", "labels", "testkit",
        ],
    ),
    (
        "lambda",
        &[
            "kernel", "orders", "pii", "sellers", "stock", "rate", "audit", "labels", "aws",
            "spapi", "api",
        ],
    ),
    ("lib", &[]),
];

/// The modules that hold models, ports and services: pure of I/O crates.
const CAPABILITIES: [&str; 9] = [
    "kernel", "rate", "sellers", "stock", "pii", "audit", "orders", "labels", "api",
];

/// Crates only adapters and the Lambda layer may name.
const OUTSIDE_CRATES: [&str; 8] = [
    "aws_sdk_",
    "aws_config",
    "aws_smithy",
    "serde_dynamo",
    "reqwest",
    "lambda_runtime",
    "aws_lambda_events",
    "lambda_http",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::<module>` a file names.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

#[test]
fn every_module_depends_only_on_the_modules_inside_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.into_iter().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 30, "the source was not found");
    let mut broken = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        let Some(may_use) = allowed.get(module.as_str()) else {
            broken.push(format!(
                "{}: module {module} has no rule here",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        if CAPABILITIES.contains(&module.as_str()) {
            for outside in OUTSIDE_CRATES.iter().chain(["super::super"].iter()) {
                if text.contains(outside) {
                    broken.push(format!("{} names {outside}", relative.display()));
                }
            }
        }
        for used in named_modules(&text) {
            if used != module && !may_use.contains(&used.as_str()) {
                broken.push(format!("{} uses crate::{used}", relative.display()));
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}

#[test]
fn the_rules_themselves_have_no_cycle() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.into_iter().collect();
    // Depth-first: a module reached again while still on the path is a cycle.
    fn visit<'a>(
        m: &'a str,
        allowed: &BTreeMap<&'a str, &'a [&'a str]>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        assert!(!path.contains(&m), "cycle: {path:?} -> {m}");
        if done.contains(m) {
            return;
        }
        path.push(m);
        for next in allowed[m].iter() {
            visit(next, allowed, path, done);
        }
        path.pop();
        done.insert(m);
    }
    let mut done = BTreeSet::new();
    for m in allowed.keys() {
        visit(m, &allowed, &mut Vec::new(), &mut done);
    }
}
