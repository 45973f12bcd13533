//! Top-level function declarations found by a lexical scan: all that `-func` needs from a file.
//!
//! A full parse (tree-sitter builds a syntax tree of every expression) costs about 500
//! instructions per source byte and was 80% of a func report's time; this scan reads each byte
//! once. It relies on Go's lexical structure only: comments, string, raw string and rune
//! literals, brackets, and semicolon insertion at newlines. A declaration is a `func` keyword
//! that starts a top-level declaration (at bracket depth 0, after a semicolon, explicit or
//! inserted); its body is the first `{` at the signature's own depth that does not open a
//! `struct{`/`interface{` type; its extent ends just past the body's matching `}`. Positions are
//! go/token's: 1-based lines and byte columns. Declarations without a body are skipped. Whatever
//! is inside brackets (a `var (...)` group, a struct type, a parameter list, a body) is skipped
//! to its closer by looking only at brackets, comments and literals: nothing in there can start
//! a declaration.
//!
//! Checked against tree-sitter-go on every .go file of GOROOT and a module cache (80,000 files):
//! the only differences were in test data with deliberate syntax errors or newer syntax than
//! the grammar knows. A test repeats the GOROOT comparison on the installed Go.

use crate::syntax::{Extent, FuncDecl};

/// Finds the top-level function and method declarations with bodies, in source order.
pub fn scan(src: &[u8]) -> Vec<FuncDecl> {
    let mut lx = Lexer { src, pos: 0 };
    let mut found: Vec<(&[u8], usize, usize)> = Vec::new();
    // At the start of a top-level declaration: file start, or after a semicolon outside brackets.
    let mut decl_start = true;
    // Whether a newline after the last token inserts a semicolon.
    let mut ends_stmt = false;
    loop {
        let tok = lx.next();
        match tok.kind {
            Kind::Eof => break,
            Kind::Newline => {
                if ends_stmt {
                    decl_start = true;
                }
                ends_stmt = false;
                continue;
            }
            Kind::Semi => {
                decl_start = true;
                ends_stmt = false;
                continue;
            }
            Kind::Ident if decl_start && tok.text(src) == b"func" => {
                if let Some((name, end)) = func_decl(&mut lx) {
                    found.push((name, tok.start, end));
                    ends_stmt = true;
                } else {
                    // No body: the declaration ended at a semicolon.
                    ends_stmt = false;
                    decl_start = true;
                    continue;
                }
            }
            Kind::Ident => ends_stmt = ident_ends_stmt(tok.text(src)),
            // `var (`, `type T struct {`, `= []int{`...: skipped whole, to past the closer.
            Kind::Open(_) => {
                lx.skip_nested();
                ends_stmt = true;
            }
            // An unbalanced closer (invalid Go).
            Kind::Close => ends_stmt = true,
            Kind::Other { ends } => ends_stmt = ends,
        }
        decl_start = false;
    }
    let mut lines = LineCursor::new(src);
    found
        .into_iter()
        .map(|(name, start, end)| {
            let (start_line, start_col) = lines.position(start);
            let (end_line, end_col) = lines.position(end);
            FuncDecl {
                name: String::from_utf8_lossy(name).into_owned(),
                extent: Extent {
                    start_line,
                    start_col,
                    end_line,
                    end_col,
                },
            }
        })
        .collect()
}

/// Reads a declaration after its `func` keyword: its name and the offset just past its body, or
/// `None` when it has no body.
fn func_decl<'a>(lx: &mut Lexer<'a>) -> Option<(&'a [u8], usize)> {
    let mut name: Option<&'a [u8]> = None;
    let mut ends_stmt = false;
    // The previous token was `struct` or `interface`: a `{` now opens a type, not the body.
    let mut type_brace = false;
    loop {
        let tok = lx.next();
        match tok.kind {
            Kind::Eof | Kind::Semi => return None,
            Kind::Newline => {
                if ends_stmt {
                    return None;
                }
                continue;
            }
            Kind::Ident => {
                let text = tok.text(lx.src);
                // The receiver and type parameters are skipped whole, so the first identifier
                // is the name.
                if name.is_none() {
                    name = Some(text);
                }
                type_brace = text == b"struct" || text == b"interface";
                ends_stmt = ident_ends_stmt(text);
                continue;
            }
            Kind::Open(b'{') if !type_brace => {
                lx.skip_block();
                return Some((name.unwrap_or_default(), lx.pos));
            }
            // Receiver, type parameters, parameters, results, a struct or interface type:
            // nothing inside can be the body.
            Kind::Open(_) => {
                lx.skip_nested();
                ends_stmt = true;
            }
            // An unbalanced closer (invalid Go).
            Kind::Close => ends_stmt = true,
            Kind::Other { ends } => ends_stmt = ends,
        }
        type_brace = false;
    }
}

