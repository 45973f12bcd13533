//! Go source structure needed by the reports: function extents, found with tree-sitter-go.
//!
//! Pure: bytes in, extents out. Positions follow go/token: 1-based lines, 1-based byte columns,
//! the end just past the last byte (so they compare directly with profile blocks).

use tree_sitter::{Node, Parser};

/// A source range in go/token terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Extent {
    /// Line of the first byte.
    pub start_line: u32,
    /// Byte column of the first byte.
    pub start_col: u32,
    /// Line of the end.
    pub end_line: u32,
    /// Byte column just past the end.
    pub end_col: u32,
}

/// A top-level function or method declaration with a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncDecl {
    /// The bare name, as `go tool cover -func` prints it (`Inc` for `(t *T) Inc`).
    pub name: String,
    /// From the `func` keyword to just past the closing brace.
    pub extent: Extent,
}

/// What the reports need to know about one Go file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoFile {
    /// Function and method declarations with bodies, in source order.
    pub funcs: Vec<FuncDecl>,
    /// Outermost function literals outside any declaration (package-level `var f = func() {...}`).
    pub package_literals: Vec<Extent>,
}

/// Why a file could not be analyzed.
#[derive(Debug, thiserror::Error)]
pub enum SyntaxError {
    /// The bundled grammar does not fit the tree-sitter runtime (a build problem).
    #[error("tree-sitter-go grammar cannot be loaded: {0}")]
    Language(String),
    /// tree-sitter gave up on the input.
    #[error("tree-sitter could not parse the file")]
    Parse,
}

/// A reusable parser (creating one per file is wasteful; parsers are not shareable across threads).
pub struct GoParser {
    parser: Parser,
}

impl GoParser {
    /// Creates a parser for Go.
    pub fn new() -> Result<GoParser, SyntaxError> {
        let mut parser = Parser::new();
        parser
            .set_language(&tree_sitter_go::LANGUAGE.into())
            .map_err(|e| SyntaxError::Language(e.to_string()))?;
        Ok(GoParser { parser })
    }

    /// Finds the function declarations and package-level literals of one file.
    pub fn analyze(&mut self, src: &[u8]) -> Result<GoFile, SyntaxError> {
        let tree = self.parser.parse(src, None).ok_or(SyntaxError::Parse)?;
        let mut out = GoFile::default();
        let mut cursor = tree.root_node().walk();
        for child in tree.root_node().children(&mut cursor) {
            match child.kind() {
                "function_declaration" | "method_declaration" => {
                    // Declarations without a body (assembly stubs) are not functions to cover.
                    if child.child_by_field_name("body").is_none() {
                        continue;
                    }
                    let name = child
                        .child_by_field_name("name")
                        .and_then(|n| n.utf8_text(src).ok())
                        .unwrap_or("")
                        .to_string();
                    out.funcs.push(FuncDecl {
                        name,
                        extent: extent(child),
                    });
                }
                _ => collect_literals(child, &mut out.package_literals),
            }
        }
        Ok(out)
    }
}

fn collect_literals(node: Node<'_>, out: &mut Vec<Extent>) {
    if node.kind() == "func_literal" {
        out.push(extent(node));
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        collect_literals(child, out);
    }
}

fn extent(node: Node<'_>) -> Extent {
    let s = node.start_position();
    let e = node.end_position();
    let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX).saturating_add(1);
    Extent {
        start_line: n(s.row),
        start_col: n(s.column),
        end_line: n(e.row),
        end_col: n(e.column),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_funcs_methods_and_package_literals() {
        let src = b"package p\n\ntype T struct{}\n\nfunc (t *T) Inc() { }\nfunc G[K comparable](k K) bool {\n\treturn true\n}\n\nvar F = func() int { return 1 }()\n\nfunc asm()\n";
        let f = GoParser::new().unwrap().analyze(src).unwrap();
        let names: Vec<_> = f.funcs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["Inc", "G"]);
        assert_eq!(
            f.funcs[0].extent,
            Extent { start_line: 5, start_col: 1, end_line: 5, end_col: 22 }
        );
        assert_eq!(
            f.funcs[1].extent,
            Extent { start_line: 6, start_col: 1, end_line: 8, end_col: 2 }
        );
        assert_eq!(
            f.package_literals,
            [Extent { start_line: 10, start_col: 9, end_line: 10, end_col: 32 }]
        );
    }
}
