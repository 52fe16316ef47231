//! What a connection's user may have left in its session, and the reset that undoes it
//! before the next user gets the connection (see `docs/DESIGN.md`, "Session state").
//!
//! The connection records a [`Dirty`] set from three sources: this module's lexical scan
//! of every statement it sends ([`scan`]), the server's `ParameterStatus` messages (a
//! reported setting changed: [`Dirty::SETTINGS`]) and the face's own knowledge (e.g.
//! `set_session` in autocommit). The scan is conservative: whatever it cannot tell is
//! harmless counts as dirty — a call of any function that is not a known built-in
//! without session effects, `DO`, `CALL`, `LOAD`, an identifier it cannot decode. So code
//! the scan cannot read (a user function, a procedure) always leads to the full reset;
//! only triggers, rules and defaults that change session state behind a plain
//! `INSERT`/`UPDATE`/`DELETE` are out of its sight, except their use of sequences (every
//! data-modifying statement counts as using one).
//!
//! [`reset_sql`] is the reset for a set: only the statements its kinds need, cheap
//! utility statements (a few microseconds of server time each) except the advisory-lock
//! release, a `SELECT`. The connection sends it in the same Query message as the
//! `COMMIT`/`ROLLBACK` that ends a block, so that a transaction pooler (PgBouncer) cannot
//! hand the server connection to another client in between.
#![forbid(unsafe_code)]

use crate::lexer::{Item, Statements, Tok};

/// Kinds of session state a user can leave behind, each with its own reset statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dirty(u8);

impl Dirty {
    /// Clean.
    pub const NONE: Dirty = Dirty(0);
    /// Settings, the role and the session user (`SET`, `RESET`, `set_config()`,
    /// `SET ROLE`, `SET SESSION AUTHORIZATION`, `UPDATE pg_settings`, a reported
    /// setting that changed): `SET SESSION AUTHORIZATION DEFAULT; RESET ALL`.
    pub const SETTINGS: Dirty = Dirty(1);
    /// `LISTEN`: `UNLISTEN *`.
    pub const LISTEN: Dirty = Dirty(1 << 1);
    /// Session-level advisory locks: `SELECT pg_advisory_unlock_all()`.
    pub const ADVISORY_LOCKS: Dirty = Dirty(1 << 2);
    /// Cursors `WITH HOLD`: `CLOSE ALL`.
    pub const CURSORS: Dirty = Dirty(1 << 3);
    /// Prepared statements (`PREPARE`): `DEALLOCATE ALL`.
    pub const PREPARED: Dirty = Dirty(1 << 4);
    /// Temporary tables, views, sequences, functions: `DISCARD TEMP`.
    pub const TEMP: Dirty = Dirty(1 << 5);
    /// `currval()`/`lastval()` of sequences used in the session: `DISCARD SEQUENCES`.
    pub const SEQUENCES: Dirty = Dirty(1 << 6);
    /// Everything (code the scan cannot read).
    pub const ALL: Dirty = Dirty((1 << 7) - 1);

    /// True when nothing needs resetting.
    pub fn is_clean(self) -> bool {
        self.0 == 0
    }

