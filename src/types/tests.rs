//! Tests of the text-format parsers.

#[allow(unused_imports)]
use super::*;
use std::borrow::Cow;

fn d(year: i32, month: u8, day: u8) -> Date {
    Date { year, month, day }
}

fn t(hour: u8, minute: u8, second: u8, micro: u32, offset_secs: Option<i32>) -> Time {
    Time {
        hour,
        minute,
        second,
        micro,
        offset_secs,
    }
}

fn ts(s: &str) -> Timestamp {
    match parse_timestamp(s.as_bytes()).unwrap() {
        TimestampValue::Timestamp(t) => t,
        other => panic!("{s}: {other:?}"),
    }
}

fn iv(s: &str) -> Interval {
    parse_interval(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn parts(s: &str) -> (i64, i32, i32) {
    iv(s).to_timedelta_parts()
}

fn kind<T: fmt::Debug>(r: Result<T, ParseError>) -> ParseErrorKind {
    r.unwrap_err().kind
}

fn el(s: &str) -> ArrayValue<'_> {
    ArrayValue::Element(Some(Cow::Borrowed(s.as_bytes())))
}

fn owned(s: &str) -> ArrayValue<'static> {
    ArrayValue::Element(Some(Cow::Owned(s.as_bytes().to_vec())))
}

const NULL: ArrayValue<'static> = ArrayValue::Element(None);

fn arr<'a>(items: Vec<ArrayValue<'a>>) -> ArrayValue<'a> {
    ArrayValue::Array(items)
}

#[test]
fn oids() {
    assert_eq!(array_element_oid(1007), Some(oid::INT4));
    assert_eq!(array_element_oid(oid::TEXT_ARRAY), Some(oid::TEXT));
    assert_eq!(array_element_oid(oid::JSONB_ARRAY), Some(oid::JSONB));
    assert_eq!(array_element_oid(oid::UUID_ARRAY), Some(oid::UUID));
    assert_eq!(
        array_element_oid(oid::INT4RANGE_ARRAY),
        Some(oid::INT4RANGE)
    );
    assert_eq!(array_element_oid(oid::INT4), None);
    assert_eq!(array_element_oid(oid::INT2VECTOR), None);
    assert_eq!(array_element_oid(0), None);
    assert_eq!(array_oid_of(oid::TIMESTAMPTZ), Some(1185));
    assert_eq!(array_oid_of(oid::INT2), Some(1005));
    assert_eq!(array_delimiter(oid::BOX), b';');
    assert_eq!(array_delimiter(oid::INT4), b',');
    // every array maps back
    for a in 0..10_000 {
        if let Some(e) = array_element_oid(a) {
            assert_eq!(array_oid_of(e), Some(a), "{a}");
        }
    }
}

#[test]
fn typecast_table() {
    assert_eq!(typecast(oid::INT2), Typecast::Int);
    assert_eq!(typecast(oid::OID), Typecast::Int);
    assert_eq!(typecast(oid::FLOAT4), Typecast::Float);
    assert_eq!(typecast(oid::NUMERIC), Typecast::Decimal);
    assert_eq!(typecast(oid::TIMETZ), Typecast::Time);
    assert_eq!(typecast(oid::TINTERVAL), Typecast::Interval);
    assert_eq!(typecast(oid::JSONB), Typecast::Json);
    assert_eq!(typecast(oid::UUID), Typecast::Str);
    assert_eq!(typecast(oid::MONEY), Typecast::Str);
    assert_eq!(typecast(oid::UNKNOWN), Typecast::Str);
    assert_eq!(typecast(oid::INT4_ARRAY), Typecast::Str);
    assert_eq!(
        typecast(oid::TSTZRANGE),
        Typecast::Range(RangeKind::TimestampTz)
    );
    assert_eq!(RangeKind::Numeric.bound_typecast(), Typecast::Decimal);
    assert_eq!(RangeKind::Date.python_class(), "DateRange");
    assert_eq!(array_typecast(oid::INT4_ARRAY), Some(Typecast::Int));
    assert_eq!(array_typecast(oid::OIDVECTOR_ARRAY), Some(Typecast::Int));
    assert_eq!(array_typecast(oid::INET_ARRAY), Some(Typecast::Str));
    assert_eq!(array_typecast(oid::JSON_ARRAY), Some(Typecast::Json));
    assert_eq!(array_typecast(oid::TIMETZ_ARRAY), Some(Typecast::Time));
    assert_eq!(
        array_typecast(oid::DATERANGE_ARRAY),
        Some(Typecast::Range(RangeKind::Date))
    );
    assert_eq!(array_typecast(oid::UUID_ARRAY), None);
    assert_eq!(array_typecast(oid::MONEY_ARRAY), None);
    assert_eq!(array_typecast(oid::BOX_ARRAY), None);
    assert_eq!(array_typecast(oid::INT4), None);
}

