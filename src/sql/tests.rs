//! Tests of interpolation and adaptation.

use std::fmt::Write as _;

use super::*;
use crate::error::{Error, Result};
use crate::lexer::has_multiple_statements;
use proptest::prelude::*;

// ---- helpers ------------------------------------------------------------------

fn pos(q: &str, vals: &[Value]) -> Result<String> {
    interpolate(q, Some(Params::Positional(vals)), Quoting::Standard)
}

fn named(q: &str, pairs: &[(&str, Value)]) -> Result<String> {
    let owned: Vec<(String, Value)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    interpolate(q, Some(Params::Named(&owned)), Quoting::Standard)
}

fn msg(r: Result<String>) -> String {
    match r {
        Ok(s) => panic!("expected an error, got {s:?}"),
        Err(Error::Param(p)) => p.to_string(),
        Err(e) => panic!("unexpected error kind {e:?}"),
    }
}

fn lit(v: &Value) -> String {
    let mut s = String::new();
    quote_literal(v, Quoting::Standard, &mut s).unwrap();
    s
}

fn repr(f: f64) -> String {
    let mut s = String::new();
    python_float_repr(f, &mut s);
    s
}

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

fn arr(v: Vec<Value>) -> Value {
    Value::Array(v)
}

// ---- placeholders (expected strings recorded from psycopg2 2.9 mogrify) -------

#[test]
fn no_params_means_no_percent_processing() {
    assert_eq!(
        interpolate("select '%'", None, Quoting::Standard).unwrap(),
        "select '%'"
    );
    assert_eq!(
        interpolate("select %% %s %(x)s %d", None, Quoting::Standard).unwrap(),
        "select %% %s %(x)s %d"
    );
}

#[test]
fn positional() {
    assert_eq!(pos("select %s", &[Value::Int(1)]).unwrap(), "select 1");
    assert_eq!(
        pos("select %s, %s", &[s("a"), Value::Null]).unwrap(),
        "select 'a', NULL"
    );
    // adjacent literals merge into one literal, as in psycopg2 (still no way out of it)
    assert_eq!(
        pos("select %s%s", &[s("a"), s("b")]).unwrap(),
        "select 'a''b'"
    );
}

#[test]
fn named_placeholders() {
    assert_eq!(
        named("select %(a)s, %(a)s", &[("a", s("x"))]).unwrap(),
        "select 'x', 'x'"
    );
    assert_eq!(
        named("select %(a)s", &[("a", Value::Null)]).unwrap(),
        "select NULL"
    );
    assert_eq!(
        named("%(b)s %(a)s", &[("a", Value::Int(1)), ("b", Value::Int(2))]).unwrap(),
        "2 1"
    );
    // the last pair wins, as when building a dict
    assert_eq!(
        named("%(a)s", &[("a", Value::Int(1)), ("a", Value::Int(2))]).unwrap(),
        "2"
    );
    // keys may contain anything but ')' and '%'
    assert_eq!(
        named("%(a b-é)s", &[("a b-é", Value::Int(1))]).unwrap(),
        "1"
    );
    assert_eq!(named("%()s", &[("", Value::Int(1))]).unwrap(), "1");
    // many keys (map lookup)
    let many: Vec<(String, Value)> = (0..20).map(|i| (format!("k{i}"), Value::Int(i))).collect();
    let r = interpolate(
        "%(k3)s %(k19)s %(k0)s",
        Some(Params::Named(&many)),
        Quoting::Standard,
    )
    .unwrap();
    assert_eq!(r, "3 19 0");
    // unused entries are never adapted: a NUL there is no error
    assert_eq!(
        named("%(a)s", &[("a", Value::Int(1)), ("b", s("\0"))]).unwrap(),
        "1"
    );
}

#[test]
fn percent_percent_only_with_params() {
    assert_eq!(pos("select '%%'", &[]).unwrap(), "select '%'");
    assert_eq!(pos("select '%%'", &[Value::Int(1)]).unwrap(), "select '%'");
    assert_eq!(named("select '%%'", &[]).unwrap(), "select '%'");
    assert_eq!(pos("%%%s", &[Value::Int(1)]).unwrap(), "%1");
    assert_eq!(named("%%(a)s", &[("a", Value::Int(1))]).unwrap(), "%(a)s");
    assert_eq!(pos("%%(a)s", &[]).unwrap(), "%(a)s");
}

#[test]
fn no_placeholder_sends_query_untouched() {
    assert_eq!(
        pos("select 1", &[Value::Int(1), Value::Int(2)]).unwrap(),
        "select 1"
    );
    assert_eq!(named("select 1", &[("a", s("\0"))]).unwrap(), "select 1");
}

#[test]
fn argument_count_errors() {
    assert_eq!(
        msg(pos("select %s, %s", &[Value::Int(1)])),
        "IndexError: tuple index out of range"
    );
    assert_eq!(
        msg(pos("select '%'", &[])),
        "IndexError: tuple index out of range"
    );
    assert_eq!(
        msg(pos("select %s", &[Value::Int(1), Value::Int(2)])),
        "TypeError: not all arguments converted during string formatting"
    );
}

#[test]
fn wrong_container_errors() {
    assert_eq!(
        msg(named("select %s", &[])),
        "TypeError: dict is not a sequence"
    );
    assert_eq!(
        msg(pos("select %(a)s", &[Value::Int(1)])),
        "TypeError: tuple indices must be integers or slices, not str"
    );
    assert_eq!(msg(named("select %(a)s", &[])), "KeyError: a");
    assert_eq!(
        msg(named("select %(a)s", &[("b", Value::Int(1))])),
        "KeyError: a"
    );
}