    /// True when every kind of `other` is in `self`.
    pub fn contains(self, other: Dirty) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Dirty {
    type Output = Dirty;
    fn bitor(self, o: Dirty) -> Dirty {
        Dirty(self.0 | o.0)
    }
}

impl std::ops::BitOrAssign for Dirty {
    fn bitor_assign(&mut self, o: Dirty) {
        self.0 |= o.0;
    }
}

/// The reset statements, in the order they run, each for its kind.
const RESETS: [(Dirty, &str); 7] = [
    (
        Dirty::SETTINGS,
        "SET SESSION AUTHORIZATION DEFAULT;RESET ALL;",
    ),
    (Dirty::LISTEN, "UNLISTEN *;"),
    (Dirty::ADVISORY_LOCKS, "SELECT pg_advisory_unlock_all();"),
    (Dirty::CURSORS, "CLOSE ALL;"),
    (Dirty::PREPARED, "DEALLOCATE ALL;"),
    (Dirty::TEMP, "DISCARD TEMP;"),
    (Dirty::SEQUENCES, "DISCARD SEQUENCES;"),
];

/// Appends the statements that reset `d` (each ends with `;`); nothing when clean. They
/// may run inside a transaction block or a multi-statement message (no `DISCARD ALL`).
pub fn reset_sql(d: Dirty, out: &mut String) {
    for (kind, sql) in RESETS {
        if d.contains(kind) {
            out.push_str(sql);
        }
    }
}

/// Built-in functions (and type names used as functions or with a type modifier) that
/// leave no session state behind: calling one of these is clean. Sorted, lowercase.
const CLEAN_FUNCTIONS: &[&str] = &[
    "abs",
    "acos",
    "age",
    "array_agg",
    "array_append",
    "array_cat",
    "array_dims",
    "array_fill",
    "array_length",
    "array_lower",
    "array_ndims",
    "array_position",
    "array_positions",
    "array_prepend",
    "array_remove",
    "array_replace",
    "array_to_json",
    "array_to_string",
    "array_upper",
    "ascii",
    "asin",
    "atan",
    "atan2",
    "avg",
    "bigint",
    "bit",
    "bit_and",
    "bit_length",
    "bit_or",
    "bool",
    "bool_and",
    "bool_or",
    "boolean",
    "bpchar",
    "btrim",
    "bytea",
    "cardinality",
    "cbrt",
    "ceil",
    "ceiling",
    "char",
    "char_length",
    "character",
    "character_length",
    "chr",
    "cidr",
    "clock_timestamp",
    "coalesce",
    "col_description",
    "concat",
    "concat_ws",
    "convert_from",
    "convert_to",
    "corr",
    "cos",
    "cot",
    "count",
    "covar_pop",
    "covar_samp",
    "cume_dist",
    "current_database",
    "current_schema",
    "current_schemas",
    "current_setting",
    "currval",
    "date",
    "date_bin",
    "date_part",
    "date_trunc",
    "daterange",
    "dec",
    "decimal",
    "decode",
    "degrees",
    "dense_rank",
    "div",
    "double",
    "encode",
    "every",
    "exp",
    "first_value",
    "float",
    "float4",
    "float8",
    "floor",
    "format",
    "format_type",
    "gcd",
    "gen_random_uuid",
    "generate_series",
    "generate_subscripts",
    "greatest",
    "has_column_privilege",
    "has_database_privilege",
    "has_function_privilege",
    "has_schema_privilege",
    "has_sequence_privilege",
    "has_table_privilege",
    "host",
    "inet",
    "initcap",
    "int",
    "int2",
    "int4",
    "int4range",
    "int8",
    "int8range",
    "integer",
    "interval",
    "isfinite",
    "json",
    "json_agg",
    "json_array_elements",
    "json_array_elements_text",
    "json_array_length",
    "json_build_array",
    "json_build_object",
    "json_each",
    "json_each_text",
    "json_extract_path",
    "json_extract_path_text",
    "json_object",
    "json_object_agg",
    "json_object_keys",
    "json_populate_record",
    "json_populate_recordset",
    "json_strip_nulls",
    "json_to_record",
    "json_to_recordset",
    "json_typeof",
    "jsonb",
    "jsonb_agg",
    "jsonb_array_elements",
    "jsonb_array_elements_text",
    "jsonb_array_length",
    "jsonb_build_array",
    "jsonb_build_object",
    "jsonb_each",
    "jsonb_each_text",
    "jsonb_extract_path",
    "jsonb_extract_path_text",
    "jsonb_insert",
    "jsonb_object",
    "jsonb_object_agg",
    "jsonb_object_keys",
    "jsonb_path_exists",
    "jsonb_path_match",
    "jsonb_path_query",
    "jsonb_path_query_array",
    "jsonb_path_query_first",
    "jsonb_populate_record",
    "jsonb_populate_recordset",
    "jsonb_pretty",
    "jsonb_set",
    "jsonb_set_lax",
    "jsonb_strip_nulls",
    "jsonb_to_record",
    "jsonb_to_recordset",
    "jsonb_typeof",
    "justify_days",
    "justify_hours",
    "justify_interval",
    "lag",
    "last_value",
    "lastval",
    "lcm",
    "lead",
    "least",
    "left",
    "length",
    "ln",
    "log",
    "log10",
    "lower",
    "lpad",
    "ltrim",
    "macaddr",
    "make_date",
    "make_interval",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "max",
    "md5",
    "min",
    "mod",
    "mode",
    "money",
    "name",
    "nchar",
    "now",
    "nth_value",
    "ntile",
    "nullif",
    "num_nonnulls",
    "num_nulls",
    "numeric",
    "numrange",
    "octet_length",
    "oid",
    "overlay",
    "percent_rank",
    "percentile_cont",
    "percentile_disc",
    "pg_advisory_unlock",
    "pg_advisory_unlock_all",
    "pg_advisory_unlock_shared",
    "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared",
    "pg_backend_pid",
    "pg_cancel_backend",
    "pg_client_encoding",
    "pg_column_size",
    "pg_current_wal_insert_lsn",
    "pg_current_wal_lsn",
    "pg_current_xact_id",
    "pg_current_xact_id_if_assigned",
    "pg_database_size",
    "pg_encoding_to_char",
    "pg_get_constraintdef",
    "pg_get_expr",
    "pg_get_function_arguments",
    "pg_get_functiondef",
    "pg_get_indexdef",
    "pg_get_serial_sequence",
    "pg_get_userbyid",
    "pg_get_viewdef",
    "pg_has_role",
    "pg_indexes_size",
    "pg_is_in_recovery",
    "pg_last_wal_receive_lsn",
    "pg_last_wal_replay_lsn",
    "pg_last_xact_replay_timestamp",
    "pg_listening_channels",
    "pg_my_temp_schema",
    "pg_notify",
    "pg_postmaster_start_time",
    "pg_relation_size",
    "pg_size_pretty",
    "pg_sleep",
    "pg_table_is_visible",
    "pg_table_size",
    "pg_terminate_backend",
    "pg_total_relation_size",
    "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared",
    "pg_typeof",
    "pi",
    "plainto_tsquery",
    "position",
    "power",
    "quote_ident",
    "quote_literal",
    "quote_nullable",
    "radians",
    "random",
    "rank",
    "real",
    "regclass",
    "regexp_count",
    "regexp_instr",
    "regexp_like",
    "regexp_match",
    "regexp_matches",
    "regexp_replace",
    "regexp_split_to_array",
    "regexp_split_to_table",
    "regexp_substr",
    "repeat",
    "replace",
    "reverse",
    "right",
    "round",
    "row_number",
    "row_to_json",
    "rpad",
    "rtrim",
    "scale",
    "setweight",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "sign",
    "sin",
    "smallint",
    "split_part",
    "sqrt",
    "starts_with",
    "statement_timestamp",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "string_agg",
    "string_to_array",
    "string_to_table",
    "strpos",
    "substr",
    "substring",
    "sum",
    "tan",
    "text",
    "time",
    "timeofday",
    "timestamp",
    "timestamptz",
    "timetz",
    "timezone",
    "to_char",
    "to_date",
    "to_hex",
    "to_json",
    "to_jsonb",
    "to_number",
    "to_regclass",
    "to_timestamp",
    "to_tsquery",
    "to_tsvector",
    "transaction_timestamp",
    "translate",
    "trim",
    "trim_scale",
    "trunc",
    "ts_headline",
    "ts_rank",
    "ts_rank_cd",
    "tsquery",
    "tsrange",
    "tstzrange",
    "tsvector",
    "txid_current",
    "txid_current_if_assigned",
    "unnest",
    "upper",
    "uuid",
    "uuid_generate_v4",
    "var_pop",
    "var_samp",
    "varbit",
    "varchar",
    "variance",
    "varying",
    "version",
    "websearch_to_tsquery",
    "width_bucket",
    "xml",
];

/// Keywords that a `(` may follow without a function call: the word before the
/// parenthesis is not a function name. Sorted, lowercase.
const KEYWORDS_BEFORE_PAREN: &[&str] = &[
    "all",
    "and",
    "any",
    "array",
    "as",
    "bernoulli",
    "between",
    "by",
    "case",
    "cast",
    "check",
    "conflict",
    "default",
    "distinct",
    "do",
    "else",
    "escape",
    "except",
    "exclude",
    "exists",
    "extract",
    "filter",
    "for",
    "foreign",
    "from",
    "group",
    "groups",
    "having",
    "ilike",
    "in",
    "include",
    "index",
    "intersect",
    "into",
    "is",
    "join",
    "key",
    "lateral",
    "like",
    "limit",
    "materialized",
    "not",
    "null",
    "of",
    "offset",
    "on",
    "or",
    "over",
    "partition",
    "primary",
    "range",
    "recursive",
    "references",
    "repeatable",
    "return",
    "returning",
    "row",
    "rows",
    "select",
    "set",
    "similar",
    "some",
    "system",
    "table",
    "tablesample",
    "then",
    "union",
    "unique",
    "using",
    "values",
    "when",
    "where",
    "window",
    "with",
    "within",
];

/// Words after which the next name is a relation or an alias, so `name (` is a column
/// list, not a call (`INSERT INTO t (a)`, `REFERENCES t (id)`, `WITH x (a) AS`, `AS x (a)`).
const RELATION_CONTEXT: &[&str] = &[
    "aggregate",
    "as",
    "exists",
    "function",
    "into",
    "only",
    "procedure",
    "recursive",
    "references",
    "routine",
    "table",
    "type",
    "view",
    "with",
];

fn in_sorted(list: &[&str], word: &str) -> bool {
    if word.len() > 40 || !word.is_ascii() {
        return false;
    }
    let lower = word.to_ascii_lowercase();
    list.binary_search(&lower.as_str()).is_ok()
}

fn is(w: &str, kw: &str) -> bool {
    w.eq_ignore_ascii_case(kw)
}

/// What calling function `name` (schema `schema`, if qualified) may leave behind.
fn function_effect(schema: Option<&str>, name: &str) -> Dirty {
    if let Some(s) = schema {
        if !is(s, "pg_catalog") {
            return Dirty::ALL; // another schema (pg_temp too): code we cannot read
        }
    }
    if is(name, "set_config") {
        Dirty::SETTINGS
    } else if [
        "pg_advisory_lock",
        "pg_advisory_lock_shared",
        "pg_try_advisory_lock",
        "pg_try_advisory_lock_shared",
    ]
    .iter()
    .any(|f| is(name, f))
    {
        Dirty::ADVISORY_LOCKS
    } else if is(name, "nextval") || is(name, "setval") {
        Dirty::SEQUENCES
    } else if in_sorted(CLEAN_FUNCTIONS, name) {
        Dirty::NONE
    } else {
        Dirty::ALL
    }
}

/// The word a token is, when it is an unquoted word.
fn word_of<'a>(t: Option<&Tok<'a>>) -> Option<&'a str> {
    match t {
        Some(Tok::Word(w)) => Some(w),
        _ => None,
    }
}