#[test]
fn bools() {
    assert!(parse_bool(b"t").unwrap());
    assert!(!parse_bool(b"f").unwrap());
    assert!(parse_bool(b"T").unwrap());
    assert!(parse_bool(b"true").unwrap()); // first byte only, like psycopg2
    assert!(!parse_bool(b"False").unwrap());
    let e = parse_bool(b"x").unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::InterfaceError);
    assert_eq!(e.to_string(), "can't parse boolean: 'x'");
    assert_eq!(kind(parse_bool(b"")), ParseErrorKind::InterfaceError);
}

#[test]
fn ints() {
    assert_eq!(parse_i64(b"0").unwrap(), 0);
    assert_eq!(parse_i64(b"-0").unwrap(), 0);
    assert_eq!(parse_i64(b"42").unwrap(), 42);
    assert_eq!(parse_i64(b"+42").unwrap(), 42);
    assert_eq!(parse_i64(b"-32768").unwrap(), -32768);
    assert_eq!(parse_i64(b"-2147483648").unwrap(), -2147483648);
    assert_eq!(parse_i64(b"4294967295").unwrap(), 4294967295);
    assert_eq!(parse_i64(b"9223372036854775807").unwrap(), i64::MAX);
    assert_eq!(parse_i64(b"-9223372036854775808").unwrap(), i64::MIN);
    assert_eq!(parse_i64(b"0009").unwrap(), 9);
    assert_eq!(parse_i64(b"-00000000000000000000009").unwrap(), -9);
    assert_eq!(parse_i64(b"-09223372036854775808").unwrap(), i64::MIN);
    assert!(parse_i64(b"09223372036854775808")
        .unwrap_err()
        .is_out_of_range());
    assert!(parse_i64(b"9223372036854775808")
        .unwrap_err()
        .is_out_of_range());
    assert!(parse_i64(b"-9223372036854775809")
        .unwrap_err()
        .is_out_of_range());
    assert!(parse_i64(b"99999999999999999999")
        .unwrap_err()
        .is_out_of_range());
    assert!(parse_i64(b"123456789012345678901234567890")
        .unwrap_err()
        .is_out_of_range());
    for bad in [
        &b""[..],
        b"-",
        b"+",
        b"1.5",
        b"12a",
        b" 1",
        b"1e3",
        b"NaN",
        b"--1",
    ] {
        assert_eq!(kind(parse_i64(bad)), ParseErrorKind::ValueError, "{bad:?}");
    }
    assert_eq!(
        kind(parse_i64(b"1234567890123456789012x")),
        ParseErrorKind::ValueError
    );
}

#[test]
fn floats() {
    assert!(parse_f64(b"NaN").unwrap().is_nan());
    assert_eq!(parse_f64(b"Infinity").unwrap(), f64::INFINITY);
    assert_eq!(parse_f64(b"-Infinity").unwrap(), f64::NEG_INFINITY);
    let z = parse_f64(b"-0").unwrap();
    assert!(z == 0.0 && z.is_sign_negative());
    assert_eq!(parse_f64(b"1e+300").unwrap(), 1e300);
    assert_eq!(parse_f64(b"1.5e-300").unwrap(), 1.5e-300);
    assert_eq!(parse_f64(b"0.1").unwrap(), 0.1);
    assert_eq!(parse_f64(b"3.4e+38").unwrap(), 3.4e38);
    assert_eq!(parse_f64(b"1e-45").unwrap(), 1e-45);
    assert_eq!(parse_f64(b"123456789012").unwrap(), 123456789012.0);
    assert_eq!(parse_f64(b"1e+16").unwrap(), 1e16);
    assert_eq!(
        parse_f64(b"-1.2345678901234567e-300").unwrap(),
        -1.2345678901234567e-300
    );
    assert_eq!(parse_f64(b"1.7976931348623157e+308").unwrap(), f64::MAX);
    assert_eq!(kind(parse_f64(b"abc")), ParseErrorKind::ValueError);
    assert_eq!(kind(parse_f64(b"")), ParseErrorKind::ValueError);
    assert_eq!(kind(parse_f64(b"\xff")), ParseErrorKind::ValueError);
}

