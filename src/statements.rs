//! The SQL text the faces send on the caller's behalf, built once here: psycopg2's named
//! (server-side) cursors (`DECLARE`, `FETCH`, `MOVE`, `CLOSE` and the existence check),
//! `callproc`, `copy_from` / `copy_to`, and the direction of a `COPY` statement read with
//! the core's lexer. No I/O; the faces run what is built here.

use crate::error::Result;
use crate::lexer::{Lexer, Tok};
use crate::sql::{quote_string, Quoting};

/// libpq's `PQescapeIdentifier`: always quoted, `"` doubled.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The start of psycopg2's `DECLARE` for a named cursor, up to and including `FOR `: the
/// caller appends the query. `scroll`: `Some(true)` `SCROLL`, `Some(false)` `NO
/// SCROLL`, `None` the server's default.
pub fn declare_cursor(name: &str, scroll: Option<bool>, hold: bool) -> String {
    let scroll = match scroll {
        Some(true) => "SCROLL ",
        Some(false) => "NO SCROLL ",
        None => "",
    };
    let hold = if hold { "WITH" } else { "WITHOUT" };
    format!(
        "DECLARE {} {scroll}CURSOR {hold} HOLD FOR ",
        quote_ident(name)
    )
}

/// How many rows a `FETCH` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchCount {
    /// `FETCH FORWARD ALL`.
    All,
    /// `FETCH FORWARD <n>`.
    Rows(i64),
}

/// `FETCH FORWARD <count> FROM "name"` (psycopg2 fetches this way for every fetch call
/// on a named cursor).
pub fn fetch_cursor(name: &str, count: FetchCount) -> String {
    let name = quote_ident(name);
    match count {
        FetchCount::All => format!("FETCH FORWARD ALL FROM {name}"),
        FetchCount::Rows(n) => format!("FETCH FORWARD {n} FROM {name}"),
    }
}

/// `MOVE [ABSOLUTE] <value> FROM "name"` (psycopg2's `scroll` on a named cursor).
pub fn move_cursor(name: &str, value: i64, absolute: bool) -> String {
    let abs = if absolute { "ABSOLUTE " } else { "" };
    format!("MOVE {abs}{value} FROM {}", quote_ident(name))
}

/// `CLOSE "name"`.
pub fn close_cursor(name: &str) -> String {
    format!("CLOSE {}", quote_ident(name))
}

/// A query with one row when the session has an open cursor named `name` (a cursor the
/// server opened, e.g. a function returning a `refcursor`, may be closed only then).
pub fn cursor_exists(name: &str, q: Quoting) -> Result<String> {
    let mut sql = String::from("SELECT 1 FROM pg_catalog.pg_cursors WHERE name = ");
    quote_string(name, q, &mut sql)?;
    Ok(sql)
}

/// psycopg2's `callproc`: `SELECT * FROM procname(%s,%s)` for `positional` arguments, or
/// `SELECT * FROM procname("a":=%s,"b":=%s)` for named ones; the caller interpolates the
/// values. `procname` goes as given (psycopg2 does not quote it).
pub fn callproc(procname: &str, positional: usize, named: &[String]) -> String {
    let mut sql = format!("SELECT * FROM {procname}(");
    if named.is_empty() {
        sql.push_str(&vec!["%s"; positional].join(","));
    } else {
        let parts: Vec<String> = named
            .iter()
            .map(|k| format!("{}:=%s", quote_ident(k)))
            .collect();
        sql.push_str(&parts.join(","));
    }
    sql.push(')');
    sql
}

/// Which way a `COPY` goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyDirection {
    /// `COPY ... FROM STDIN`: the client sends data.
    In,
    /// `COPY ... TO STDOUT`: the server sends data.
    Out,
    /// Not a COPY with the client (a plain statement, or COPY to/from a file).
    Neither,
}

/// psycopg2's `copy_from` / `copy_to` statement: `COPY "table"("a","b") FROM stdin WITH
/// DELIMITER AS '\t' NULL AS '\N'` (`TO stdout` for [`CopyDirection::Out`]), the literals
/// quoted for the session.
pub fn copy_table(
    direction: CopyDirection,
    table: &str,
    columns: &[String],
    sep: &str,
    null: &str,
    q: Quoting,
) -> Result<String> {
    let mut sql = format!("COPY {}", quote_ident(table));
    if !columns.is_empty() {
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        sql.push('(');
        sql.push_str(&cols.join(","));
        sql.push(')');
    }
    sql.push_str(match direction {
        CopyDirection::Out => " TO stdout WITH DELIMITER AS ",
        _ => " FROM stdin WITH DELIMITER AS ",
    });
    quote_string(sep, q, &mut sql)?;
    sql.push_str(" NULL AS ");
    quote_string(null, q, &mut sql)?;
    Ok(sql)
}

