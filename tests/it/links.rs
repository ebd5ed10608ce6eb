//! Every relative link in the workspace's Markdown (the README, `docs/`, the
//! crates' READMEs and the CHANGELOG) resolves to a file inside the
//! repository, so the documents never point at something a clone lacks.

use std::fs;
use std::path::{Component, Path, PathBuf};

/// The repository's root: this package's manifest directory.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown files whose links are checked.
fn documents() -> Vec<PathBuf> {
    let root = root();
    let mut files = vec![root.join("README.md"), root.join("CHANGELOG.md")];
    let mut dirs = vec![root.join("docs")];
    for entry in fs::read_dir(root.join("crates")).expect("crates/ is readable") {
        dirs.push(entry.expect("a crates/ entry").path());
    }
    dirs.push(root.join("xtask"));
    for dir in dirs {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_some_and(|ext| ext == "md") {
                files.push(path);
            }
        }
    }
    files
}

/// The targets of the inline links `[text](target)` in `text`, without
/// their `#fragment`.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_code_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code_block = !in_code_block;
            continue;
        }
        if in_code_block {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or("");
            targets.push(target.split('#').next().unwrap_or("").to_owned());
            rest = &after[end..];
        }
    }
    targets
}

/// Whether `target` (as written in `document`) is a relative link to check.
fn is_relative(target: &str) -> bool {
    !(target.is_empty()
        || target.contains("://")
        || target.starts_with("mailto:")
        || target.starts_with('<'))
}

/// `path` with `.` and `..` resolved lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn every_relative_link_in_the_docs_resolves_inside_the_repository() {
    let root = root();
    let documents = documents();
    assert!(
        documents.len() > 10,
        "found only {} documents",
        documents.len()
    );
    let mut broken = Vec::new();
    let mut checked = 0;
    for document in &documents {
        let text = fs::read_to_string(document).expect("a readable document");
        let dir = document.parent().expect("a document has a directory");
        for target in link_targets(&text) {
            if !is_relative(&target) {
                continue;
            }
            checked += 1;
            let resolved = normalize(&dir.join(&target));
            let shown = document.strip_prefix(&root).unwrap_or(document);
            if !resolved.starts_with(&root) {
                broken.push(format!(
                    "{}: `{target}` leaves the repository",
                    shown.display()
                ));
            } else if !resolved.exists() {
                broken.push(format!("{}: `{target}` does not exist", shown.display()));
            }
        }
    }
    assert!(checked > 20, "checked only {checked} links");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_reader_finds_inline_links_and_skips_code_blocks() {
    let text = "See [a](docs/a.md#part) and [b](https://x.y).\n```\n[c](no.md)\n```\n[d](../e.md)";
    assert_eq!(link_targets(text), ["docs/a.md", "https://x.y", "../e.md"]);
    assert!(!is_relative("https://x.y"));
    assert!(is_relative("../e.md"));
}