#[test]
fn dates() {
    let ok = |s: &str| parse_date(s.as_bytes()).unwrap();
    assert_eq!(ok("2024-01-02"), DateValue::Date(d(2024, 1, 2)));
    assert_eq!(ok("0001-01-01"), DateValue::Date(d(1, 1, 1)));
    assert_eq!(ok("9999-12-31"), DateValue::Date(d(9999, 12, 31)));
    assert_eq!(ok("10000-01-01"), DateValue::Date(d(10000, 1, 1)));
    assert_eq!(ok("5874897-12-31"), DateValue::Date(d(5874897, 12, 31)));
    assert_eq!(ok("0044-03-15 BC"), DateValue::Date(d(-44, 3, 15)));
    assert_eq!(ok("4713-01-01 BC"), DateValue::Date(d(-4713, 1, 1)));
    assert_eq!(ok("00042-01-01 BC"), DateValue::Date(d(-42, 1, 1)));
    assert_eq!(ok("infinity"), DateValue::Infinity);
    assert_eq!(ok("-infinity"), DateValue::NegInfinity);
    for bad in [
        "",
        "2007-01",
        "2007",
        "2024-01-02x",
        "2024-1x-02",
        "abcd-01-02",
        "Infinity",
        "2024-01-02 12:00:00",
        "2024-001-02",
        " BC",
        "01/02/2024",
        "2024-01-02 AD",
    ] {
        let e = parse_date(bad.as_bytes()).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::DataError, "{bad}");
        assert_eq!(e.to_string(), "unable to parse date");
    }
}

#[test]
fn times() {
    let ok = |s: &str| parse_time(s.as_bytes()).unwrap();
    assert_eq!(ok("10:00:00"), t(10, 0, 0, 0, None));
    assert_eq!(ok("13:30:29.123456"), t(13, 30, 29, 123456, None));
    assert_eq!(ok("13:30:29.5"), t(13, 30, 29, 500000, None));
    assert_eq!(ok("13:30:29.000001"), t(13, 30, 29, 1, None));
    assert_eq!(ok("10:00:00+05:30"), t(10, 0, 0, 0, Some(19800)));
    assert_eq!(ok("13:30:29+01"), t(13, 30, 29, 0, Some(3600)));
    assert_eq!(ok("13:30:29-01"), t(13, 30, 29, 0, Some(-3600)));
    assert_eq!(ok("13:30:29-01:15"), t(13, 30, 29, 0, Some(-4500)));
    assert_eq!(ok("13:30:29+01:15:29"), t(13, 30, 29, 0, Some(4529)));
    assert_eq!(ok("13:30:29-01:15:59"), t(13, 30, 29, 0, Some(-4559)));
    assert_eq!(ok("10:00:00.000001-03:30:15"), t(10, 0, 0, 1, Some(-12615)));
    assert_eq!(
        ok("06:19:15.538718+05:30"),
        t(6, 19, 15, 538718, Some(19800))
    );
    assert_eq!(ok("24:00:00"), t(0, 0, 0, 0, None));
    assert_eq!(ok("24:00:00+05:30"), t(0, 0, 0, 0, Some(19800)));
    assert_eq!(ok("23:59:60"), t(23, 60, 0, 0, None)); // carried like psycopg2
    assert_eq!(ok("00:00:00+15:59"), t(0, 0, 0, 0, Some(57540)));
    for bad in [
        "",
        "13",
        "13:30",
        "13:30:",
        "13:30:29.",
        "13:30:29.1234567",
        "13:30:29+",
        "13:30:29 +01",
        "13:30:29x",
        "1:2",
        "130:00:00",
        "13:30:29+01:",
        "a:b:c",
    ] {
        let e = parse_time(bad.as_bytes()).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::DataError, "{bad}");
        assert_eq!(e.to_string(), "unable to parse time");
    }
}