#[test]
fn mixed_formats() {
    let m = "ProgrammingError: argument formats can't be mixed";
    assert_eq!(msg(named("select %(a)s, %s", &[("a", Value::Int(1))])), m);
    assert_eq!(msg(pos("select %s, %(a)s", &[Value::Int(1)])), m);
    // a trailing '%' after a named placeholder counts as positional
    assert_eq!(msg(named("%(a)s%", &[("a", Value::Int(1))])), m);
}

#[test]
fn incomplete_placeholders() {
    let m = "ProgrammingError: incomplete placeholder: '%(' without ')'";
    assert_eq!(msg(named("select %(foo", &[])), m);
    assert_eq!(msg(named("select %(foo", &[("foo", Value::Int(1))])), m);
    assert_eq!(
        msg(named("select %(foo, %(bar)", &[("foo", Value::Int(1))])),
        m
    );
    assert_eq!(msg(named("%(a%b)s", &[])), m);
    assert_eq!(
        msg(pos("select 100%", &[Value::Int(1)])),
        "ValueError: incomplete format"
    );
    assert_eq!(
        msg(pos("%", &[Value::Int(1)])),
        "ValueError: incomplete format"
    );
    assert_eq!(
        msg(named("%(a)", &[("a", Value::Int(1))])),
        "ValueError: incomplete format"
    );
    assert_eq!(
        msg(named("%(a(b)s", &[("a(b", Value::Int(1))])),
        "ValueError: incomplete format key"
    );
}

#[test]
fn unsupported_conversions() {
    assert_eq!(
        msg(pos("select %d", &[Value::Int(1)])),
        "ValueError: unsupported format character 'd' (0x64) at index 8"
    );
    assert_eq!(
        msg(named("select %(a)d", &[("a", Value::Int(1))])),
        "ValueError: unsupported format character 'd' (0x64) at index 11"
    );
    assert_eq!(
        msg(pos("select 50% off", &[Value::Int(1)])),
        "ValueError: unsupported format character ' ' (0x20) at index 10"
    );
    assert_eq!(
        msg(pos("select %x", &[Value::Int(1)])),
        "ValueError: unsupported format character 'x' (0x78) at index 8"
    );
    assert_eq!(
        msg(pos("select %é", &[Value::Int(1)])),
        "OverflowError: character argument not in range(0x110000)"
    );
    // the mogrify pass runs first: a missing value beats the bad conversion
    assert_eq!(
        msg(pos("select %d", &[])),
        "IndexError: tuple index out of range"
    );
}

#[test]
fn psycopg2_quirks_of_the_two_passes() {
    // mogrify sees `%(a)` then `%(b)s`; the format pass sees `%(a)%` then "(b)s"
    assert_eq!(
        named(
            "select %(a)%(b)s",
            &[("a", Value::Int(1)), ("b", Value::Int(2))]
        )
        .unwrap(),
        "select %(b)s"
    );
    assert_eq!(
        named("select %(a)%%s", &[("a", Value::Int(1))]).unwrap(),
        "select %1"
    );
    // the format pass balances parentheses in keys, the mogrify pass does not
    assert_eq!(
        msg(named("select %(a(b)c)s", &[("a(b", Value::Int(1))])),
        "KeyError: a(b)c"
    );
}

#[test]
fn empty_and_nul_queries() {
    assert_eq!(
        msg(interpolate("", None, Quoting::Standard)),
        "ProgrammingError: can't execute an empty query"
    );
    assert_eq!(
        msg(pos("", &[Value::Int(1)])),
        "ProgrammingError: can't execute an empty query"
    );
    assert_eq!(
        msg(interpolate("select 1\0", None, Quoting::Standard)),
        "ValueError: the query contains NUL (0x00) characters"
    );
}

#[test]
fn nul_in_values() {
    let m = "ValueError: A string literal cannot contain NUL (0x00) characters.";
    assert_eq!(msg(pos("select %s", &[s("a\0b")])), m);
    assert_eq!(msg(pos("select %s", &[arr(vec![s("ok"), s("\0")])])), m);
    assert_eq!(msg(pos("select %s", &[Value::Tuple(vec![s("\0")])])), m);
    assert_eq!(
        msg(pos(
            "select %s",
            &[Value::Typed {
                text: "\0".into(),
                cast: Some("date".into())
            }]
        )),
        m
    );
    assert_eq!(
        msg(pos("select %s", &[Value::Raw("1\0".into())])),
        "ValueError: the query contains NUL (0x00) characters"
    );
    // NUL bytes in bytea are data
    assert_eq!(lit(&Value::Bytes(vec![0, 255])), "'\\x00ff'::bytea");
}

#[test]
fn errors_name_psycopg2s_exception() {
    let kind = |r: Result<String>| match r {
        Err(Error::Param(p)) => (p.kind, p.message),
        other => panic!("expected a parameter error, got {other:?}"),
    };
    assert_eq!(
        kind(named("%(k)s", &[])),
        (ParamErrorKind::Key, "k".to_string())
    );
    assert_eq!(
        kind(pos("%s %s", &[Value::Int(1)])).0,
        ParamErrorKind::Index
    );
    assert_eq!(
        kind(pos("%s", &[Value::Int(1), Value::Int(2)])).0,
        ParamErrorKind::SurplusValues
    );
    assert_eq!(
        kind(pos("%s %(a)s", &[Value::Int(1)])).0,
        ParamErrorKind::Programming
    );
    assert_eq!(kind(pos("%d", &[Value::Int(1)])).0, ParamErrorKind::Value);
    let e = ParamError {
        kind: ParamErrorKind::SurplusValues,
        message: "not all arguments converted during string formatting".into(),
    };
    assert_eq!(
        e.to_string(),
        "TypeError: not all arguments converted during string formatting"
    );
}

