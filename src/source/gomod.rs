//! The one thing we need from a go.mod: its module path.

/// Returns the module path declared by go.mod text, or `None` when it declares none.
///
/// Handles `module path`, `module "path"`, a trailing `// comment` and the block form
/// `module (\n path \n)`.
pub fn module_path(gomod: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(gomod);
    let mut in_block = false;
    for raw in text.lines() {
        let line = strip_comment(raw).trim();
        if in_block {
            if line == ")" {
                in_block = false;
            } else if !line.is_empty() {
                return unquote(line);
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("module") else {
            continue;
        };
        if !rest.is_empty() && !rest.starts_with([' ', '\t', '(']) {
            continue; // e.g. a directive named "modulex"
        }
        let rest = rest.trim();
        if rest == "(" {
            in_block = true;
            continue;
        }
        if let Some(inner) = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
            return unquote(inner.trim());
        }
        return unquote(rest);
    }
    None
}

fn strip_comment(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| s.strip_prefix('`').and_then(|r| r.strip_suffix('`')))
        .unwrap_or(s);
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::module_path;

    #[test]
    fn forms() {
        assert_eq!(
            module_path(b"module example.com/a\n\ngo 1.22\n").as_deref(),
            Some("example.com/a")
        );
        assert_eq!(
            module_path(b"// c\nmodule \"example.com/b\" // x\n").as_deref(),
            Some("example.com/b")
        );
        assert_eq!(
            module_path(b"module (\n\texample.com/c\n)\n").as_deref(),
            Some("example.com/c")
        );
        assert_eq!(module_path(b"go 1.22\n"), None);
        assert_eq!(module_path(b"modulex foo\n"), None);
    }
}
