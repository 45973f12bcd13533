//! Package-level `var f = func() {...}` literals found by a lexical scan: the function literals
//! that are directly a value of a top-level `var` spec, as gocover-cobertura v1.5.0 reports them
//! (a go/ast `ValueSpec` value that is a `FuncLit`: not `func() {...}()`, not `(func() {...})`).
//!
//! The caller gives the byte ranges of the function declarations, which the scan jumps over as
//! if they were blank, so only package, import, type, const and var declarations are read. The
//! scan knows Go's lexical
//! structure only: comments, string, raw string and rune literals, brackets and semicolon
//! insertion at newlines. Positions are go/token's (1-based lines and byte columns).

use crate::syntax::Extent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Eof,
    /// An explicit `;`, or a newline where Go inserts one.
    Semi,
    Ident,
    /// `(`, `[` or `{`.
    Open,
    /// `)`, `]` or `}`.
    Close,
    Comma,
    /// A lone `=`.
    Assign,
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    line: u32,
    col: u32,
    start: usize,
    end: usize,
}

struct Lexer<'a> {
    src: &'a [u8],
    /// Byte ranges read as blank, sorted; `skip[next_skip..]` are still ahead.
    skip: &'a [(usize, usize)],
    next_skip: usize,
    pos: usize,
    line: u32,
    line_start: usize,
    /// Whether a newline now inserts a semicolon (after an identifier, literal, `)` ...).
    ends_stmt: bool,
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

impl<'a> Lexer<'a> {
    fn new(src: &'a [u8], skip: &'a [(usize, usize)]) -> Lexer<'a> {
        Lexer {
            src,
            skip,
            next_skip: 0,
            pos: 0,
            line: 1,
            line_start: 0,
            ends_stmt: false,
        }
    }

    fn at(&self, i: usize) -> u8 {
        self.src.get(i).copied().unwrap_or(0)
    }

    fn newline(&mut self, i: usize) {
        self.line += 1;
        self.line_start = i + 1;
    }

    fn token(&mut self, kind: Kind, start: usize, start_line: u32, line_start: usize) -> Token {
        self.ends_stmt = match kind {
            Kind::Ident => !super::funcdecls::is_keyword_continuing(&self.src[start..self.pos]),
            Kind::Close => true,
            Kind::Other => {
                // Literals and `++`/`--` end a statement; other operators do not.
                let text = &self.src[start..self.pos];
                let first = text.first().copied().unwrap_or(0);
                first.is_ascii_digit()
                    || matches!(first, b'"' | b'`' | b'\'')
                    || (first == b'.' && text.len() > 1)
                    || text == b"++"
                    || text == b"--"
            }
            _ => false,
        };
        Token {
            kind,
            line: start_line,
            col: u32::try_from(start - line_start + 1).unwrap_or(u32::MAX),
            start,
            end: self.pos,
        }
    }

    /// Jumps over a skipped range starting here (counting its lines).
    fn jump(&mut self) {
        while let Some(&(a, b)) = self.skip.get(self.next_skip) {
            if self.pos < a {
                return;
            }
            let end = b.min(self.src.len()).max(self.pos);
            // Declarations are most of a file: count their lines with memchr's count (ten
            // times a filtered count here), then find where the last line starts.
            let seg = &self.src[self.pos..end];
            let n = memchr::memchr_iter(b'\n', seg).count();
            if let Some(last) = memchr::memrchr(b'\n', seg) {
                self.line = self
                    .line
                    .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
                self.line_start = self.pos + last + 1;
            }
            self.pos = end;
            self.next_skip += 1;
        }
    }

    fn next(&mut self) -> Token {
        loop {
            self.jump();
            let start = self.pos;
            let (line, line_start) = (self.line, self.line_start);
            let Some(&b) = self.src.get(start) else {
                return self.token(Kind::Eof, start, line, line_start);
            };
            match b {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.newline(start);
                    self.pos += 1;
                    if self.ends_stmt {
                        return self.token(Kind::Semi, start, line, line_start);
                    }
                }
                b'/' if self.at(start + 1) == b'/' => {
                    // Up to the newline, which is then seen as a newline.
                    let n = memchr::memchr(b'\n', &self.src[start..]);
                    self.pos = n.map_or(self.src.len(), |n| start + n);
                }
                b'/' if self.at(start + 1) == b'*' => {
                    let mut i = start + 2;
                    let mut newline = false;
                    while i < self.src.len() && !(self.src[i] == b'*' && self.at(i + 1) == b'/') {
                        if self.src[i] == b'\n' {
                            self.newline(i);
                            newline = true;
                        }
                        i += 1;
                    }
                    self.pos = (i + 2).min(self.src.len());
                    // A comment spanning lines acts like a newline.
                    if newline && self.ends_stmt {
                        return self.token(Kind::Semi, start, line, line_start);
                    }
                }
                b'"' | b'\'' => {
                    let mut i = start + 1;
                    while i < self.src.len() && self.src[i] != b && self.src[i] != b'\n' {
                        i += if self.src[i] == b'\\' { 2 } else { 1 };
                    }
                    // Past the closing quote; an unterminated literal stops before the newline.
                    self.pos = if self.at(i) == b {
                        i + 1
                    } else {
                        i.min(self.src.len())
                    };
                    return self.token(Kind::Other, start, line, line_start);
                }
                b'`' => {
                    let mut i = start + 1;
                    while i < self.src.len() && self.src[i] != b'`' {
                        if self.src[i] == b'\n' {
                            self.newline(i);
                        }
                        i += 1;
                    }
                    self.pos = (i + 1).min(self.src.len());
                    return self.token(Kind::Other, start, line, line_start);
                }
                b';' => {
                    self.pos += 1;
                    return self.token(Kind::Semi, start, line, line_start);
                }
                b',' => {
                    self.pos += 1;
                    return self.token(Kind::Comma, start, line, line_start);
                }
                b'(' | b'[' | b'{' => {
                    self.pos += 1;
                    return self.token(Kind::Open, start, line, line_start);
                }
                b')' | b']' | b'}' => {
                    self.pos += 1;
                    return self.token(Kind::Close, start, line, line_start);
                }
                b'.' if self.at(start + 1).is_ascii_digit() => {
                    return self.number(start, line, line_start);
                }
                b'0'..=b'9' => return self.number(start, line, line_start),
                _ if is_ident_byte(b) => {
                    let mut i = start;
                    while i < self.src.len() && is_ident_byte(self.src[i]) {
                        i += 1;
                    }
                    self.pos = i;
                    return self.token(Kind::Ident, start, line, line_start);
                }
                _ => {
                    // An operator: `=` alone matters; `++` and `--` end statements.
                    let next = self.at(start + 1);
                    let two = (b == b'+' && next == b'+')
                        || (b == b'-' && next == b'-')
                        || (b == b'=' && next == b'=')
                        || (b == b':' && next == b'=')
                        || (b"!<>+-*/%&|^".contains(&b) && next == b'=');
                    self.pos += if two { 2 } else { 1 };
                    let kind = if b == b'=' && !two {
                        Kind::Assign
                    } else {
                        Kind::Other
                    };
                    return self.token(kind, start, line, line_start);
                }
            }
        }
    }

    /// A number literal, loosely: digits, letters, `.`, `_` and an exponent's sign.
    fn number(&mut self, start: usize, line: u32, line_start: usize) -> Token {
        let mut i = start;
        while i < self.src.len() {
            let c = self.src[i];
            let sign = (c == b'+' || c == b'-')
                && matches!(self.at(i.wrapping_sub(1)), b'e' | b'E' | b'p' | b'P');
            if is_ident_byte(c) || c == b'.' || sign {
                i += 1;
            } else {
                break;
            }
        }
        self.pos = i;
        self.token(Kind::Other, start, line, line_start)
    }
}