// ---- adaptation ---------------------------------------------------------------

#[test]
fn scalars() {
    assert_eq!(lit(&Value::Null), "NULL");
    assert_eq!(lit(&Value::Bool(true)), "true");
    assert_eq!(lit(&Value::Bool(false)), "false");
    assert_eq!(lit(&Value::Int(0)), "0");
    assert_eq!(lit(&Value::Int(-1)), " -1");
    assert_eq!(lit(&Value::Int(i64::MIN)), " -9223372036854775808");
    assert_eq!(
        lit(&Value::BigInt("1267650600228229401496703205376".into())),
        "1267650600228229401496703205376"
    );
    assert_eq!(
        lit(&Value::BigInt("-1208925819614629174706176".into())),
        " -1208925819614629174706176"
    );
    assert_eq!(pos("select -%s", &[Value::Int(-1)]).unwrap(), "select - -1");
    assert_eq!(pos("select %s", &[Value::Int(-1)]).unwrap(), "select  -1");
}

#[test]
fn bad_face_input() {
    let mut out = String::from("keep");
    for v in [
        Value::BigInt("12a".into()),
        Value::BigInt("".into()),
        Value::BigInt("-".into()),
        Value::BigInt("+1".into()),
        Value::Decimal("1;drop".into()),
        Value::Decimal("".into()),
        Value::Decimal("1e".into()),
        Value::Decimal(".".into()),
        Value::Typed {
            text: "x".into(),
            cast: Some("date; drop table t".into()),
        },
        Value::Typed {
            text: "x".into(),
            cast: Some("int)".into()),
        },
        Value::Typed {
            text: "x".into(),
            cast: Some("\"unterminated".into()),
        },
        Value::Typed {
            text: "x".into(),
            cast: Some("text--".into()),
        },
        Value::Typed {
            text: "x".into(),
            cast: Some("".into()),
        },
        arr(vec![Value::Int(1), Value::BigInt("x".into())]),
    ] {
        let e = quote_literal(&v, Quoting::Standard, &mut out).unwrap_err();
        assert!(
            e.to_string().starts_with("ValueError: invalid "),
            "{v:?}: {e}"
        );
        assert_eq!(out, "keep", "output untouched on error");
    }
}

#[test]
fn floats() {
    assert_eq!(lit(&Value::Float(f64::NAN)), "'NaN'::float");
    assert_eq!(lit(&Value::Float(f64::INFINITY)), "'Infinity'::float");
    assert_eq!(lit(&Value::Float(f64::NEG_INFINITY)), "'-Infinity'::float");
    assert_eq!(lit(&Value::Float(-0.0)), " -0.0");
    assert_eq!(lit(&Value::Float(-1.5)), " -1.5");
    assert_eq!(lit(&Value::Float(1e16)), "1e+16");
    assert_eq!(lit(&Value::Float(1e-5)), "1e-05");
}