/// Identifiers and the keywords `break`, `continue`, `fallthrough`, `return` end a statement at
/// a newline; other keywords do not.
fn ident_ends_stmt(text: &[u8]) -> bool {
    !is_keyword_continuing(text)
}

/// Keywords after which a newline inserts no semicolon (all but `break`, `continue`,
/// `fallthrough` and `return`).
pub(super) fn is_keyword_continuing(text: &[u8]) -> bool {
    matches!(
        text,
        b"case"
            | b"chan"
            | b"const"
            | b"default"
            | b"defer"
            | b"else"
            | b"for"
            | b"func"
            | b"go"
            | b"goto"
            | b"if"
            | b"import"
            | b"interface"
            | b"map"
            | b"package"
            | b"range"
            | b"select"
            | b"struct"
            | b"switch"
            | b"type"
            | b"var"
    )
}

/// Turns increasing byte offsets into go/token lines and columns, counting newlines once.
struct LineCursor<'a> {
    src: &'a [u8],
    offset: usize,
    line: u32,
    line_start: usize,
}

impl<'a> LineCursor<'a> {
    fn new(src: &'a [u8]) -> LineCursor<'a> {
        LineCursor {
            src,
            offset: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// Line and column of `offset`; offsets must not decrease between calls.
    fn position(&mut self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.src.len());
        let seg = &self.src[self.offset.min(offset)..offset];
        // memchr's count (ten times a filtered count here); the last newline is then found
        // from the end.
        let n = memchr::memchr_iter(b'\n', seg).count();
        if n > 0 {
            self.line = self
                .line
                .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
            let last = memchr::memrchr(b'\n', seg).unwrap_or(0);
            self.line_start = self.offset + last + 1;
        }
        self.offset = offset;
        let col = u32::try_from(offset - self.line_start + 1).unwrap_or(u32::MAX);
        (self.line, col)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Eof,
    /// A newline, or a block comment containing one (Go treats both alike).
    Newline,
    /// An explicit `;`.
    Semi,
    Ident,
    /// `(`, `[` or `{`.
    Open(u8),
    /// `)`, `]` or `}`.
    Close,
    /// Any other token; `ends` when a newline after it inserts a semicolon (literals, `++`, `--`).
    Other {
        ends: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

impl Token {
    fn text<'a>(&self, src: &'a [u8]) -> &'a [u8] {
        &src[self.start..self.end]
    }
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Bytes that matter inside a function body: braces, and what starts a comment or a literal
/// (whose contents may hold braces).
const BODY_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'{' as usize] = true;
    t[b'}' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\'' as usize] = true;
    t[b'`' as usize] = true;
    t[b'/' as usize] = true;
    t
};

/// Bytes that matter inside brackets at the top level: [`BODY_SPECIAL`] and the other brackets.
const NESTED_SPECIAL: [bool; 256] = {
    let mut t = BODY_SPECIAL;
    t[b'(' as usize] = true;
    t[b')' as usize] = true;
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t
};

impl Lexer<'_> {
    fn peek(&self, off: usize) -> u8 {
        self.src.get(self.pos + off).copied().unwrap_or(0)
    }

    /// Skips a `//` comment up to (not including) its newline.
    fn line_comment(&mut self) {
        self.pos = match memchr::memchr(b'\n', &self.src[self.pos..]) {
            Some(n) => self.pos + n,
            None => self.src.len(),
        };
    }

    /// Skips a `/* */` comment; true when it spans lines.
    fn block_comment(&mut self) -> bool {
        let body = &self.src[self.pos + 2..];
        let len = memchr::memmem::find(body, b"*/");
        let (inner, next) = match len {
            Some(n) => (&body[..n], self.pos + 2 + n + 2),
            None => (body, self.src.len()),
        };
        self.pos = next;
        inner.contains(&b'\n')
    }

    /// Skips a `"..."` or `'...'` literal (stopping at a newline, which would be an error).
    fn quoted(&mut self, quote: u8) {
        let mut i = self.pos + 1;
        while i < self.src.len() {
            match self.src[i] {
                b'\\' => i += 2,
                b'\n' => break,
                b if b == quote => {
                    i += 1;
                    break;
                }
                _ => i += 1,
            }
        }
        self.pos = i.min(self.src.len());
    }

    /// Skips a raw string literal.
    fn raw_string(&mut self) {
        self.pos = match memchr::memchr(b'`', &self.src[self.pos + 1..]) {
            Some(n) => self.pos + 1 + n + 1,
            None => self.src.len(),
        };
    }

    fn next(&mut self) -> Token {
        loop {
            let Some(&b) = self.src.get(self.pos) else {
                return self.token(Kind::Eof, self.pos, 0);
            };
            let start = self.pos;
            match b {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => return self.token(Kind::Newline, start, 1),
                b'/' if self.peek(1) == b'/' => self.line_comment(),
                b'/' if self.peek(1) == b'*' => {
                    if self.block_comment() {
                        return self.token_to(Kind::Newline, start);
                    }
                }
                b'"' | b'\'' => {
                    self.quoted(b);
                    return self.token_to(Kind::Other { ends: true }, start);
                }
                b'`' => {
                    self.raw_string();
                    return self.token_to(Kind::Other { ends: true }, start);
                }
                b'(' | b'[' | b'{' => return self.token(Kind::Open(b), start, 1),
                b')' | b']' | b'}' => return self.token(Kind::Close, start, 1),
                b';' => return self.token(Kind::Semi, start, 1),
                b'0'..=b'9' => return self.number(start),
                b'.' if self.peek(1).is_ascii_digit() => return self.number(start),
                b if is_ident_byte(b) => {
                    let n = self.src[start..]
                        .iter()
                        .position(|&c| !is_ident_byte(c))
                        .unwrap_or(self.src.len() - start);
                    self.pos += n;
                    return self.token_to(Kind::Ident, start);
                }
                b'+' | b'-' if self.peek(1) == b => {
                    return self.token(Kind::Other { ends: true }, start, 2);
                }
                _ => return self.token(Kind::Other { ends: false }, start, 1),
            }
        }
    }

    /// A number literal: digits, letters, `_`, `.`, and a sign right after an exponent letter.
    fn number(&mut self, start: usize) -> Token {
        let hex = self.src[start..].starts_with(b"0x") || self.src[start..].starts_with(b"0X");
        let mut i = start;
        while i < self.src.len() {
            let c = self.src[i];
            let exp = if hex {
                matches!(c, b'p' | b'P')
            } else {
                matches!(c, b'e' | b'E')
            };
            if exp && matches!(self.src.get(i + 1), Some(b'+' | b'-')) {
                i += 2;
            } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' {
                i += 1;
            } else {
                break;
            }
        }
        self.pos = i;
        self.token_to(Kind::Other { ends: true }, start)
    }

