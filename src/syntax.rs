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
    /// Function literals that are directly a value of a package-level `var` spec
    /// (`var f = func() {...}`, not `var x = func() {...}()`): the literals gocover-cobertura
    /// v1.5.0 reports besides declarations.
    pub var_func_literals: Vec<Extent>,
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
                _ => {
                    if child.kind() == "var_declaration" {
                        collect_var_func_literals(child, &mut out.var_func_literals);
                    }
                    collect_literals(child, &mut out.package_literals)
                }
            }
        }
        Ok(out)
    }
}

/// A token that carries code: not a comment, not whitespace, not a bracket, comma or semicolon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeToken {
    /// Line of its first byte.
    pub line: u32,
    /// Byte column of its first byte.
    pub col: u32,
    /// Line of its last byte (raw strings span lines).
    pub end_line: u32,
}

impl GoParser {
    /// The code tokens of a file in source order: what makes a line hold a statement rather
    /// than only a comment, a blank or a closing brace.
    pub fn code_tokens(&mut self, src: &[u8]) -> Result<Vec<CodeToken>, SyntaxError> {
        let tree = self.parser.parse(src, None).ok_or(SyntaxError::Parse)?;
        let mut out = Vec::new();
        let mut cursor = tree.walk();
        // Iterative pre-order walk over the leaves (deep expressions would overflow recursion).
        loop {
            let node = cursor.node();
            if node.child_count() == 0 || node.kind() == "comment" {
                if is_code(node, src) {
                    let e = extent(node);
                    // An end at column 1 means the token stopped at the newline before.
                    let end_line = if e.end_col == 1 && e.end_line > e.start_line {
                        e.end_line - 1
                    } else {
                        e.end_line
                    };
                    out.push(CodeToken {
                        line: e.start_line,
                        col: e.start_col,
                        end_line,
                    });
                }
            } else if cursor.goto_first_child() {
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    return Ok(out);
                }
            }
        }
    }
}

fn is_code(node: Node<'_>, src: &[u8]) -> bool {
    if node.kind() == "comment" || node.is_missing() || node.start_byte() == node.end_byte() {
        return false;
    }
    let structural = |b: &u8| b.is_ascii_whitespace() || b"{}()[],;".contains(b);
    src.get(node.start_byte()..node.end_byte())
        .is_some_and(|text| !text.iter().all(structural))
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

/// Walks `var x = ...` and `var ( ... )` specs and keeps the values that are func literals
/// themselves (a parenthesized or called literal is an expression of another kind, as in go/ast).
fn collect_var_func_literals(decl: Node<'_>, out: &mut Vec<Extent>) {
    let mut cursor = decl.walk();
    for child in decl.children(&mut cursor) {
        match child.kind() {
            "var_spec_list" => collect_var_func_literals(child, out),
            "var_spec" => {
                let Some(values) = child.child_by_field_name("value") else {
                    continue;
                };
                let mut vc = values.walk();
                out.extend(
                    values
                        .named_children(&mut vc)
                        .filter(|v| v.kind() == "func_literal")
                        .map(extent),
                );
            }
            _ => {}
        }
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
            Extent {
                start_line: 5,
                start_col: 1,
                end_line: 5,
                end_col: 22
            }
        );
        assert_eq!(
            f.funcs[1].extent,
            Extent {
                start_line: 6,
                start_col: 1,
                end_line: 8,
                end_col: 2
            }
        );
        assert_eq!(
            f.package_literals,
            [Extent {
                start_line: 10,
                start_col: 9,
                end_line: 10,
                end_col: 32
            }]
        );
    }

    #[test]
    fn var_func_literals_are_direct_var_values_only() {
        // What gocover-cobertura v1.5.0's GenDecl case accepts: a FuncLit as a ValueSpec value.
        let src = b"package p\n\nvar A = func() {}\nvar (\n\tB, C = func() {}, 1\n\tD = (func() {})\n)\nvar E = func() int { return 1 }()\nvar F = map[string]func(){\"f\": func() {}}\nconst G = 1\n";
        let f = GoParser::new().unwrap().analyze(src).unwrap();
        let lines: Vec<u32> = f.var_func_literals.iter().map(|e| e.start_line).collect();
        assert_eq!(lines, [3, 5]);
        assert_eq!(f.var_func_literals[0].start_col, 9);
        assert_eq!(f.package_literals.len(), 5);
    }

    #[test]
    fn code_tokens_skip_comments_and_brackets() {
        let src = b"package p\n\nfunc f() {\n\t// c\n\tx := `a\nb`\n\t_ = x\n}\n";
        let toks = GoParser::new().unwrap().code_tokens(src).unwrap();
        let mut lines: Vec<u32> = toks.iter().flat_map(|t| t.line..=t.end_line).collect();
        lines.dedup();
        // Line 4 is a comment, line 8 a lone brace; the raw string spans lines 5 and 6.
        assert_eq!(lines, [1, 3, 5, 6, 7]);
    }
}