/// A `SET` statement's second word that makes it transaction-scoped, unless a `.`
/// follows it (`SET local.x` is a custom session setting).
fn scoped_set(second: Option<&str>) -> bool {
    second.is_some_and(|w| is(w, "local") || is(w, "transaction") || is(w, "constraints"))
}

/// The name a token stands for, when it is a name.
fn name_of<'a>(t: Option<&Tok<'a>>) -> Option<&'a str> {
    match t {
        Some(Tok::Word(w)) | Some(Tok::QuotedIdent(w)) => Some(w),
        _ => None,
    }
}

fn starts_pg_temp(name: &str) -> bool {
    name.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("pg_temp"))
}

/// The session state `sql` may leave behind (outside literals and comments,
/// case-insensitive); `standard` is the connection's `standard_conforming_strings`.
/// Conservative: see the module docs. The triggers:
/// - a statement starting with `SET` (not `SET LOCAL x`, `SET TRANSACTION ...`,
///   `SET CONSTRAINTS ...`: settings named `local.x` or `transaction.x` are session
///   settings), `RESET`, `LISTEN`, `PREPARE`, `DECLARE ... WITH HOLD`; `DO`, `CALL` and
///   `LOAD` (code not read here: everything);
/// - `TEMP` / `TEMPORARY` after `CREATE`, `OR REPLACE`, `GLOBAL`, `LOCAL` or `INTO`;
///   any identifier starting with `pg_temp`;
/// - `INSERT`, `UPDATE` (not `FOR UPDATE`), `DELETE`, `MERGE`, `COPY`: sequences (a
///   default, a trigger); `UPDATE pg_settings`: settings;
/// - a function call (a name followed by `(`): `set_config` (settings), the session-level
///   advisory lock functions, `nextval`/`setval` (sequences), a built-in known to be
///   clean (nothing), anything else — user functions, other schemas — everything;
/// - a `U&"..."` identifier (not decoded): everything.
pub fn scan(sql: &str, standard: bool) -> Dirty {
    let mut d = Dirty::NONE;
    // The statement's first word and how many tokens it has had.
    let mut first: Option<&str> = None;
    let mut len = 0usize;
    // The last four tokens, most recent first.
    let mut last: [Option<Tok<'_>>; 4] = [None; 4];
    // In a DECLARE, the previous word was WITH.
    let mut declare_with = false;
    for item in Statements::new(sql, false, standard) {
        let tok = match item {
            Item::End => {
                // `SET` with fewer than three tokens (a syntax error) still counts
                if len <= 2 && first.is_some_and(|f| is(f, "set")) {
                    d |= Dirty::SETTINGS;
                }
                first = None;
                len = 0;
                last = [None; 4];
                declare_with = false;
                continue;
            }
            Item::Tok(t) => t,
        };
        len += 1;
        if len == 1 {
            if let Tok::Word(w) = tok {
                first = Some(w);
                if is(w, "reset") {
                    d |= Dirty::SETTINGS;
                } else if is(w, "listen") {
                    d |= Dirty::LISTEN;
                } else if is(w, "prepare") {
                    d |= Dirty::PREPARED;
                } else if is(w, "do") || is(w, "call") || is(w, "load") {
                    d |= Dirty::ALL;
                } else if is(w, "copy") {
                    d |= Dirty::SEQUENCES;
                }
            }
        } else if len == 3 && first.is_some_and(|f| is(f, "set")) {
            // decided at the third token: `SET local.x` is a session setting
            if !scoped_set(word_of(last[0].as_ref())) || tok == Tok::Punct(b'.') {
                d |= Dirty::SETTINGS;
            }
        }
        match tok {
            Tok::Word(w) => {
                let prev = word_of(last[0].as_ref());
                if (is(w, "temp") || is(w, "temporary"))
                    && prev.is_some_and(|p| {
                        ["create", "replace", "global", "local", "into"]
                            .iter()
                            .any(|k| is(p, k))
                    })
                {
                    d |= Dirty::TEMP;
                }
                if starts_pg_temp(w) {
                    d |= Dirty::TEMP;
                }
                let modifies = is(w, "insert")
                    || is(w, "delete")
                    || is(w, "merge")
                    || (is(w, "update")
                        && !prev.is_some_and(|p| is(p, "for") || is(p, "key") || is(p, "on")));
                if modifies {
                    d |= Dirty::SEQUENCES;
                }
                if is(w, "pg_settings") && first.is_some_and(|f| is(f, "update")) {
                    d |= Dirty::SETTINGS;
                }
                if first.is_some_and(|f| is(f, "declare")) {
                    if declare_with && is(w, "hold") {
                        d |= Dirty::CURSORS;
                    }
                    declare_with = is(w, "with");
                }
            }
            Tok::QuotedIdent(name) => {
                if starts_pg_temp(name) {
                    d |= Dirty::TEMP;
                }
                declare_with = false;
            }
            Tok::UnicodeIdent => d |= Dirty::ALL,
            Tok::Open => {
                d |= call_effect(&last, first);
                declare_with = false;
            }
            _ => declare_with = false,
        }
        last = [Some(tok), last[0], last[1], last[2]];
        if d == Dirty::ALL {
            return d;
        }
    }
    if len <= 2 && first.is_some_and(|f| is(f, "set")) {
        d |= Dirty::SETTINGS;
    }
    d
}

/// A `(` after `last` (most recent first): the effect of the function it calls, if it
/// calls one.
fn call_effect(last: &[Option<Tok<'_>>; 4], first: Option<&str>) -> Dirty {
    let Some(name) = name_of(last[0].as_ref()) else {
        return Dirty::NONE;
    };
    let quoted = matches!(last[0], Some(Tok::QuotedIdent(_)));
    // `schema.name(`: the schema, and the token before the whole name
    let (schema, before) = if last[1] == Some(Tok::Punct(b'.')) {
        (name_of(last[2].as_ref()), last[3])
    } else {
        (None, last[1])
    };
    if schema.is_none() && !quoted && in_sorted(KEYWORDS_BEFORE_PAREN, name) {
        return Dirty::NONE;
    }
    match before {
        // `x::numeric(10,2)`: a type modifier
        Some(Tok::Punct(b':')) => return Dirty::NONE,
        Some(Tok::Word(w)) => {
            if in_sorted(RELATION_CONTEXT, w) {
                return Dirty::NONE;
            }
            // `CREATE INDEX i ON t (a)`, `... ON t (a)` of a DDL statement
            if is(w, "on") && first.is_some_and(|f| is(f, "create") || is(f, "alter")) {
                return Dirty::NONE;
            }
        }
        _ => {}
    }
    function_effect(schema, name)
}

/// True when `sql` may leave session state behind ([`scan`], with
/// `standard_conforming_strings` on).
pub fn changes_session_state(sql: &str) -> bool {
    !scan(sql, true).is_clean()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted() {
        for list in [CLEAN_FUNCTIONS, KEYWORDS_BEFORE_PAREN, RELATION_CONTEXT] {
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted, list.to_vec());
        }
    }

    #[test]
    fn reset_statements_follow_the_kinds() {
        let mut s = String::new();
        reset_sql(Dirty::NONE, &mut s);
        assert_eq!(s, "");
        reset_sql(Dirty::SEQUENCES, &mut s);
        assert_eq!(s, "DISCARD SEQUENCES;");
        s.clear();
        reset_sql(Dirty::ALL, &mut s);
        assert_eq!(
            s,
            "SET SESSION AUTHORIZATION DEFAULT;RESET ALL;UNLISTEN *;SELECT pg_advisory_unlock_all();CLOSE ALL;DEALLOCATE ALL;DISCARD TEMP;DISCARD SEQUENCES;"
        );
    }

    fn kinds(sql: &str) -> Dirty {
        scan(sql, true)
    }

    #[test]
    fn session_state() {
        for sql in [
            "SET search_path TO x",
            "set TIME ZONE 'UTC'",
            "SET SESSION AUTHORIZATION bob",
            "SET SESSION statement_timeout = 0",
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
            "SET ROLE r",
            "Set\n\tsearch_path=x",
            "SET",
            "SET; SELECT 1",
            "RESET ALL",
            "reset search_path",
            "LISTEN ch",
            "PREPARE p AS SELECT 1",
            "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
            "declare c no scroll cursor with /* c */ hold for select 1",
            "CREATE TEMP TABLE t (a int)",
            "CREATE TEMPORARY TABLE t (a int)",
            "CREATE GLOBAL TEMPORARY TABLE t (a int)",
            "CREATE LOCAL TEMP TABLE t (a int)",
            "CREATE OR REPLACE TEMP VIEW v AS SELECT 1",
            "create /* x */ temp sequence s",
            "SELECT 1 INTO TEMP t",
            "SELECT * INTO TEMPORARY TABLE t FROM x",
            "CREATE TABLE pg_temp.t (a int)",
            "CREATE FUNCTION pg_temp.f() RETURNS int AS 'select 1' LANGUAGE sql",
            "CREATE TABLE \"pg_temp\".t (a int)",
            "SELECT pg_advisory_lock(1)",
            "SELECT PG_ADVISORY_LOCK_SHARED(1)",
            "SELECT pg_try_advisory_lock(1)",
            "SELECT pg_try_advisory_lock_shared(1, 2)",
            "SELECT pg_catalog.pg_advisory_lock(1)",
            "SELECT \"pg_advisory_lock\"(1)",
            "SELECT set_config('a.b', 'c', false)",
            "LOAD 'auto_explain'",
            "DO $$ BEGIN PERFORM 1; END $$",
            "SELECT 1; SET x = 1",
            "BEGIN; SET LOCAL x = 1; SET y = 2; COMMIT",
            "/* c */ SET x = 1",
            "-- c\nset x=1",
            "(SELECT 1); SET x = 1",
            "SELECT (1; SET x = 1",
            "CREATE FUNCTION begin() RETURNS int AS 'select 1' LANGUAGE sql; SET x = 1",
            "SELECT U&\"d\\0061ta\"",
            // custom settings whose class is a keyword
            "SET transaction.tenant = '42'",
            "SET local.tenant = '42'",
            "SET LOCAL.tenant TO 1",
            "set constraints.x = 1",
            // settings changed by a statement that is not SET
            "UPDATE pg_settings SET setting = 'x' WHERE name = 'search_path'",
            "update pg_catalog.pg_settings set setting = 1",
            // code the scan cannot read
            "SELECT my_function()",
            "SELECT public.f(1)",
            "SELECT * FROM app.make_temp_table()",
            "CALL p()",
            "SELECT \"MyFunc\"(1)",
            // sequences
            "SELECT nextval('s')",
            "INSERT INTO t VALUES (1)",
            "UPDATE t SET a = 1",
            "DELETE FROM t",
            "WITH x AS (INSERT INTO t DEFAULT VALUES RETURNING id) SELECT * FROM x",
            "COPY t FROM STDIN",
        ] {
            assert!(!kinds(sql).is_clean(), "{sql:?}");
            assert!(changes_session_state(sql), "{sql:?}");
        }
        for sql in [
            "SELECT 1",
            "",
            "SET LOCAL search_path TO x",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "set constraints all deferred",
            "ALTER ROLE r SET search_path = x",
            "CREATE FUNCTION f() RETURNS int SET search_path = x AS $$ SELECT 1 $$ LANGUAGE sql",
            "SELECT 'SET x = 1; LISTEN y'",
            "SELECT $$ SET x $$",
            "SELECT $t$ pg_advisory_lock(1) $t$",
            "-- SET x\nSELECT 1",
            "/* LISTEN x */ SELECT 1",
            "SELECT pg_advisory_xact_lock(1)",
            "SELECT pg_try_advisory_xact_lock_shared(1)",
            "SELECT pg_advisory_unlock(1)",
            "DECLARE c CURSOR FOR SELECT 1",
            "DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1",
            "SELECT temp FROM weather",
            "CREATE TABLE temp (a int)",
            "SELECT \"SET\" FROM t",
            "NOTIFY ch",
            "UNLISTEN *",
            "DEALLOCATE ALL",
            "SELECT * FROM t; COMMIT",
            "SELECT current_setting('x')",
            "SELECT 'pg_temp'",
            "SELECT count(*), max(a), coalesce(b, 1) FROM t WHERE id IN (1, 2) GROUP BY c",
            "SELECT a::numeric(10,2), CAST(b AS varchar(20)) FROM t",
            "SELECT * FROM t WHERE (a, b) = (1, 2) AND EXISTS (SELECT 1)",
            "SELECT * FROM t JOIN u USING (id) ORDER BY (a)",
            "SELECT * FROM t FOR UPDATE",
            "SELECT * FROM t FOR NO KEY UPDATE",
            "WITH x (a) AS (SELECT 1) SELECT * FROM x AS y (b)",
            "SELECT now(), pg_catalog.now(), generate_series(1, 3), json_build_object('a', 1)",
            "CREATE INDEX i ON t (a)",
            "CREATE TABLE t (id int PRIMARY KEY, a numeric(10,2), CHECK (a > 0), UNIQUE (a))",
            "SELECT pg_sleep(0.1)",
            "SELECT lastval()",
        ] {
            assert!(kinds(sql).is_clean(), "{sql:?}: {:?}", kinds(sql));
        }
    }

    #[test]
    fn the_kinds_found() {
        assert_eq!(kinds("SET x = 1"), Dirty::SETTINGS);
        assert_eq!(kinds("LISTEN a"), Dirty::LISTEN);
        assert_eq!(kinds("SELECT pg_advisory_lock(1)"), Dirty::ADVISORY_LOCKS);
        assert_eq!(
            kinds("DECLARE c CURSOR WITH HOLD FOR SELECT 1"),
            Dirty::CURSORS
        );
        assert_eq!(kinds("PREPARE p AS SELECT 1"), Dirty::PREPARED);
        assert_eq!(kinds("CREATE TEMP TABLE t (a int)"), Dirty::TEMP);
        assert_eq!(
            kinds("INSERT INTO t (a) VALUES (1) RETURNING id"),
            Dirty::SEQUENCES
        );
        assert_eq!(kinds("SELECT f()"), Dirty::ALL);
        assert_eq!(kinds("DO $$ BEGIN END $$"), Dirty::ALL);
    }

    #[test]
    fn literals_follow_standard_conforming_strings() {
        // on: `'\'` is a whole literal, `SET x = 1` a statement of its own
        assert!(!scan("SELECT '\\'; SET x = 1; SELECT '", true).is_clean());
        // off: the backslash escapes the quote, and the SET is inside a literal
        assert!(scan("SELECT '\\'; SET x = 1; SELECT '", false).is_clean());
    }
}