    /// A token of `len` bytes at `start`; moves past it.
    fn token(&mut self, kind: Kind, start: usize, len: usize) -> Token {
        self.pos = start + len;
        Token {
            kind,
            start,
            end: self.pos,
        }
    }

    /// A token from `start` to the current position.
    fn token_to(&self, kind: Kind, start: usize) -> Token {
        Token {
            kind,
            start,
            end: self.pos,
        }
    }

    /// From just past a `{`, skips to just past its matching `}` (or to the end).
    fn skip_block(&mut self) {
        self.skip_balanced(&BODY_SPECIAL);
    }

    /// From just past an opening bracket at the top level, skips to just past its matching
    /// closing bracket of any kind (Go's brackets nest) or to the end: nothing inside brackets
    /// can start a declaration.
    fn skip_nested(&mut self) {
        self.skip_balanced(&NESTED_SPECIAL);
    }

    /// Skips to just past the closing bracket that balances one already open, counting the
    /// brackets `special` marks (and skipping comments and literals, which it must mark too).
    fn skip_balanced(&mut self, special: &[bool; 256]) {
        let mut depth: usize = 1;
        let len = self.src.len();
        while self.pos < len {
            // Most bytes are plain code: skip them in a tight loop.
            while self.pos < len && !special[usize::from(self.src[self.pos])] {
                self.pos += 1;
            }
            let Some(&b) = self.src.get(self.pos) else {
                return;
            };
            match b {
                b'{' | b'(' | b'[' => {
                    depth += 1;
                    self.pos += 1;
                }
                b'}' | b')' | b']' => {
                    self.pos += 1;
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                b'/' if self.peek(1) == b'/' => self.line_comment(),
                b'/' if self.peek(1) == b'*' => {
                    self.block_comment();
                }
                b'"' | b'\'' => self.quoted(b),
                b'`' => self.raw_string(),
                _ => self.pos += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::scan;
    use crate::syntax::GoParser;

    /// The scan must find exactly what the full parser finds.
    fn same_as_parser(src: &str) {
        let want = GoParser::new()
            .unwrap()
            .analyze(src.as_bytes())
            .unwrap()
            .funcs;
        let got = scan(src.as_bytes());
        assert_eq!(got, want, "in:\n{src}");
    }

    /// Every Go file of the installed Go distribution's sources (the standard library and the
    /// toolchain: generated code, assembly stubs, generics, every literal form): the scan agrees
    /// with tree-sitter wherever tree-sitter parses the file without error.
    #[test]
    fn agrees_with_the_parser_on_the_go_distribution() {
        let out = std::process::Command::new("go")
            .args(["env", "GOROOT"])
            .output()
            .expect("`go env GOROOT` (the tests need Go on PATH)");
        let root = std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_go::LANGUAGE.into())
            .unwrap();
        let mut ts = GoParser::new().unwrap();
        let (mut compared, mut mismatched) = (0, Vec::new());
        let mut dirs = vec![root.join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    // testdata holds deliberately broken and not-yet-valid Go.
                    if path.file_name().is_some_and(|n| n != "testdata") {
                        dirs.push(path);
                    }
                    continue;
                }
                if path.extension().is_none_or(|e| e != "go") {
                    continue;
                }
                let src = std::fs::read(&path).unwrap();
                if scan(&src) == ts.analyze(&src).unwrap().funcs {
                    compared += 1;
                    continue;
                }
                // A difference counts where tree-sitter itself parsed the file cleanly.
                let clean = parser
                    .parse(&src, None)
                    .is_some_and(|t| !t.root_node().has_error());
                if clean {
                    compared += 1;
                    mismatched.push(path);
                }
            }
        }
        assert!(
            compared > 5000,
            "only {compared} files under {}",
            root.display()
        );
        assert!(mismatched.is_empty(), "the scan differs on {mismatched:?}");
    }

    #[test]
    fn plain_methods_generics_and_stubs() {
        same_as_parser(
            "package p\n\ntype T struct{}\n\nfunc (t *T) Inc() { }\nfunc G[K comparable](k K) bool {\n\treturn true\n}\n\nvar F = func() int { return 1 }()\n\nfunc asm()\n\nfunc after() {}\n",
        );
    }

    #[test]
    fn braces_in_signatures_literals_and_comments() {
        same_as_parser(concat!(
            "package p\n",
            "func a(x struct{ a int }) interface{ M() } { return nil }\n",
            "func b() struct {\n\tx int\n} {\n\treturn struct{ x int }{}\n}\n",
            "func c() map[string]struct{} { s := \"}{\"; r := '}'; _ = `\n}\n`; return nil /* } */ }\n",
            "// func commented() {}\n",
            "/* func alsoCommented() {\n} */\n",
            "func d[T interface{ ~int | ~string }](v T) (out T) {\n\t// }\n\tif true {\n\t\tout = v\n\t}\n\treturn\n}\n",
            "type F func() int\n",
            "var (\n\tg = func() {}\n\th = 1\n)\n",
            "func e(\n\ta int,\n\tb int,\n) func() {\n\treturn func() {}\n}\n",
            "func f() { x := '\\''; _ = x }; func g() {}\n",
            "func Größe() int { return 0x1p-2 }\n",
            "func stub(x int) int\n",
            "func stub2() /* ok */ (int)\n\nfunc last() {\n}",
        ));
    }
}