#[test]
fn timestamps() {
    assert_eq!(
        ts("2024-01-02 03:04:05.678+01"),
        Timestamp {
            date: d(2024, 1, 2),
            time: t(3, 4, 5, 678000, None),
            offset_secs: Some(3600)
        }
    );
    assert_eq!(ts("2024-01-02 03:04:05+05:30").offset_secs, Some(19800));
    let old = ts("1900-01-01 12:00:00+00:19:32");
    assert_eq!(old.offset_secs, Some(1172));
    assert_eq!(old.time, t(12, 0, 0, 0, None));
    let bc = ts("0044-03-15 12:00:00+00:19:32 BC");
    assert_eq!(bc.date, d(-44, 3, 15));
    assert_eq!(bc.offset_secs, Some(1172));
    let bc = ts("0044-03-15 12:00:00.5 BC");
    assert_eq!(bc.date, d(-44, 3, 15));
    assert_eq!(bc.time, t(12, 0, 0, 500000, None));
    assert_eq!(bc.offset_secs, None);
    assert_eq!(ts("4714-11-24 00:00:00 BC").date, d(-4714, 11, 24));
    let big = ts("294276-12-31 23:59:59.999999");
    assert_eq!(big.date, d(294276, 12, 31));
    assert_eq!(big.time, t(23, 59, 59, 999999, None));
    assert_eq!(ts("294277-01-01 00:59:59.999999+01").date, d(294277, 1, 1));
    assert_eq!(ts("10000-01-01 00:00:00").date, d(10000, 1, 1));
    assert_eq!(ts("2007-01-01T13:30:29").time, t(13, 30, 29, 0, None));
    assert_eq!(ts("2007-01-01").time, t(0, 0, 0, 0, None));
    assert_eq!(ts("2000-01-01 00:00:00-08").offset_secs, Some(-28800));
    assert_eq!(
        parse_timestamp(b"infinity").unwrap(),
        TimestampValue::Infinity
    );
    assert_eq!(
        parse_timestamp(b"-infinity").unwrap(),
        TimestampValue::NegInfinity
    );
    for bad in [
        "",
        "2007-01",
        "2007-01-01 13",
        "2007-01-01 13:30",
        "2007-01-01 x",
    ] {
        assert_eq!(
            kind(parse_timestamp(bad.as_bytes())),
            ParseErrorKind::DataError,
            "{bad}"
        );
    }
    // DateStyle other than ISO
    for bad in [
        "Tue Jan 02 03:04:05 2024 PST",
        "01/02/2024 03:04:05 PST",
        "02.01.2024 03:04:05 PST",
    ] {
        assert_eq!(
            kind(parse_timestamp(bad.as_bytes())),
            ParseErrorKind::DataError,
            "{bad}"
        );
    }
}

#[test]
fn intervals() {
    let i = |months, days, micros| Interval {
        months,
        days,
        micros,
    };
    assert_eq!(
        iv("1 year 2 mons 3 days 04:05:06.789"),
        i(14, 3, 14_706_789_000)
    );
    assert_eq!(iv("-1 days +02:03:00"), i(0, -1, 7_380_000_000));
    assert_eq!(iv("3 days"), i(0, 3, 0));
    assert_eq!(iv("1 day"), i(0, 1, 0));
    assert_eq!(iv("00:00:00"), i(0, 0, 0));
    assert_eq!(iv("-00:00:01"), i(0, 0, -1_000_000));
    assert_eq!(iv("-00:00:01.000001"), i(0, 0, -1_000_001));
    assert_eq!(iv("00:00:01.5"), i(0, 0, 1_500_000));
    assert_eq!(iv("1 mon"), i(1, 0, 0));
    assert_eq!(iv("-1 mons"), i(-1, 0, 0));
    assert_eq!(iv("11 mons"), i(11, 0, 0));
    assert_eq!(iv("-1 years"), i(-12, 0, 0));
    assert_eq!(iv("100:00:00"), i(0, 0, 360_000_000_000));
    assert_eq!(iv("1 day -01:00:00"), i(0, 1, -3_600_000_000));
    assert_eq!(iv("-1 days +01:00:00"), i(0, -1, 3_600_000_000));
    assert_eq!(iv("-10 mons -3 days +04:05:06"), i(-10, -3, 14_706_000_000));
    assert_eq!(iv("-178956970 years -8 mons"), i(i32::MIN, 0, 0));
    assert_eq!(
        iv("178956970 years 7 mons 2147483647 days 2562047788:00:54.775807"),
        i(i32::MAX, i32::MAX, i64::MAX)
    );
    assert_eq!(iv("-2147483648 days"), i(0, i32::MIN, 0));
    assert_eq!(iv("-2562047788:00:54.775808"), i(0, 0, i64::MIN));
    assert_eq!(iv("999999:00:00"), i(0, 0, 999_999 * 3_600_000_000));
    assert_eq!(
        iv("-999999:00:00.9"),
        i(0, 0, -(999_999 * 3_600_000_000 + 900_000))
    );
    assert_eq!(iv("42 days 12:34:56.123456"), i(0, 42, 45_296_123_456));
    // psycopg2 bug #1835: many fractional digits
    for digits in [8, 31, 100] {
        let s = format!("0:0:0.{}", "0".repeat(digits));
        assert_eq!(iv(&s), i(0, 0, 0));
    }
    assert_eq!(iv("0:0:0.0000004"), i(0, 0, 0));
    assert_eq!(iv("0:0:0.0000006"), i(0, 0, 1));
    // Redshift: a bare integer is microseconds (psycopg2 bug #558)
    assert_eq!(iv("0"), i(0, 0, 0));
    assert_eq!(iv("1"), i(0, 0, 1));
    assert_eq!(iv("-1"), i(0, 0, -1));
    assert_eq!(iv("86400000000"), i(0, 0, DAY_US));
    // errors
    assert_eq!(
        kind(parse_interval(b"P1Y2M3DT4H5M6.789S")),
        ParseErrorKind::NotSupportedError
    );
    for bad in [
        "",
        "+1-2 +3 +4:05:06.789",
        "@ 1 year 2 mons 3 days 4 hours 5 mins 6.789 secs",
        "1 fortnight",
        "1 year 2",
        "1  day",
        "1 day ",
        "04:05",
        "04:05:06 1 day",
        "x",
        "1 Day",
    ] {
        assert_eq!(
            kind(parse_interval(bad.as_bytes())),
            ParseErrorKind::DataError,
            "{bad}"
        );
    }
    for big in [
        "100000000000000000:00:00",
        "2562047789:00:00",
        "178956971 years",
        "2147483648 days",
        "99999999999999999999",
        "999999999999999999 years",
        "-999999999999999999 years -999999999999999999 years",
    ] {
        assert_eq!(
            kind(parse_interval(big.as_bytes())),
            ParseErrorKind::OutOfRange,
            "{big}"
        );
    }
}