/// The direction of a `COPY` statement: the words `FROM STDIN` or `TO STDOUT` (any case)
/// outside literals, quoted identifiers and comments, read with the core's lexer under the
/// session's `standard_conforming_strings`.
pub fn copy_direction(sql: &str, standard_strings: bool) -> CopyDirection {
    let mut prev: Option<&str> = None;
    for tok in Lexer::new(sql, standard_strings) {
        let word = match tok {
            Tok::Word(w) => Some(w),
            _ => None,
        };
        if let (Some(p), Some(w)) = (prev, word) {
            if p.eq_ignore_ascii_case("FROM") && w.eq_ignore_ascii_case("STDIN") {
                return CopyDirection::In;
            }
            if p.eq_ignore_ascii_case("TO") && w.eq_ignore_ascii_case("STDOUT") {
                return CopyDirection::Out;
            }
        }
        prev = word;
    }
    CopyDirection::Neither
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_cursor_statements_are_psycopg2s() {
        assert_eq!(
            declare_cursor("c\"1", Some(true), true),
            "DECLARE \"c\"\"1\" SCROLL CURSOR WITH HOLD FOR "
        );
        assert_eq!(
            declare_cursor("c", Some(false), false),
            "DECLARE \"c\" NO SCROLL CURSOR WITHOUT HOLD FOR "
        );
        assert_eq!(
            declare_cursor("c", None, false),
            "DECLARE \"c\" CURSOR WITHOUT HOLD FOR "
        );
        assert_eq!(
            fetch_cursor("c", FetchCount::Rows(2000)),
            "FETCH FORWARD 2000 FROM \"c\""
        );
        assert_eq!(
            fetch_cursor("c", FetchCount::All),
            "FETCH FORWARD ALL FROM \"c\""
        );
        assert_eq!(move_cursor("c", -3, false), "MOVE -3 FROM \"c\"");
        assert_eq!(move_cursor("c", 5, true), "MOVE ABSOLUTE 5 FROM \"c\"");
        assert_eq!(close_cursor("c"), "CLOSE \"c\"");
        assert_eq!(
            cursor_exists("it's", Quoting::Standard).unwrap(),
            "SELECT 1 FROM pg_catalog.pg_cursors WHERE name = 'it''s'"
        );
        assert!(cursor_exists("a\0b", Quoting::Standard).is_err());
    }

    #[test]
    fn callproc_text() {
        assert_eq!(callproc("f", 0, &[]), "SELECT * FROM f()");
        assert_eq!(callproc("f", 2, &[]), "SELECT * FROM f(%s,%s)");
        assert_eq!(
            callproc("s.f", 0, &["a".into(), "b\"".into()]),
            "SELECT * FROM s.f(\"a\":=%s,\"b\"\"\":=%s)"
        );
    }

    #[test]
    fn copy_table_text() {
        assert_eq!(
            copy_table(CopyDirection::In, "t", &[], "\t", "\\N", Quoting::Standard).unwrap(),
            "COPY \"t\" FROM stdin WITH DELIMITER AS '\t' NULL AS '\\N'"
        );
        assert_eq!(
            copy_table(
                CopyDirection::Out,
                "t",
                &["a".into(), "b".into()],
                ",",
                "",
                Quoting::Escape
            )
            .unwrap(),
            "COPY \"t\"(\"a\",\"b\") TO stdout WITH DELIMITER AS E',' NULL AS E''"
        );
    }

    #[test]
    fn copy_direction_reads_words_not_text() {
        use CopyDirection::*;
        assert_eq!(copy_direction("COPY t FROM STDIN", true), In);
        assert_eq!(copy_direction("copy t(a) from stdin with csv", true), In);
        assert_eq!(copy_direction("COPY (SELECT 1) TO STDOUT", true), Out);
        assert_eq!(copy_direction("COPY t TO '/tmp/x'", true), Neither);
        assert_eq!(copy_direction("SELECT 1", true), Neither);
        // Inside a literal, a quoted identifier or a comment it is not the direction.
        assert_eq!(
            copy_direction("COPY t FROM '/x' -- from stdin", true),
            Neither
        );
        assert_eq!(copy_direction("COPY t TO 'to stdout'", true), Neither);
        assert_eq!(
            copy_direction("COPY \"from\" FROM \"stdin\"", true),
            Neither
        );
        // Under standard_conforming_strings = off a backslash escapes the quote.
        assert_eq!(
            copy_direction("COPY t FROM 'a\\' from stdin '", false),
            Neither
        );
        assert_eq!(copy_direction("COPY t FROM 'a\\' FROM STDIN", true), In);
    }
}