/// The extents of the function literals that are directly a value of a top-level `var` spec.
/// `skip` holds the byte ranges of the function declarations, sorted.
pub fn scan(src: &[u8], skip: &[(usize, usize)]) -> Vec<Extent> {
    let mut lx = Lexer::new(src, skip);
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut decl_start = true;
    loop {
        let t = lx.next();
        match t.kind {
            Kind::Eof => return out,
            Kind::Semi => {
                if depth == 0 {
                    decl_start = true;
                }
                continue;
            }
            Kind::Ident if depth == 0 && decl_start && lx.src[t.start..t.end] == *b"var" => {
                var_decl(&mut lx, &mut out);
                // var_decl stops at the end of the declaration.
                decl_start = true;
                continue;
            }
            Kind::Open => depth += 1,
            Kind::Close => depth = depth.saturating_sub(1),
            _ => {}
        }
        decl_start = false;
    }
}

/// After `var`: one spec, or a parenthesized group of specs.
fn var_decl(lx: &mut Lexer<'_>, out: &mut Vec<Extent>) {
    let first = lx.next();
    if first.kind == Kind::Open && lx.src[first.start] == b'(' {
        // Specs until the group's `)`.
        loop {
            match spec(lx, None, out) {
                SpecEnd::Semi => continue,
                SpecEnd::Close | SpecEnd::Eof => return,
            }
        }
    }
    spec(lx, Some(first), out);
}

enum SpecEnd {
    /// At a `;` (explicit or inserted).
    Semi,
    /// At the `)` closing a group.
    Close,
    Eof,
}