#[test]
fn timedelta_parts() {
    // psycopg2: years * 365 + months * 30 days
    assert_eq!(
        parts("1 year 2 mons 3 days 04:05:06.789"),
        (428, 14706, 789000)
    );
    assert_eq!(parts("-1 days +02:03:00"), (-1, 7380, 0));
    assert_eq!(parts("-00:00:01"), (-1, 86399, 0));
    assert_eq!(parts("42 days 12:34:56.123456"), (42, 45296, 123456));
    // psycopg2's test: -42 days -12:34:56.123456 -> days -43, 41103 s, 876544 us
    assert_eq!(parts("-42 days -12:34:56.123456"), (-43, 41103, 876544));
    assert_eq!(parts("1 mon"), (30, 0, 0));
    assert_eq!(parts("11 mons"), (330, 0, 0));
    assert_eq!(parts("1 year"), (365, 0, 0));
    assert_eq!(parts("-1 years -2 mons"), (-425, 0, 0));
    assert_eq!(parts("-10 mons -3 days +04:05:06"), (-303, 14706, 0));
    assert_eq!(parts("100:00:00"), (4, 14400, 0));
    assert_eq!(parts("-999999:00:00.1"), (-41667, 32399, 900000));
    assert_eq!(parts("86400000000"), (1, 0, 0));
    assert_eq!(parts("-86400000000"), (-1, 0, 0));
    let (days, _, _) = parts("-178956970 years -8 mons");
    assert_eq!(days, -178956970 * 365 - 8 * 30);
    assert!(days.abs() > TIMEDELTA_MAX_DAYS);
    assert_eq!(
        parts("178956970 years 7 mons 2147483647 days 2562047788:00:54.775807"),
        (
            178956970 * 365 + 7 * 30 + 2147483647 + 106751991,
            14454,
            775807
        )
    );
    assert_eq!(
        parts("-2562047788:00:54.775808"),
        (-106751992, 71945, 224192)
    );
}