#[test]
fn float_repr_is_pythons() {
    for (f, want) in [
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (0.1, "0.1"),
        (1.0, "1.0"),
        (2.5, "2.5"),
        (100.0, "100.0"),
        (1e20, "1e+20"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (9999999999999998.0, "9999999999999998.0"),
        (123456789012345.0, "123456789012345.0"),
        (1.5e16, "1.5e+16"),
        (1e22, "1e+22"),
        (1e100, "1e+100"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (0.000123, "0.000123"),
        (1.234e-5, "1.234e-05"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
        (1.0 / 3.0, "0.3333333333333333"),
        (0.1 + 0.2, "0.30000000000000004"),
        (123.456, "123.456"),
        (9007199254740993.0, "9007199254740992.0"),
        (12345678901234567890.0, "1.2345678901234567e+19"),
        (-1e-7, "-1e-07"),
        // ties between two shortest candidates: Python rounds to even, Rust up
        (1059438285926254.0 + 0.25, "1059438285926254.2"),
        (26363981746409.0 + 0.3125, "26363981746409.312"),
        (-108868734838530.0 - 0.125, "-108868734838530.12"),
    ] {
        assert_eq!(repr(f), want, "{f:e}");
    }
}

#[test]
fn decimals() {
    for (d, want) in [
        ("1.5", "1.5"),
        ("-1.5E+3", " -1.5E+3"),
        ("0E-7", "0E-7"),
        ("-0", " -0"),
        ("1E+2", "1E+2"),
        (
            "123456789012345678901234567890.123",
            "123456789012345678901234567890.123",
        ),
        (".5", ".5"),
        ("5.", "5."),
        // psycopg2 turns every non-finite Decimal into NaN, infinities included
        ("NaN", "'NaN'::numeric"),
        ("-NaN", "'NaN'::numeric"),
        ("sNaN", "'NaN'::numeric"),
        ("NaN123", "'NaN'::numeric"),
        ("Infinity", "'NaN'::numeric"),
        ("-Infinity", "'NaN'::numeric"),
        ("-inf", "'NaN'::numeric"),
    ] {
        assert_eq!(lit(&Value::Decimal(d.into())), want, "{d}");
    }
}

#[test]
fn strings() {
    assert_eq!(lit(&s("")), "''");
    assert_eq!(lit(&s("it's")), "'it''s'");
    assert_eq!(lit(&s("a\\b")), "'a\\b'");
    assert_eq!(lit(&s("it's \\ ok")), "'it''s \\ ok'");
    assert_eq!(lit(&s("''")), "''''''");
    assert_eq!(lit(&s("€😀\n\t")), "'€😀\n\t'");
    assert_eq!(lit(&s("$$; --")), "'$$; --'");
}

#[test]
fn bytes() {
    assert_eq!(lit(&Value::Bytes(vec![])), "'\\x'::bytea");
    assert_eq!(lit(&Value::Bytes(b"ab".to_vec())), "'\\x6162'::bytea");
    assert_eq!(
        lit(&Value::Bytes(vec![0x00, 0x0f, 0xab, 0xff])),
        "'\\x000fabff'::bytea"
    );
}

#[test]
fn typed_and_raw() {
    let t = |text: &str, cast: Option<&str>| Value::Typed {
        text: text.into(),
        cast: cast.map(String::from),
    };
    assert_eq!(lit(&t("2024-01-01", Some("date"))), "'2024-01-01'::date");
    assert_eq!(lit(&t("{\"a\": \"it's\"}", None)), "'{\"a\": \"it''s\"}'");
    assert_eq!(
        lit(&t("1 days 0.000000 seconds", Some("interval"))),
        "'1 days 0.000000 seconds'::interval"
    );
    assert_eq!(
        lit(&t("1.50", Some("numeric(10,2)"))),
        "'1.50'::numeric(10,2)"
    );
    assert_eq!(lit(&t("{1}", Some("int[]"))), "'{1}'::int[]");
    assert_eq!(
        lit(&t("x", Some("timestamp with time zone"))),
        "'x'::timestamp with time zone"
    );
    assert_eq!(
        lit(&t("x", Some("public.\"My Type\""))),
        "'x'::public.\"My Type\""
    );
    assert_eq!(
        lit(&t("x", Some("\"odd -- ; type\""))),
        "'x'::\"odd -- ; type\""
    );
    assert_eq!(lit(&Value::Raw("DEFAULT".into())), "DEFAULT");
}

#[test]
fn tuples() {
    assert_eq!(lit(&Value::Tuple(vec![])), "()");
    assert_eq!(
        lit(&Value::Tuple(vec![Value::Int(42), Value::Null])),
        "(42, NULL)"
    );
    assert_eq!(
        lit(&Value::Tuple(vec![Value::Int(1), Value::Null, s("a")])),
        "(1, NULL, 'a')"
    );
    assert_eq!(lit(&Value::Tuple(vec![Value::Int(-1)])), "( -1)");
    assert_eq!(
        lit(&Value::Tuple(vec![
            Value::Tuple(vec![Value::Int(1)]),
            arr(vec![])
        ])),
        "((1), '{}')"
    );
}

/// Issue 13 item 4: nesting is rendered and freed without recursion, on a small
/// stack too, and bounded by MAX_NESTING.
#[test]
fn deep_nesting_is_bounded_and_needs_no_stack() {
    fn nest(depth: usize, tuple: bool) -> Value {
        let mut v = Value::Int(1);
        for _ in 0..depth {
            v = if tuple {
                Value::Tuple(vec![v])
            } else {
                Value::Array(vec![v])
            };
        }
        v
    }
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {
            let ok = lit(&nest(MAX_NESTING, false));
            assert_eq!(ok.len(), 7 * MAX_NESTING + 1);
            assert!(
                ok.starts_with("ARRAY[ARRAY[") && ok.contains("ARRAY[1]]") && ok.ends_with("]]")
            );
            assert_eq!(lit(&nest(3, true)), "(((1)))");
            for tuple in [false, true] {
                let mut s = String::from("keep");
                let e = quote_literal(&nest(MAX_NESTING + 1, tuple), Quoting::Standard, &mut s)
                    .unwrap_err();
                assert!(e.to_string().starts_with("RecursionError: "), "{e}");
                assert_eq!(s, "keep");
                // Built, rejected and dropped a million deep on a 64 KB stack.
                assert!(quote_literal(&nest(1_000_000, tuple), Quoting::Standard, &mut s).is_err());
            }
            drop(nest(1_000_000, false));
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn arrays() {
    let i = Value::Int;
    let n = || Value::Null;
    assert_eq!(lit(&arr(vec![])), "'{}'");
    assert_eq!(lit(&arr(vec![arr(vec![])])), "ARRAY[ARRAY[]]");
    assert_eq!(
        lit(&arr(vec![arr(vec![]), arr(vec![i(1)])])),
        "ARRAY[ARRAY[],ARRAY[1]]"
    );
    assert_eq!(lit(&arr(vec![n(), n()])), "'{NULL,NULL}'");
    assert_eq!(
        lit(&arr(vec![arr(vec![n()]), arr(vec![n()])])),
        "'{{NULL},{NULL}}'"
    );
    assert_eq!(lit(&arr(vec![n(), arr(vec![n()])])), "'{NULL,{NULL}}'");
    assert_eq!(
        lit(&arr(vec![arr(vec![n(), n()]), arr(vec![i(1), n()])])),
        "ARRAY['{NULL,NULL}',ARRAY[1,NULL]]"
    );
    assert_eq!(
        lit(&arr(vec![i(1), i(-2), Value::Float(3.5)])),
        "ARRAY[1, -2,3.5]"
    );
    assert_eq!(
        lit(&arr(vec![arr(vec![i(1), i(2)]), arr(vec![i(3), i(4)])])),
        "ARRAY[ARRAY[1,2],ARRAY[3,4]]"
    );
    assert_eq!(
        lit(&arr(vec![arr(vec![s("a")]), n()])),
        "ARRAY[ARRAY['a'],NULL]"
    );
    assert_eq!(
        lit(&arr(vec![Value::Tuple(vec![i(1), i(2)])])),
        "ARRAY[(1, 2)]"
    );
    assert_eq!(lit(&arr(vec![s("a'b"), s("\\")])), "ARRAY['a''b','\\']");
    assert_eq!(
        lit(&arr(vec![Value::Bytes(b"a".to_vec())])),
        "ARRAY['\\x61'::bytea]"
    );
    // a NULL-ish Raw is not a NULL
    assert_eq!(lit(&arr(vec![Value::Raw("NULL".into())])), "ARRAY[NULL]");
    assert_eq!(
        lit(&arr(vec![arr(vec![
            arr(vec![n(), n()]),
            arr(vec![n(), n()])
        ])])),
        "'{{{NULL,NULL},{NULL,NULL}}}'"
    );
}

// ---- quoting follows standard_conforming_strings --------------------------------

fn lit_q(v: &Value, q: Quoting) -> String {
    let mut s = String::new();
    quote_literal(v, q, &mut s).unwrap();
    s
}

#[test]
fn quoting_modes() {
    let hostile = "\\'; CREATE TABLE pwned(x int); --";
    let v = Value::Str(hostile.into());
    assert_eq!(
        lit_q(&v, Quoting::Standard),
        "'\\''; CREATE TABLE pwned(x int); --'"
    );
    assert_eq!(
        lit_q(&v, Quoting::Escape),
        "E'\\\\''; CREATE TABLE pwned(x int); --'"
    );
    assert_eq!(
        lit_q(&v, Quoting::Portable),
        "E'\\\\''; CREATE TABLE pwned(x int); --'"
    );
    let plain = Value::Str("it's".into());
    assert_eq!(lit_q(&plain, Quoting::Standard), "'it''s'");
    assert_eq!(lit_q(&plain, Quoting::Escape), "E'it''s'");
    assert_eq!(lit_q(&plain, Quoting::Portable), "'it''s'");
    let b = Value::Bytes(b"ab".to_vec());
    assert_eq!(lit_q(&b, Quoting::Standard), "'\\x6162'::bytea");
    assert_eq!(lit_q(&b, Quoting::Escape), "E'\\\\x6162'::bytea");
    assert_eq!(lit_q(&b, Quoting::Portable), "E'\\\\x6162'::bytea");
    let d = Value::Typed {
        text: "2024-01-01".into(),
        cast: Some("date".into()),
    };
    assert_eq!(lit_q(&d, Quoting::Escape), "'2024-01-01'::date");
    let j = Value::Typed {
        text: "{\"a\": \"\\\\\"}".into(),
        cast: Some("json".into()),
    };
    assert_eq!(lit_q(&j, Quoting::Escape), "E'{\"a\": \"\\\\\\\\\"}'::json");
    let arr = Value::Array(vec![v.clone(), Value::Null]);
    assert!(lit_q(&arr, Quoting::Escape).starts_with("ARRAY[E'"));
}

/// Every rendering is one literal token as the server reads it under the setting the
/// mode is for (Escape and Portable: under both settings).
#[test]
fn literals_are_one_token_under_their_setting() {
    use crate::lexer::{Lexer, Tok};
    let hostile = [
        "\\'; CREATE TABLE pwned(x int); --",
        "\\",
        "a\\",
        "'\\'",
        "\\\\'",
        "x'; SELECT 1; --",
        "\\x",
        "é\\'",
    ];
    for h in hostile {
        let v = Value::Str(h.into());
        for (q, settings) in [
            (Quoting::Standard, &[true][..]),
            (Quoting::Escape, &[true, false][..]),
            (Quoting::Portable, &[true, false][..]),
        ] {
            let r = lit_q(&v, q);
            for &standard in settings {
                let toks: Vec<Tok<'_>> = Lexer::new(&r, standard).collect();
                assert_eq!(toks, vec![Tok::Literal], "{h:?} {q:?} scs={standard}: {r}");
            }
        }
    }
}

#[test]
fn quoting_for_a_query() {
    assert_eq!(Quoting::for_query(true, "SELECT %s"), Quoting::Standard);
    assert_eq!(Quoting::for_query(false, "SELECT %s"), Quoting::Escape);
    assert_eq!(
        Quoting::for_query(true, "SET standard_conforming_strings = off; SELECT %s"),
        Quoting::Portable
    );
    assert_eq!(
        Quoting::for_query(
            true,
            "SELECT set_config('STANDARD_CONFORMING_STRINGS', %s, false)"
        ),
        Quoting::Portable
    );
    assert_eq!(
        Quoting::for_query(true, "SELECT 1; SELECT %s"),
        Quoting::Portable
    );
    assert_eq!(
        Quoting::for_query(true, "SELECT ';', %s"),
        Quoting::Standard
    );
}

// ---- a small SQL tokenizer for the property tests --------------------------------

/// A token of PostgreSQL's lexer (standard_conforming_strings on).
#[derive(Debug, Clone, PartialEq)]
enum T {
    /// `'...'`, `E'...'` (prefix kept), with the raw body.
    Str(String, String),
    Dollar(String),
    QIdent(String),
    Ident(String),
    Num(String),
    Param(String),
    Comment(String),
    Punct(String),
}

fn tokenize(src: &str) -> Vec<T> {
    let c: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let ident_start = |ch: char| ch.is_ascii_alphabetic() || ch == '_' || !ch.is_ascii();
    let ident_cont = |ch: char| ident_start(ch) || ch.is_ascii_digit() || ch == '$';
    let text = |a: usize, b: usize| c[a..b].iter().collect::<String>();
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '-' && next == Some('-') {
            let start = i;
            while i < c.len() && c[i] != '\n' && c[i] != '\r' {
                i += 1;
            }
            out.push(T::Comment(text(start, i)));
        } else if ch == '/' && next == Some('*') {
            let start = i;
            let mut depth = 0;
            loop {
                if i >= c.len() {
                    break;
                }
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(T::Comment(text(start, i)));
        } else if ch == '\'' || ((ch == 'e' || ch == 'E') && next == Some('\'')) {
            let prefix = if ch == '\'' {
                String::new()
            } else {
                "E".to_string()
            };
            i += if ch == '\'' { 1 } else { 2 };
            let start = i;
            loop {
                if i >= c.len() {
                    break;
                }
                if !prefix.is_empty() && c[i] == '\\' {
                    i += 2;
                } else if c[i] == '\'' {
                    if c.get(i + 1) == Some(&'\'') {
                        i += 2;
                    } else {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            let body = text(start, i.min(c.len()));
            i += 1;
            out.push(T::Str(prefix, body));
        } else if ch == '"' {
            i += 1;
            let start = i;
            while i < c.len() && !(c[i] == '"' && c.get(i + 1) != Some(&'"')) {
                i += if c[i] == '"' { 2 } else { 1 };
            }
            out.push(T::QIdent(text(start, i.min(c.len()))));
            i += 1;
        } else if ch == '$' && next.is_some_and(|d| d.is_ascii_digit()) {
            let start = i;
            i += 1;
            while i < c.len() && c[i].is_ascii_digit() {
                i += 1;
            }
            out.push(T::Param(text(start, i)));
        } else if ch == '$' {
            let mut j = i + 1;
            if j < c.len() && ident_start(c[j]) {
                while j < c.len() && (ident_start(c[j]) || c[j].is_ascii_digit()) {
                    j += 1;
                }
            }
            if j < c.len() && c[j] == '$' {
                let tag = text(i, j + 1);
                let body_start = j + 1;
                let rest = text(body_start, c.len());
                match rest.find(&tag) {
                    Some(k) => {
                        let body = rest[..k].to_string();
                        i = body_start + body.chars().count() + tag.chars().count();
                        out.push(T::Dollar(format!("{tag}{body}")));
                    }
                    None => {
                        out.push(T::Dollar(format!("{tag}{rest}")));
                        i = c.len();
                    }
                }
            } else {
                out.push(T::Punct("$".into()));
                i += 1;
            }
        } else if ident_start(ch) {
            let start = i;
            while i < c.len() && ident_cont(c[i]) {
                i += 1;
            }
            out.push(T::Ident(text(start, i)));
        } else if ch.is_ascii_digit() {
            let start = i;
            while i < c.len() && c[i].is_ascii_digit() {
                i += 1;
            }
            if i < c.len() && c[i] == '.' {
                i += 1;
                while i < c.len() && c[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < c.len() && (c[i] == 'e' || c[i] == 'E') {
                let save = i;
                i += 1;
                if i < c.len() && (c[i] == '+' || c[i] == '-') {
                    i += 1;
                }
                if i < c.len() && c[i].is_ascii_digit() {
                    while i < c.len() && c[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    i = save;
                }
            }
            out.push(T::Num(text(start, i)));
        } else if ch == ':' && next == Some(':') {
            out.push(T::Punct("::".into()));
            i += 2;
        } else {
            out.push(T::Punct(ch.to_string()));
            i += 1;
        }
    }
    out
}

fn is_punct(t: Option<&T>, p: &str) -> bool {
    matches!(t, Some(T::Punct(x)) if x == p)
}

/// `expr ('::' typename)?` from `i`; the index after it.
fn parse_expr(t: &[T], i: usize) -> Option<usize> {
    let mut i = parse_primary(t, i)?;
    if is_punct(t.get(i), "::") {
        i += 1;
        // typename: words, quoted words, dots, (n, m), []
        let start = i;
        loop {
            match t.get(i) {
                Some(T::Ident(_) | T::QIdent(_)) => i += 1,
                Some(T::Punct(p)) if p == "." => i += 1,
                Some(T::Punct(p)) if p == "(" => {
                    i += 1;
                    while matches!(t.get(i), Some(T::Num(_))) {
                        i += 1;
                        if is_punct(t.get(i), ",") {
                            i += 1;
                        }
                    }
                    if !is_punct(t.get(i), ")") {
                        return None;
                    }
                    i += 1;
                }
                Some(T::Punct(p)) if p == "[" && is_punct(t.get(i + 1), "]") => i += 2,
                _ => break,
            }
        }
        if i == start {
            return None;
        }
    }
    Some(i)
}

fn parse_list(t: &[T], mut i: usize, close: &str) -> Option<usize> {
    if is_punct(t.get(i), close) {
        return Some(i + 1);
    }
    loop {
        i = parse_expr(t, i)?;
        if is_punct(t.get(i), ",") {
            i += 1;
        } else if is_punct(t.get(i), close) {
            return Some(i + 1);
        } else {
            return None;
        }
    }
}

fn parse_primary(t: &[T], i: usize) -> Option<usize> {
    match t.get(i)? {
        T::Str(..) | T::Num(_) => Some(i + 1),
        T::Punct(p) if p == "-" => matches!(t.get(i + 1), Some(T::Num(_))).then_some(i + 2),
        T::Punct(p) if p == "(" => parse_list(t, i + 1, ")"),
        T::Ident(w) if w.eq_ignore_ascii_case("array") && is_punct(t.get(i + 1), "[") => {
            parse_list(t, i + 2, "]")
        }
        T::Ident(w) if ["null", "true", "false"].contains(&w.to_ascii_lowercase().as_str()) => {
            Some(i + 1)
        }
        _ => None,
    }
}

fn is_one_expression(rendered: &str) -> bool {
    let t = tokenize(rendered);
    parse_expr(&t, 0) == Some(t.len())
}

// ---- strategies ---------------------------------------------------------------

fn hostile_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => any::<char>().prop_filter("no NUL", |c| *c != '\0').prop_map(|c| c.to_string()),
            2 => prop::sample::select(vec![
                "'", "''", "\\", "\\'", "$$", "$a$", "--", "/*", "*/", ";", "%", "%s", "%%", "%(a)s",
                "\"", "E'", "\n", "\r", "$1", "::", "ARRAY[", "]", ")", "(", " ", "é", "😀",
            ])
            .prop_map(String::from),
        ],
        0..12,
    )
    .prop_map(|v| v.concat())
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        "-?[1-9][0-9]{0,40}".prop_map(Value::BigInt),
        any::<f64>().prop_map(Value::Float),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            -1e20f64..1e20
        ]
        .prop_map(Value::Float),
        prop_oneof![
            "-?[0-9]{1,20}(\\.[0-9]{0,10})?(E[+-][0-9]{1,3})?",
            prop::sample::select(vec!["NaN", "-NaN", "sNaN", "Infinity", "-Infinity"])
                .prop_map(String::from),
        ]
        .prop_map(Value::Decimal),
        hostile_string().prop_map(Value::Str),
        prop::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
        (
            hostile_string(),
            prop::option::of(prop::sample::select(vec![
                "date",
                "timestamptz",
                "uuid",
                "numeric(10,2)",
                "int[]",
                "timestamp with time zone",
                "\"My Type\"",
                "pg_catalog.json",
            ]))
        )
            .prop_map(|(text, cast)| Value::Typed {
                text,
                cast: cast.map(String::from)
            }),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Tuple),
            prop::collection::vec(inner, 0..4).prop_map(Value::Array),
        ]
    })
}

/// Template fragments, in template form (`%%` for `%`).
const FRAGMENTS: &[&str] = &[
    "SELECT",
    "a",
    "t.col",
    "42",
    "3.5",
    "'it''s %% 100'",
    "E'\\'%%'",
    "$$ %% ' $$",
    "$q$ x ; $q$",
    "\"Quoted %% id\"",
    "/* c %% /* nested */ */",
    "-- line %% ' \n",
    ",",
    "(",
    ")",
    ";",
    "=",
    "+",
    "::text",
    "x %% 2",
    "IN",
    "ARRAY",
    "[",
    "]",
    "$1",
    "WHERE",
];

/// Operators that may stand right before a placeholder, without a space.
const GLUED: &[&str] = &["-", "+", "*", "/", "<", "=", "|", "("];

#[derive(Debug, Clone)]
enum Piece {
    Fragment(&'static str),
    Placeholder(Option<&'static str>),
}

fn template() -> impl Strategy<Value = Vec<Piece>> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(FRAGMENTS).prop_map(Piece::Fragment),
            2 => prop::option::of(prop::sample::select(GLUED)).prop_map(Piece::Placeholder),
        ],
        1..14,
    )
}

/// Builds (template, expected tokens, placeholder count) with placeholders as
/// `%s` or `%(kN)s`.
fn build(pieces: &[Piece], values: &[Value], named: bool) -> (String, Vec<T>) {
    let mut tpl = String::new();
    let mut want = Vec::new();
    let mut k = 0;
    for p in pieces {
        match p {
            Piece::Fragment(f) => {
                tpl.push_str(f);
                want.extend(tokenize(&f.replace("%%", "%")));
            }
            Piece::Placeholder(glued) => {
                if let Some(op) = glued {
                    tpl.push_str(op);
                    want.extend(tokenize(op));
                }
                if named {
                    let _ = write!(tpl, "%(k{})s", k % values.len().max(1));
                } else {
                    tpl.push_str("%s");
                }
                want.extend(tokenize(&lit(&values[k % values.len().max(1)])));
                k += 1;
            }
        }
        tpl.push(' ');
    }
    (tpl, want)
}

fn placeholders(pieces: &[Piece]) -> usize {
    pieces
        .iter()
        .filter(|p| matches!(p, Piece::Placeholder(_)))
        .count()
}

fn contains_nul(v: &Value) -> bool {
    match v {
        Value::Str(s) => s.contains('\0'),
        Value::Typed { text, .. } => text.contains('\0'),
        Value::Tuple(items) | Value::Array(items) => items.iter().any(contains_nul),
        _ => false,
    }
}

fn unquote(body: &str) -> String {
    body.replace("''", "'")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    /// Every value renders as exactly one expression: a literal, a (signed) number,
    /// NULL/true/false, ARRAY[...] or (...) of such, with an optional cast.
    #[test]
    fn value_is_one_expression(v in value()) {
        let r = lit(&v);
        prop_assert!(is_one_expression(&r), "{:?} -> {}", v, r);
        // and never starts with '-' (no `--` after a template's '-')
        prop_assert!(!r.starts_with('-'));
    }

    /// Positional: the statement's tokens are the template's with each placeholder
    /// replaced by the tokens of one value.
    #[test]
    fn structure_is_preserved_positional(pieces in template(), values in prop::collection::vec(value(), 1..6)) {
        let n = placeholders(&pieces);
        let vals: Vec<Value> = (0..n).map(|i| values[i % values.len()].clone()).collect();
        let (tpl, want) = build(&pieces, &vals, false);
        let got = pos(&tpl, &vals).unwrap();
        prop_assert_eq!(tokenize(&got), want, "template {:?} rendered {:?}", tpl, got);
        // statement boundaries come from the template only
        let nulls = vec![Value::Null; n];
        let skeleton = pos(&tpl, &nulls).unwrap();
        prop_assert_eq!(has_multiple_statements(&got, true), has_multiple_statements(&skeleton, true));
        // values never hide session state from the scan (a tuple after a name may
        // look like a call: more, never less)
        let (g, k) = (crate::session::scan(&got, true), crate::session::scan(&skeleton, true));
        prop_assert!(g.contains(k), "{:?} -> {:?}, skeleton {:?}", got, g, k);
    }

    /// The same with `%(name)s` placeholders (names repeat).
    #[test]
    fn structure_is_preserved_named(pieces in template(), values in prop::collection::vec(value(), 1..4)) {
        let (tpl, want) = build(&pieces, &values, true);
        let pairs: Vec<(String, Value)> =
            values.iter().enumerate().map(|(i, v)| (format!("k{i}"), v.clone())).collect();
        let got = interpolate(&tpl, Some(Params::Named(&pairs)), Quoting::Standard).unwrap();
        prop_assert_eq!(tokenize(&got), want, "template {:?} rendered {:?}", tpl, got);
    }

    /// Strings, bytes and numbers come back unchanged from the literal.
    #[test]
    fn literals_round_trip(text in hostile_string(), data in prop::collection::vec(any::<u8>(), 0..32),
                           i in any::<i64>(), f in any::<f64>()) {
        let t = tokenize(&lit(&Value::Str(text.clone())));
        prop_assert_eq!(t.len(), 1);
        match &t[0] {
            T::Str(prefix, body) => {
                prop_assert_eq!(prefix.as_str(), "");
                prop_assert_eq!(unquote(body), text);
            }
            other => prop_assert!(false, "not a string: {:?}", other),
        }
        let b = lit(&Value::Bytes(data.clone()));
        let hex = b.strip_prefix("'\\x").and_then(|r| r.strip_suffix("'::bytea")).unwrap();
        let back: Vec<u8> = (0..hex.len()).step_by(2).map(|k| u8::from_str_radix(&hex[k..k + 2], 16).unwrap()).collect();
        prop_assert_eq!(back, data);
        prop_assert_eq!(lit(&Value::Int(i)).trim_start().parse::<i64>().unwrap(), i);
        let fr = lit(&Value::Float(f));
        if f.is_finite() {
            prop_assert_eq!(fr.trim_start().parse::<f64>().unwrap().to_bits(), f.to_bits());
        } else {
            prop_assert!(fr.ends_with("::float"));
        }
    }

    /// A NUL in any value a placeholder uses is an error, never a statement.
    #[test]
    fn nul_is_always_an_error(v in value(), at in any::<prop::sample::Index>(), wrap in 0..3u8) {
        let mut bad = match &v {
            Value::Str(s) => { let k = at.index(s.chars().count() + 1); let mut c: Vec<char> = s.chars().collect(); c.insert(k, '\0'); Value::Str(c.into_iter().collect()) }
            _ => Value::Str(format!("x\0{}", lit(&v))),
        };
        for _ in 0..wrap {
            bad = Value::Array(vec![v.clone(), bad]);
        }
        prop_assert!(contains_nul(&bad));
        let r = pos("SELECT %s", &[bad]);
        prop_assert!(matches!(&r, Err(Error::Param(p)) if p.kind == ParamErrorKind::Value), "{:?}", r);
    }

    /// The scans never panic, whatever the input.
    #[test]
    fn scans_total(sql in "\\PC*", extra in hostile_string()) {
        let sql = format!("{sql}{extra}");
        let _ = has_multiple_statements(&sql, true);
        let _ = has_multiple_statements(&sql, false);
        let _ = crate::session::scan(&sql, false);
        let _ = crate::session::changes_session_state(&sql);
        let _ = interpolate(&sql, Some(Params::Positional(&[Value::Int(1)])), Quoting::Standard);
        let _ = interpolate(&sql, Some(Params::Named(&[("a".to_string(), Value::Int(1))])), Quoting::Portable);
    }

    /// Interpolation never panics on arbitrary templates built from '%' soup.
    #[test]
    fn interpolate_total(q in prop::collection::vec(prop::sample::select(vec![
        "%", "s", "(", ")", "a", "%%", "%s", "%(a)s", "é", "d", " ", "%(", "'"]), 0..12),
        vals in prop::collection::vec(leaf(), 0..3)) {
        let q = q.concat();
        let _ = pos(&q, &vals);
        let pairs: Vec<(String, Value)> = vals.iter().map(|v| ("a".to_string(), v.clone())).collect();
        let _ = interpolate(&q, Some(Params::Named(&pairs)), Quoting::Escape);
    }
}