/// Reads one `names [type] [= values]` spec; records the values that are bare func literals.
fn spec(lx: &mut Lexer<'_>, first: Option<Token>, out: &mut Vec<Extent>) -> SpecEnd {
    let mut depth = 0usize;
    let mut in_values = false;
    // At the start of a value: after `=` or a `,` among the values.
    let mut value_start = false;
    let mut pending = first;
    loop {
        let t = pending.take().unwrap_or_else(|| lx.next());
        let starts_value = value_start;
        value_start = false;
        match t.kind {
            Kind::Eof => return SpecEnd::Eof,
            Kind::Semi if depth == 0 => return SpecEnd::Semi,
            Kind::Close if depth == 0 => return SpecEnd::Close,
            Kind::Open => depth += 1,
            Kind::Close => depth -= 1,
            Kind::Assign if depth == 0 && !in_values => {
                in_values = true;
                value_start = true;
            }
            Kind::Comma if depth == 0 && in_values => value_start = true,
            Kind::Ident if starts_value && lx.src[t.start..t.end] == *b"func" => {
                let (end, after) = func_literal(lx);
                let Some(end) = end else {
                    pending = Some(after);
                    continue;
                };
                let bare = matches!(after.kind, Kind::Comma | Kind::Semi | Kind::Eof)
                    || (after.kind == Kind::Close && lx.src[after.start] == b')');
                if bare {
                    out.push(Extent {
                        start_line: t.line,
                        start_col: t.col,
                        end_line: end.line,
                        end_col: end.col + 1,
                    });
                }
                pending = Some(after);
            }
            _ => {}
        }
    }
}

/// After a `func` keyword in a value: skips the signature and the body. Returns the body's
/// closing brace (`None` when there is no body: a func type) and the token after it.
fn func_literal(lx: &mut Lexer<'_>) -> (Option<Token>, Token) {
    let mut depth = 0usize;
    let mut type_brace = false;
    loop {
        let t = lx.next();
        match t.kind {
            Kind::Eof => return (None, t),
            Kind::Open if depth == 0 && lx.src[t.start] == b'{' && !type_brace => {
                let close = skip_block(lx);
                return (close, lx.next());
            }
            Kind::Open => depth += 1,
            Kind::Close if depth == 0 => return (None, t),
            Kind::Close => depth -= 1,
            Kind::Semi | Kind::Comma if depth == 0 => return (None, t),
            _ => {}
        }
        type_brace =
            t.kind == Kind::Ident && matches!(&lx.src[t.start..t.end], b"struct" | b"interface");
    }
}

/// After an opening brace: up to and including its matching closing brace.
fn skip_block(lx: &mut Lexer<'_>) -> Option<Token> {
    let mut depth = 1usize;
    loop {
        let t = lx.next();
        match t.kind {
            Kind::Eof => return None,
            Kind::Open => depth += 1,
            Kind::Close => {
                depth -= 1;
                if depth == 0 {
                    return Some(t);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::GoParser;

    fn lines_cols(src: &str) -> Vec<(u32, u32, u32, u32)> {
        scan(src.as_bytes(), &[])
            .iter()
            .map(|e| (e.start_line, e.start_col, e.end_line, e.end_col))
            .collect()
    }

    /// The scan and tree-sitter agree (tree-sitter's result is what go/ast would say).
    fn agree(src: &str) {
        let ts: Vec<_> = GoParser::new()
            .unwrap()
            .analyze(src.as_bytes())
            .unwrap()
            .var_func_literals
            .iter()
            .map(|e| (e.start_line, e.start_col, e.end_line, e.end_col))
            .collect();
        assert_eq!(lines_cols(src), ts, "{src}");
    }

    #[test]
    fn direct_values_only() {
        let src = "package p\n\nvar A = func() {}\nvar (\n\tB, C = func() {}, 1\n\tD = (func() {})\n\tE func() = func() { x := `}` ; _ = x }\n)\nvar F = func() int { return 1 }()\nvar G = map[string]func(){\"f\": func() {}}\nvar H, I = 1, func(a struct{ x int }) struct{} {\n\treturn struct{}{}\n}\n";
        assert_eq!(
            lines_cols(src),
            [
                (3, 9, 3, 18),
                (5, 9, 5, 18),
                (7, 13, 7, 40),
                (11, 15, 13, 2)
            ]
        );
        agree(src);
    }

    #[test]
    fn comments_strings_and_odd_layouts() {
        for src in [
            "package p\n\n// var X = func() {}\nvar A = /* func */ func() { /* } */ }\n",
            "package p\nvar A = func() {\n\ts := \"}\"\n\tr := '}'\n\t_, _ = s, r\n} // done\nvar B = func() {} == nil\n",
            "package p\nvar (\n\tA = func() {}\n\tB = func() {}.\n\t\tc\n)\n",
            "package p\nconst c = 1; var A = func() {}; var B int\n",
            "package p\ntype T struct{ f func() }\nvar A, B func() = nil, func() {}\n",
            "package p\nvar A = func(f func() int) func() int {\n\treturn f\n}\nvar B = 1.5e+3\n",
        ] {
            agree(src);
        }
    }
}