#[test]
fn bytea() {
    assert_eq!(decode_bytea(br"\x00ff10").unwrap(), vec![0, 255, 16]);
    assert_eq!(decode_bytea(br"\x").unwrap(), Vec::<u8>::new());
    assert_eq!(
        decode_bytea(br"\xDEADbeef").unwrap(),
        vec![0xde, 0xad, 0xbe, 0xef]
    );
    let all: Vec<u8> = (0..=255).collect();
    let hex: String = std::iter::once("\\x".to_string())
        .chain(all.iter().map(|b| format!("{b:02x}")))
        .collect();
    assert_eq!(decode_bytea(hex.as_bytes()).unwrap(), all);
    // tolerant like psycopg2
    assert_eq!(decode_bytea(br"\x00 ff\n10").unwrap(), vec![0, 255, 16]);
    assert_eq!(decode_bytea(br"\x00f").unwrap(), vec![0]);
    // escape format
    assert_eq!(
        decode_bytea(br#"\000\377\020\\"'A\012"#).unwrap(),
        b"\x00\xff\x10\\\"'A\n".to_vec()
    );
    assert_eq!(decode_bytea(b"abc").unwrap(), b"abc".to_vec());
    assert_eq!(decode_bytea(b"").unwrap(), Vec::<u8>::new());
    assert_eq!(decode_bytea(br"\\x41").unwrap(), b"\\x41".to_vec());
    assert_eq!(decode_bytea(br"a\400").unwrap(), b"a400".to_vec());
    assert_eq!(decode_bytea(br"\1x").unwrap(), b"1x".to_vec());
    assert_eq!(decode_bytea(br"\12").unwrap(), b"12".to_vec());
    assert_eq!(kind(decode_bytea(br"ab\")), ParseErrorKind::DataError);
    let mut buf = b"keep".to_vec();
    decode_bytea_into(br"\x2121", &mut buf).unwrap();
    assert_eq!(buf, b"keep!!");
}

#[test]
fn arrays_basic() {
    let p = |s: &'static str| parse_array(s.as_bytes(), b',').unwrap();
    assert_eq!(p("{1,2,NULL}"), arr(vec![el("1"), el("2"), NULL]));
    assert_eq!(p("{}"), arr(vec![]));
    assert_eq!(p("{1}"), arr(vec![el("1")]));
    assert_eq!(p("[0:1]={1,2}"), arr(vec![el("1"), el("2")]));
    assert_eq!(
        p("[1:2][2:3]={{1,2},{3,4}}"),
        arr(vec![
            arr(vec![el("1"), el("2")]),
            arr(vec![el("3"), el("4")])
        ])
    );
    assert_eq!(p("{{{1}}}"), arr(vec![arr(vec![arr(vec![el("1")])])]));
    assert_eq!(
        p("{{NULL,NULL},{1,NULL}}"),
        arr(vec![arr(vec![NULL, NULL]), arr(vec![el("1"), NULL])])
    );
    assert_eq!(p("{{}}"), arr(vec![arr(vec![])]));
    assert_eq!(p("{t,f}"), arr(vec![el("t"), el("f")]));
    assert_eq!(p("{1.5}"), arr(vec![el("1.5")]));
    assert_eq!(p("{null,Null,nULL}"), arr(vec![NULL, NULL, NULL]));
    assert_eq!(p("{NULLx,xNULL}"), arr(vec![el("NULLx"), el("xNULL")]));
    assert_eq!(p("{é,日本}"), arr(vec![el("é"), el("日本")]));
}

#[test]
fn arrays_quoting() {
    let p = |s: &'static str| parse_array(s.as_bytes(), b',').unwrap();
    // The server's output for array['', 'NULL', null, 'a b', 'a,b', 'q"x',
    // 'back\slash', '{x}', ' ', 'null', E'tab\there', 'é']
    let v = p(r#"{"","NULL",NULL,"a b","a,b","q\"x","back\\slash","{x}"," ","null","tab	here",é}"#);
    assert_eq!(
        v,
        arr(vec![
            el(""),
            el("NULL"),
            NULL,
            el("a b"),
            el("a,b"),
            owned("q\"x"),
            owned("back\\slash"),
            el("{x}"),
            el(" "),
            el("null"),
            el("tab\there"),
            el("é"),
        ])
    );
    // Quoted elements borrow, escaped ones own.
    if let ArrayValue::Array(items) = &v {
        assert!(matches!(
            items[3],
            ArrayValue::Element(Some(Cow::Borrowed(_)))
        ));
        assert!(matches!(items[5], ArrayValue::Element(Some(Cow::Owned(_)))));
    }
    assert_eq!(p(r#"{"a\\\"b"}"#), arr(vec![owned("a\\\"b")]));
    assert_eq!(p(r#"{""}"#), arr(vec![el("")]));
    assert_eq!(p(r#"{"\\x01"}"#), arr(vec![owned("\\x01")]));
    assert_eq!(
        p(r#"{"{\"a\": 1}","[1, 2]"}"#),
        arr(vec![owned("{\"a\": 1}"), el("[1, 2]")])
    );
    assert_eq!(p(r#"{"[1,3)",empty}"#), arr(vec![el("[1,3)"), el("empty")]));
    assert_eq!(
        p(r#"{"2020-01-01 08:00:00+00",infinity}"#),
        arr(vec![el("2020-01-01 08:00:00+00"), el("infinity")])
    );
    assert_eq!(p(r#"{"\\","\""}"#), arr(vec![owned("\\"), owned("\"")]));
    // array_in rules: whitespace, mixed quoting, escapes in unquoted elements
    assert_eq!(p("{ 1 , 2 ,3 }"), arr(vec![el("1"), el("2"), el("3")]));
    assert_eq!(
        p("  { { 1 } , { 2 } }  "),
        arr(vec![arr(vec![el("1")]), arr(vec![el("2")])])
    );
    assert_eq!(p(r#"{ "a b" , c}"#), arr(vec![el("a b"), el("c")]));
    assert_eq!(p(r#"{a"b c"d}"#), arr(vec![owned("ab cd")]));
    assert_eq!(p(r"{a\,b}"), arr(vec![owned("a,b")]));
    assert_eq!(p(r"{a\ }"), arr(vec![owned("a ")]));
    assert_eq!(p(r"{N\ULL}"), arr(vec![owned("NULL")]));
    assert_eq!(p(r#"{"NULL" }"#), arr(vec![el("NULL")]));
    assert_eq!(p("{a b}"), arr(vec![el("a b")]));
    assert_eq!(p("[0:0]={x}"), arr(vec![el("x")]));
    assert_eq!(p(" [ 0:0 ] = {x}"), arr(vec![el("x")]));
}

#[test]
fn arrays_box_delimiter() {
    let v = parse_array(b"{(1,1),(0,0);(2,2),(1,1)}", b';').unwrap();
    assert_eq!(v, arr(vec![el("(1,1),(0,0)"), el("(2,2),(1,1)")]));
}

#[test]
fn arrays_malformed() {
    let deep = format!("{}{}", "{".repeat(20), "}".repeat(20));
    for bad in [
        "",
        "{",
        "{}}",
        "{1,2",
        "{1,,2}",
        "{,1}",
        "{1,}",
        "1,2",
        "x{1}",
        "{1}x",
        "{1{2}}",
        "{\"a}",
        "{a\\",
        "[1:2]{1}",
        "[1:2={1}",
        "{{1},2",
        "{1}}",
        "{\"a\"b,c",
        deep.as_str(),
        "{{1}{2}}",
        "{1 {2}}",
    ] {
        let e = parse_array(bad.as_bytes(), b',').unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::DataError, "{bad:?}");
    }
    let ok = format!("{}{}", "{".repeat(17), "}".repeat(17));
    assert!(parse_array(ok.as_bytes(), b',').is_ok());
    let too_deep = format!("{}{}", "{".repeat(18), "}".repeat(18));
    assert_eq!(
        parse_array(too_deep.as_bytes(), b',').unwrap_err().message,
        format!("excessive array dimensions: '{too_deep}'")
    );
}

#[test]
fn walk_events() {
    #[derive(Debug)]
    struct Stop;
    impl From<ParseError> for Stop {
        fn from(_: ParseError) -> Self {
            Stop
        }
    }
    let mut evs = Vec::new();
    walk_array(b"{{1,NULL},{\"x\"}}", b',', |e| -> Result<(), ParseError> {
        evs.push(e);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        evs,
        vec![
            ArrayEvent::Begin,
            ArrayEvent::Begin,
            ArrayEvent::Element(Some(Cow::Borrowed(&b"1"[..]))),
            ArrayEvent::Element(None),
            ArrayEvent::End,
            ArrayEvent::Begin,
            ArrayEvent::Element(Some(Cow::Borrowed(&b"x"[..]))),
            ArrayEvent::End,
            ArrayEvent::End,
        ]
    );
    // the callback's error stops the walk
    let mut n = 0;
    let r: Result<(), Stop> = walk_array(b"{1,2,3}", b',', |_| {
        n += 1;
        if n == 3 {
            Err(Stop)
        } else {
            Ok(())
        }
    });
    assert!(r.is_err());
    assert_eq!(n, 3);
}

#[test]
fn ranges() {
    let r = |s: &'static str| match parse_range(s.as_bytes()).unwrap() {
        RangeValue::Range(r) => r,
        RangeValue::Empty => panic!("{s}: empty"),
    };
    let b = |s: &'static str| Some(Cow::Borrowed(s.as_bytes()));
    assert_eq!(parse_range(b"empty").unwrap(), RangeValue::Empty);
    let x = r("[1,3)");
    assert_eq!((x.bounds(), x.lower, x.upper), ("[)", b("1"), b("3")));
    let x = r("(,)");
    assert_eq!((x.bounds(), x.lower, x.upper), ("()", None, None));
    let x = r("[1.5,)");
    assert_eq!((x.bounds(), x.lower, x.upper), ("[)", b("1.5"), None));
    let x = r("(,5]");
    assert_eq!((x.bounds(), x.lower, x.upper), ("(]", None, b("5")));
    let x = r("[\"2020-01-01 00:00:00+00\",)");
    assert_eq!(x.lower, b("2020-01-01 00:00:00+00"));
    let x = r("[2020-01-01,infinity)");
    assert_eq!((x.lower, x.upper), (b("2020-01-01"), b("infinity")));
    let x = r("[-infinity,\"2020-01-01 10:00:00\"]");
    assert_eq!(
        (x.bounds(), x.lower, x.upper),
        ("[]", b("-infinity"), b("2020-01-01 10:00:00"))
    );
    let x = r(r#"["a""b","c\\d"]"#);
    assert_eq!(
        (x.lower.as_deref(), x.upper.as_deref()),
        (Some(&b"a\"b"[..]), Some(&b"c\\d"[..]))
    );
    // psycopg2's regex lets an unquoted upper bound contain commas
    let x = r("[1,2,3)");
    assert_eq!((x.lower, x.upper), (b("1"), b("2,3")));
    let x = r(r#"["",)"#);
    assert_eq!(x.lower, b(""));
    for bad in [
        "", "[", "[]", "[1)", "[1,2", "1,2)", "{1,2}", "Empty", "[\"a,1)", "[a\"b,1)",
    ] {
        assert_eq!(
            kind(parse_range(bad.as_bytes())),
            ParseErrorKind::InterfaceError,
            "{bad}"
        );
    }
}

/// Random inputs built from the characters that matter: no parser may panic (tests
/// run with overflow checks), and parse_array's tree matches walk_array's events.
#[test]
fn no_panics_on_random_input() {
    const ALPHABET: &[u8] = b"0123456789-+:. ,;{}[]=\"\\xXPBCNULnulmosyeardit\t\n()\xc3\xa9";
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let seeds: &[&[u8]] = &[
        b"2024-01-02 03:04:05.678+01",
        b"1 year 2 mons 3 days 04:05:06.789",
        b"{{1,2},{\"a\\\"b\",NULL}}",
        b"[\"2020-01-01 00:00:00+00\",)",
        b"\\x00ff",
        b"-9223372036854775808",
    ];
    for round in 0..200_000 {
        let mut input: Vec<u8> = if round % 2 == 0 {
            seeds[(next() % seeds.len() as u64) as usize].to_vec()
        } else {
            Vec::new()
        };
        for _ in 0..(next() % 6) {
            let pos = (next() % (input.len() as u64 + 1)) as usize;
            let c = ALPHABET[(next() % ALPHABET.len() as u64) as usize];
            match next() % 3 {
                0 if pos < input.len() => input[pos] = c,
                1 if pos < input.len() => {
                    input.remove(pos);
                }
                _ => input.insert(pos, c),
            }
        }
        let s = &input[..];
        let _ = parse_bool(s);
        let _ = parse_i64(s);
        let _ = parse_f64(s);
        let _ = parse_date(s);
        let _ = parse_time(s);
        let _ = parse_timestamp(s);
        if let Ok(iv) = parse_interval(s) {
            let _ = iv.to_timedelta_parts();
        }
        let _ = decode_bytea(s);
        let _ = parse_range(s);
        let tree = parse_array(s, b',');
        let mut events = 0usize;
        let walked = walk_array(s, b',', |_| -> Result<(), ParseError> {
            events += 1;
            Ok(())
        });
        assert_eq!(
            tree.is_ok(),
            walked.is_ok(),
            "{:?}",
            String::from_utf8_lossy(s)
        );
    }
}
