//! PostgreSQL's lexer, simplified, for the scans the core needs: statement boundaries
//! ([`has_multiple_statements`]) and the session-state scan of [`crate::session`]. It
//! follows the server's `standard_conforming_strings`: with it off, a backslash escapes
//! the next character in a plain `'...'` literal, as the server reads it.
#![forbid(unsafe_code)]

/// A token of PostgreSQL's lexer, as far as the scans below need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// An unquoted identifier or keyword.
    Word(&'a str),
    /// A `"quoted"` identifier (the text between the quotes, `""` left doubled).
    QuotedIdent(&'a str),
    /// A `U&"..."` identifier (escapes not decoded).
    UnicodeIdent,
    /// A string constant of any kind or a dollar-quoted string.
    Literal,
    Number,
    Param,
    Semicolon,
    Open,
    Close,
    /// Any other (ASCII) character: operators and punctuation.
    Punct(u8),
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_cont(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

/// PostgreSQL's lexer, simplified: whitespace and comments (`--`, nested `/* */`) are
/// skipped; `'...'`, `E'...'` (backslash escapes), `B'' X'' N'' U&''`, `$tag$...$tag$`,
/// `"..."` and `U&"..."` are single tokens; an unterminated one runs to the end.
/// With `standard == false` (`standard_conforming_strings = off`) a backslash escapes the
/// next character in `'...'` too, as the server reads it then.
pub(crate) struct Lexer<'a> {
    s: &'a str,
    pos: usize,
    standard: bool,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(s: &'a str, standard: bool) -> Self {
        Lexer {
            s,
            pos: 0,
            standard,
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    fn skip_space_and_comments(&mut self) {
        let b = self.bytes();
        loop {
            while self.pos < b.len()
                && matches!(b[self.pos], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
            {
                self.pos += 1;
            }
            if b[self.pos..].starts_with(b"--") {
                while self.pos < b.len() && b[self.pos] != b'\n' && b[self.pos] != b'\r' {
                    self.pos += 1;
                }
            } else if b[self.pos..].starts_with(b"/*") {
                self.pos += 2;
                let mut depth = 1;
                while self.pos < b.len() && depth > 0 {
                    if b[self.pos..].starts_with(b"/*") {
                        depth += 1;
                        self.pos += 2;
                    } else if b[self.pos..].starts_with(b"*/") {
                        depth -= 1;
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                    }
                }
            } else {
                return;
            }
        }
    }

    /// From the opening quote at `self.pos`; `backslash`: E'' rules. Returns whether the
    /// closing quote was found.
    fn quoted(&mut self, quote: u8, backslash: bool) -> bool {
        let b = self.bytes();
        let mut i = self.pos + 1;
        while i < b.len() {
            if backslash && b[i] == b'\\' {
                i += 2;
            } else if b[i] == quote {
                if b.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    self.pos = i + 1;
                    return true;
                }
            } else {
                i += 1;
            }
        }
        self.pos = b.len();
        false
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Tok<'a>;

    fn next(&mut self) -> Option<Tok<'a>> {
        self.skip_space_and_comments();
        let b = self.bytes();
        let start = self.pos;
        let c = *b.get(start)?;
        let at = |k: usize| b.get(start + k).copied();
        let tok = match c {
            b'\'' => {
                let _ = self.quoted(b'\'', !self.standard);
                Tok::Literal
            }
            b'"' => {
                let end = if self.quoted(b'"', false) {
                    self.pos - 1
                } else {
                    self.pos
                };
                Tok::QuotedIdent(&self.s[start + 1..end])
            }
            b'$' => {
                if at(1).is_some_and(|d| d.is_ascii_digit()) {
                    self.pos += 1;
                    while self.pos < b.len() && b[self.pos].is_ascii_digit() {
                        self.pos += 1;
                    }
                    Tok::Param
                } else {
                    let mut j = start + 1;
                    if j < b.len() && is_ident_start(b[j]) {
                        j += 1;
                        while j < b.len() && (is_ident_start(b[j]) || b[j].is_ascii_digit()) {
                            j += 1;
                        }
                    }
                    if j < b.len() && b[j] == b'$' {
                        let tag = &b[start..=j];
                        let body = j + 1;
                        self.pos = match b[body..].windows(tag.len()).position(|w| w == tag) {
                            Some(k) => body + k + tag.len(),
                            None => b.len(),
                        };
                        Tok::Literal
                    } else {
                        self.pos += 1;
                        Tok::Punct(b'$')
                    }
                }
            }
            b'e' | b'E' if at(1) == Some(b'\'') => {
                self.pos += 1;
                let _ = self.quoted(b'\'', true);
                Tok::Literal
            }
            b'b' | b'B' | b'x' | b'X' | b'n' | b'N' if at(1) == Some(b'\'') => {
                self.pos += 1;
                let _ = self.quoted(b'\'', false);
                Tok::Literal
            }
            b'u' | b'U' if at(1) == Some(b'&') && at(2) == Some(b'\'') => {
                self.pos += 2;
                let _ = self.quoted(b'\'', false);
                Tok::Literal
            }
            b'u' | b'U' if at(1) == Some(b'&') && at(2) == Some(b'"') => {
                self.pos += 2;
                let _ = self.quoted(b'"', false);
                Tok::UnicodeIdent
            }
            c if is_ident_start(c) => {
                self.pos += 1;
                while self.pos < b.len() && is_ident_cont(b[self.pos]) {
                    self.pos += 1;
                }
                Tok::Word(&self.s[start..self.pos])
            }
            c if c.is_ascii_digit() => {
                self.pos += 1;
                while self.pos < b.len()
                    && (b[self.pos].is_ascii_alphanumeric()
                        || b[self.pos] == b'_'
                        || b[self.pos] == b'.')
                {
                    self.pos += 1;
                }
                Tok::Number
            }
            b';' => {
                self.pos += 1;
                Tok::Semicolon
            }
            b'(' => {
                self.pos += 1;
                Tok::Open
            }
            b')' => {
                self.pos += 1;
                Tok::Close
            }
            c => {
                // ASCII: bytes >= 0x80 start identifiers, as in the server's lexer
                self.pos += 1;
                Tok::Punct(c)
            }
        };
        Some(tok)
    }
}

/// Tokens grouped into statements. With `psql_rules` the way psql splits them: a `;` ends
/// a statement outside parentheses and outside the `BEGIN ATOMIC ... END` body of
/// `CREATE [OR REPLACE] FUNCTION|PROCEDURE` (psql's heuristic: in such a statement
/// `BEGIN` and, inside it, `CASE` open a block that `END` closes; unlike psql, `BEGIN`
/// counts only when `ATOMIC` follows, so a function named `begin` does not swallow the
/// statements after it). Without, every `;` outside literals and comments ends one (more
/// boundaries than the server sees, never fewer).
pub(crate) struct Statements<'a> {
    lex: Lexer<'a>,
    psql_rules: bool,
    paren_depth: u32,
    begin_depth: u32,
    /// The previous token was `BEGIN` in a routine definition (outside parentheses).
    after_begin: bool,
    /// First letters of the statement's first four words when they are one of
    /// create / function / procedure / or / replace.
    idents: [u8; 4],
    ident_count: usize,
}

/// An item of [`Statements`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item<'a> {
    Tok(Tok<'a>),
    /// A `;` that ends the statement.
    End,
}

impl<'a> Statements<'a> {
    pub(crate) fn new(sql: &'a str, psql_rules: bool, standard: bool) -> Self {
        Statements {
            lex: Lexer::new(sql, standard),
            psql_rules,
            paren_depth: 0,
            begin_depth: 0,
            after_begin: false,
            idents: [0; 4],
            ident_count: 0,
        }
    }
}

impl<'a> Iterator for Statements<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        let tok = self.lex.next()?;
        let after_begin = std::mem::take(&mut self.after_begin);
        match tok {
            Tok::Open => self.paren_depth += 1,
            Tok::Close => self.paren_depth = self.paren_depth.saturating_sub(1),
            Tok::Semicolon
                if !self.psql_rules || (self.paren_depth == 0 && self.begin_depth == 0) =>
            {
                self.ident_count = 0;
                self.idents = [0; 4];
                return Some(Item::End);
            }
            Tok::Word(w) => {
                if self.ident_count < 4 {
                    for kw in ["create", "function", "procedure", "or", "replace"] {
                        if w.eq_ignore_ascii_case(kw) {
                            self.idents[self.ident_count] = kw.as_bytes()[0];
                        }
                    }
                }
                self.ident_count += 1;
                let id = &self.idents;
                let routine = id[0] == b'c'
                    && (id[1] == b'f'
                        || id[1] == b'p'
                        || (id[1] == b'o' && id[2] == b'r' && (id[3] == b'f' || id[3] == b'p')));
                if routine && self.paren_depth == 0 {
                    if w.eq_ignore_ascii_case("begin") {
                        self.after_begin = true;
                    } else if w.eq_ignore_ascii_case("atomic") {
                        if after_begin {
                            self.begin_depth += 1;
                        }
                    } else if w.eq_ignore_ascii_case("case") {
                        if self.begin_depth >= 1 {
                            self.begin_depth += 1;
                        }
                    } else if w.eq_ignore_ascii_case("end") {
                        self.begin_depth = self.begin_depth.saturating_sub(1);
                    }
                }
            }
            _ => {}
        }
        Some(Item::Tok(tok))
    }
}

/// True when `sql` holds more than one non-empty statement: a `;` that ends a statement
/// (outside literals, comments, quoted identifiers, parentheses and `BEGIN ATOMIC ... END`
/// bodies) followed by more than whitespace, comments and further `;`.
pub fn has_multiple_statements(sql: &str, standard: bool) -> bool {
    let mut statements = 0;
    let mut current_has_tokens = false;
    for item in Statements::new(sql, true, standard) {
        match item {
            Item::End => current_has_tokens = false,
            Item::Tok(_) => {
                if !current_has_tokens {
                    current_has_tokens = true;
                    statements += 1;
                    if statements > 1 {
                        return true;
                    }
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- lexical scans --------------------------------------------------------------

    #[test]
    fn multiple_statements() {
        for sql in [
            "SELECT 1",
            "SELECT 1;",
            "SELECT 1; ",
            "SELECT 1;;  ;",
            "SELECT 1; -- trailing comment",
            "SELECT 1; /* c /* nested */ */",
            "; SELECT 1",
            "",
            "SELECT ';'",
            "SELECT 'a'';'",
            "SELECT E'\\';' ",
            "SELECT e'a''b;c'",
            "SELECT $$;$$",
            "SELECT $a$ $$; $a$",
            "SELECT $a$;$b$;$a$",
            "SELECT $a$ unterminated; SELECT 1",
            "SELECT 'unterminated; SELECT 2",
            "SELECT \";\"",
            "SELECT U&\"a;\"",
            "SELECT U&'\\0041;'",
            "SELECT B'01', X'1;'",
            "/* ; /* nested ; */ ; */ SELECT 1",
            "-- ;\nSELECT 1",
            "SELECT 1 -- ; SELECT 2",
            "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END",
            "create or replace procedure p() language sql begin atomic insert into t values (case when true then 1 end); end;",
            "SELECT (1; SELECT 2",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN /* c */ ATOMIC SELECT 1; SELECT 2; END;",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT CASE WHEN false THEN 2 ELSE 3 END; END",
        ] {
            assert!(!has_multiple_statements(sql, true), "{sql:?}");
        }
        for sql in [
            "SELECT 1; SELECT 2",
            "SELECT 1;SELECT 2;",
            "SELECT '\\'; SELECT 1",
            "SELECT a$b$; SELECT 1",
            "SELECT $1; SELECT 2",
            "SELECT 1; /* c */ x",
            "BEGIN; SET x = 1",
            "SELECT 'a' ; -- c\n SELECT 2",
            "SELECT \"a\"\";\"; SELECT 1",
            "SELECT $a$ $b$ $a$; SELECT 1",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END; SELECT 1",
            "create procedure p() language sql begin atomic select case when true then 1 end; end; select 1",
            "CREATE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql; SELECT 1",
            "CREATE FUNCTION begin() RETURNS int AS 'select 1' LANGUAGE sql; SELECT 42",
            "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT 1; END ; /* c */ SELECT 2",
        ] {
            assert!(has_multiple_statements(sql, true), "{sql:?}");
        }
    }

    #[test]
    fn backslashes_follow_standard_conforming_strings() {
        // on: the backslash is a character, the quote after it ends the literal
        assert!(has_multiple_statements("SELECT 'a\\'; SELECT 1", true));
        // off: it escapes the quote, the literal runs on and `;` is inside it
        assert!(!has_multiple_statements("SELECT 'a\\'; SELECT 1", false));
        assert!(has_multiple_statements("SELECT 'a\\''; SELECT 1", false));
        // E'' literals read backslashes either way
        assert!(!has_multiple_statements("SELECT E'a\\'; SELECT 1", true));
    }

    #[test]
    fn punctuation_and_non_ascii_bytes() {
        let toks: Vec<Tok<'_>> = Lexer::new("a::b é", true).collect();
        assert_eq!(
            toks,
            vec![
                Tok::Word("a"),
                Tok::Punct(b':'),
                Tok::Punct(b':'),
                Tok::Word("b"),
                Tok::Word("é"),
            ]
        );
    }
}
