//! Parsers for PostgreSQL's **text** output format, matching psycopg2's default
//! typecasters (`psycopg/typecast_*.c`, `lib/_json.py`, `lib/_range.py`).
//!
//! Every parser takes the bytes exactly as the server sent them in a DataRow (what `psql -At`
//! prints) and returns plain Rust values; the Python face turns those into the objects
//! psycopg2 would return, the C face may use them or hand out the text as is. Scalar parsers
//! never allocate (except to build an error); `decode_bytea` allocates its output, arrays and
//! ranges borrow from the input unless an element contains escapes.
//!
//! # Session settings the parsers rely on
//! * `DateStyle = ISO` (the server default, `ISO, MDY`; the `DMY`/`MDY` part does not change
//!   ISO output). psycopg2 has the same requirement: with `SQL`, `Postgres` or `German`
//!   styles its date casters fail or return garbage; ours fail with [`ParseErrorKind::DataError`].
//! * `IntervalStyle = postgres` (the server default). `iso_8601` output (`P1Y2M...`) is
//!   rejected with [`ParseErrorKind::NotSupportedError`] exactly like psycopg2
//!   ("iso_8601 intervalstyle currently not supported"); `sql_standard` and
//!   `postgres_verbose` are rejected with `DataError` (psycopg2 silently mis-parses them).
//! * `bytea_output` may be `hex` (default) or `escape`: both are decoded.
//!
//! # What psycopg2 returns per type OID (see [`typecast`] / [`array_typecast`])
//! | PostgreSQL type | psycopg2 (default casters) | parser here |
//! |---|---|---|
//! | `int2`, `int4`, `int8`, `oid` | `int` | [`parse_i64`] |
//! | `float4`, `float8` | `float` (`NaN`, `Infinity`, `-Infinity` too) | [`parse_f64`] |
//! | `numeric` | `Decimal(text)` (`NaN`, `Infinity` too) | none: pass the text to `Decimal` |
//! | `bool` | `bool` (first byte `t`/`T`/`f`/`F`) | [`parse_bool`] |
//! | `text`, `varchar`, `bpchar`, `name`, `"char"`, `unknown` | `str` | none: decode with the client encoding |
//! | `json`, `jsonb` | `json.loads(text)` | none: the text is the JSON document |
//! | `bytea` | `memoryview` | [`decode_bytea`] |
//! | `date` | `datetime.date`; `±infinity` → `date.max`/`date.min` | [`parse_date`] |
//! | `time`, `timetz` | `datetime.time` (aware iff the text has an offset) | [`parse_time`] |
//! | `timestamp` | naive `datetime`; `±infinity` → `datetime.max`/`min` | [`parse_timestamp`] |
//! | `timestamptz` | aware `datetime`, `tzinfo = datetime.timezone(offset)`; `±infinity` → `datetime.max`/`min` with `tzinfo=timezone.utc` | [`parse_timestamp`] |
//! | `interval` | `timedelta` (year = 365 days, month = 30 days) | [`parse_interval`], [`Interval::to_timedelta_parts`] |
//! | `int4range`, `int8range`, `numrange` / `daterange` / `tsrange` / `tstzrange` | `NumericRange` / `DateRange` / `DateTimeRange` / `DateTimeTZRange` | [`parse_range`] |
//! | arrays of all the above, plus `inet[]`, `cidr[]`, `macaddr[]` | nested `list`s, NULL → `None` | [`parse_array`] / [`walk_array`] |
//! | everything else (`uuid`, `money`, `inet`, enums, domains, `xml`, ...) | `str` | none |
//! | arrays of everything else (`uuid[]`, `money[]`, `xml[]`, ...) | `str` — the raw `{...}` text! | none |
//!
//! `uuid`, `json`, `numeric`, text types and `money` need no parsing beyond UTF-8 decoding:
//! psycopg2 has no `money` caster (it returns the locale-formatted text such as
//! `"-$1,234.50"` as a `str`) and casts `uuid` to `str` unless `register_uuid()` is called.
//!
//! # Values Python's `datetime` cannot hold
//! psycopg2 builds `date(y, m, d)` / `datetime(...)` from the parsed fields and lets Python
//! raise `ValueError` ("year -44 is out of range", "year 10000 is out of range"). The
//! parsers here accept such values (BC dates, years above 9999 such as `10000-01-01` or
//! `294276-12-31`) so the face can raise the same `ValueError` when it builds the object.
//! BC years are stored negated the way psycopg2 does it: `0044-03-15 BC` → `year = -44`
//! (not the astronomical -43). Like psycopg2, `24:00:00` is read as `00:00:00` (psycopg2
//! ticket #278) and a seconds field above 59 carries into the minutes.
//!
//! # Deliberate differences from psycopg2
//! * psycopg2 compares `"infinity"` with `strcmp`, which never matches inside an array
//!   (the element is not NUL-terminated), so `'{infinity}'::date[]` raises DataError there;
//!   here `infinity` is recognised in arrays too (→ `date.max`, as for a scalar).
//! * psycopg2's array code strips a `[lo:hi]=` decoration only for one-dimensional arrays
//!   (`'[1:2][2:3]={{1,2},{3,4}}'::int[]` raises DataError "array does not start with '{'");
//!   here every decoration is skipped and the lower bounds are ignored, as psycopg2 intends.
//! * psycopg2 raises OverflowError for any interval field above 2^31-1 (e.g. hours of
//!   `'2562047788:00:54.775807'` or `'-2147483648 days'`), even when the `timedelta` could
//!   hold it; here every value PostgreSQL can produce is parsed exactly.
//! * Malformed input is an error here, where psycopg2's hand-written scanners sometimes
//!   return garbage (e.g. letters inside a date are "digits" to psycopg2).
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::fmt;

// ------------------------------------------------------------------------------------------
// Type OIDs
// ------------------------------------------------------------------------------------------

/// Builtin type OIDs (stable across PostgreSQL versions), with their array types.
///
/// Covers every type psycopg2 registers a default caster for, their arrays, and the other
/// builtin scalar types so that [`array_element_oid`] knows every
/// builtin array.
pub mod oid {
    /// `bool`
    pub const BOOL: u32 = 16;
    /// `bytea`
    pub const BYTEA: u32 = 17;
    /// `"char"` (the one-byte internal type)
    pub const CHAR: u32 = 18;
    /// `name`
    pub const NAME: u32 = 19;
    /// `int8` / `bigint`
    pub const INT8: u32 = 20;
    /// `int2` / `smallint`
    pub const INT2: u32 = 21;
    /// `int2vector` (space-separated, not an array in text form)
    pub const INT2VECTOR: u32 = 22;
    /// `int4` / `integer`
    pub const INT4: u32 = 23;
    /// `regproc`
    pub const REGPROC: u32 = 24;
    /// `text`
    pub const TEXT: u32 = 25;
    /// `oid`
    pub const OID: u32 = 26;
    /// `tid`
    pub const TID: u32 = 27;
    /// `xid`
    pub const XID: u32 = 28;
    /// `cid`
    pub const CID: u32 = 29;
    /// `oidvector` (space-separated, not an array in text form)
    pub const OIDVECTOR: u32 = 30;
    /// `json`
    pub const JSON: u32 = 114;
    /// `xml`
    pub const XML: u32 = 142;
    /// `point`
    pub const POINT: u32 = 600;
    /// `lseg`
    pub const LSEG: u32 = 601;
    /// `path`
    pub const PATH: u32 = 602;
    /// `box` (its arrays use `;` as delimiter)
    pub const BOX: u32 = 603;
    /// `polygon`
    pub const POLYGON: u32 = 604;
    /// `line`
    pub const LINE: u32 = 628;
    /// `cidr`
    pub const CIDR: u32 = 650;
    /// `float4` / `real`
    pub const FLOAT4: u32 = 700;
    /// `float8` / `double precision`
    pub const FLOAT8: u32 = 701;
    /// `tinterval` (removed in PostgreSQL 12; psycopg2 still maps it to its interval caster)
    pub const TINTERVAL: u32 = 704;
    /// `unknown` (untyped literals such as `select 'x'`)
    pub const UNKNOWN: u32 = 705;
    /// `circle`
    pub const CIRCLE: u32 = 718;
    /// `macaddr8`
    pub const MACADDR8: u32 = 774;
    /// `money` (psycopg2 returns it as `str`)
    pub const MONEY: u32 = 790;
    /// `macaddr`
    pub const MACADDR: u32 = 829;
    /// `inet`
    pub const INET: u32 = 869;
    /// `aclitem`
    pub const ACLITEM: u32 = 1033;
    /// `bpchar` / `char(n)`
    pub const BPCHAR: u32 = 1042;
    /// `varchar`
    pub const VARCHAR: u32 = 1043;
    /// `date`
    pub const DATE: u32 = 1082;
    /// `time`
    pub const TIME: u32 = 1083;
    /// `timestamp`
    pub const TIMESTAMP: u32 = 1114;
    /// `timestamptz`
    pub const TIMESTAMPTZ: u32 = 1184;
    /// `interval`
    pub const INTERVAL: u32 = 1186;
    /// `timetz`
    pub const TIMETZ: u32 = 1266;
    /// `bit`
    pub const BIT: u32 = 1560;
    /// `varbit`
    pub const VARBIT: u32 = 1562;
    /// `numeric`
    pub const NUMERIC: u32 = 1700;
    /// `refcursor`
    pub const REFCURSOR: u32 = 1790;
    /// `regprocedure`
    pub const REGPROCEDURE: u32 = 2202;
    /// `regoper`
    pub const REGOPER: u32 = 2203;
    /// `regoperator`
    pub const REGOPERATOR: u32 = 2204;
    /// `regclass`
    pub const REGCLASS: u32 = 2205;
    /// `regtype`
    pub const REGTYPE: u32 = 2206;
    /// `record`
    pub const RECORD: u32 = 2249;
    /// `cstring`
    pub const CSTRING: u32 = 2275;
    /// `uuid` (psycopg2 returns it as `str` by default)
    pub const UUID: u32 = 2950;
    /// `txid_snapshot`
    pub const TXID_SNAPSHOT: u32 = 2970;
    /// `pg_lsn`
    pub const PG_LSN: u32 = 3220;
    /// `tsvector`
    pub const TSVECTOR: u32 = 3614;
    /// `tsquery`
    pub const TSQUERY: u32 = 3615;
    /// `gtsvector`
    pub const GTSVECTOR: u32 = 3642;
    /// `regconfig`
    pub const REGCONFIG: u32 = 3734;
    /// `regdictionary`
    pub const REGDICTIONARY: u32 = 3769;
    /// `jsonb`
    pub const JSONB: u32 = 3802;
    /// `int4range`
    pub const INT4RANGE: u32 = 3904;
    /// `numrange`
    pub const NUMRANGE: u32 = 3906;
    /// `tsrange`
    pub const TSRANGE: u32 = 3908;
    /// `tstzrange`
    pub const TSTZRANGE: u32 = 3910;
    /// `daterange`
    pub const DATERANGE: u32 = 3912;
    /// `int8range`
    pub const INT8RANGE: u32 = 3926;
    /// `jsonpath`
    pub const JSONPATH: u32 = 4072;
    /// `regnamespace`
    pub const REGNAMESPACE: u32 = 4089;
    /// `regrole`
    pub const REGROLE: u32 = 4096;
    /// `regcollation`
    pub const REGCOLLATION: u32 = 4191;
    /// `int4multirange` (PostgreSQL 14+)
    pub const INT4MULTIRANGE: u32 = 4451;
    /// `nummultirange` (PostgreSQL 14+)
    pub const NUMMULTIRANGE: u32 = 4532;
    /// `tsmultirange` (PostgreSQL 14+)
    pub const TSMULTIRANGE: u32 = 4533;
    /// `tstzmultirange` (PostgreSQL 14+)
    pub const TSTZMULTIRANGE: u32 = 4534;
    /// `datemultirange` (PostgreSQL 14+)
    pub const DATEMULTIRANGE: u32 = 4535;
    /// `int8multirange` (PostgreSQL 14+)
    pub const INT8MULTIRANGE: u32 = 4536;
    /// `pg_snapshot`
    pub const PG_SNAPSHOT: u32 = 5038;
    /// `xid8`
    pub const XID8: u32 = 5069;

    macro_rules! array_oids {
        ($($name:ident = $oid:literal => $elem:ident;)*) => {
            $(
                #[doc = concat!("`", stringify!($elem), "[]`: array of [`", stringify!($elem), "`].")]
                pub const $name: u32 = $oid;
            )*

            /// Element OID of a builtin array OID.
            pub(super) const fn element_of(array_oid: u32) -> Option<u32> {
                match array_oid {
                    $($oid => Some($elem),)*
                    _ => None,
                }
            }

            /// Array OID of a builtin element OID.
            pub(super) const fn array_of(elem_oid: u32) -> Option<u32> {
                match elem_oid {
                    $($elem => Some($oid),)*
                    _ => None,
                }
            }
        };
    }

    array_oids! {
        BOOL_ARRAY = 1000 => BOOL;
        BYTEA_ARRAY = 1001 => BYTEA;
        CHAR_ARRAY = 1002 => CHAR;
        NAME_ARRAY = 1003 => NAME;
        INT2_ARRAY = 1005 => INT2;
        INT2VECTOR_ARRAY = 1006 => INT2VECTOR;
        INT4_ARRAY = 1007 => INT4;
        REGPROC_ARRAY = 1008 => REGPROC;
        TEXT_ARRAY = 1009 => TEXT;
        TID_ARRAY = 1010 => TID;
        XID_ARRAY = 1011 => XID;
        CID_ARRAY = 1012 => CID;
        OIDVECTOR_ARRAY = 1013 => OIDVECTOR;
        BPCHAR_ARRAY = 1014 => BPCHAR;
        VARCHAR_ARRAY = 1015 => VARCHAR;
        INT8_ARRAY = 1016 => INT8;
        POINT_ARRAY = 1017 => POINT;
        LSEG_ARRAY = 1018 => LSEG;
        PATH_ARRAY = 1019 => PATH;
        BOX_ARRAY = 1020 => BOX;
        FLOAT4_ARRAY = 1021 => FLOAT4;
        FLOAT8_ARRAY = 1022 => FLOAT8;
        POLYGON_ARRAY = 1027 => POLYGON;
        OID_ARRAY = 1028 => OID;
        ACLITEM_ARRAY = 1034 => ACLITEM;
        MACADDR_ARRAY = 1040 => MACADDR;
        INET_ARRAY = 1041 => INET;
        TIMESTAMP_ARRAY = 1115 => TIMESTAMP;
        DATE_ARRAY = 1182 => DATE;
        TIME_ARRAY = 1183 => TIME;
        TIMESTAMPTZ_ARRAY = 1185 => TIMESTAMPTZ;
        INTERVAL_ARRAY = 1187 => INTERVAL;
        NUMERIC_ARRAY = 1231 => NUMERIC;
        CSTRING_ARRAY = 1263 => CSTRING;
        TIMETZ_ARRAY = 1270 => TIMETZ;
        BIT_ARRAY = 1561 => BIT;
        VARBIT_ARRAY = 1563 => VARBIT;
        XML_ARRAY = 143 => XML;
        JSON_ARRAY = 199 => JSON;
        XID8_ARRAY = 271 => XID8;
        LINE_ARRAY = 629 => LINE;
        CIDR_ARRAY = 651 => CIDR;
        CIRCLE_ARRAY = 719 => CIRCLE;
        MACADDR8_ARRAY = 775 => MACADDR8;
        MONEY_ARRAY = 791 => MONEY;
        REFCURSOR_ARRAY = 2201 => REFCURSOR;
        REGPROCEDURE_ARRAY = 2207 => REGPROCEDURE;
        REGOPER_ARRAY = 2208 => REGOPER;
        REGOPERATOR_ARRAY = 2209 => REGOPERATOR;
        REGCLASS_ARRAY = 2210 => REGCLASS;
        REGTYPE_ARRAY = 2211 => REGTYPE;
        RECORD_ARRAY = 2287 => RECORD;
        TXID_SNAPSHOT_ARRAY = 2949 => TXID_SNAPSHOT;
        UUID_ARRAY = 2951 => UUID;
        PG_LSN_ARRAY = 3221 => PG_LSN;
        TSVECTOR_ARRAY = 3643 => TSVECTOR;
        GTSVECTOR_ARRAY = 3644 => GTSVECTOR;
        TSQUERY_ARRAY = 3645 => TSQUERY;
        REGCONFIG_ARRAY = 3735 => REGCONFIG;
        REGDICTIONARY_ARRAY = 3770 => REGDICTIONARY;
        JSONB_ARRAY = 3807 => JSONB;
        INT4RANGE_ARRAY = 3905 => INT4RANGE;
        NUMRANGE_ARRAY = 3907 => NUMRANGE;
        TSRANGE_ARRAY = 3909 => TSRANGE;
        TSTZRANGE_ARRAY = 3911 => TSTZRANGE;
        DATERANGE_ARRAY = 3913 => DATERANGE;
        INT8RANGE_ARRAY = 3927 => INT8RANGE;
        JSONPATH_ARRAY = 4073 => JSONPATH;
        REGNAMESPACE_ARRAY = 4090 => REGNAMESPACE;
        REGROLE_ARRAY = 4097 => REGROLE;
        REGCOLLATION_ARRAY = 4192 => REGCOLLATION;
        PG_SNAPSHOT_ARRAY = 5039 => PG_SNAPSHOT;
        INT4MULTIRANGE_ARRAY = 6150 => INT4MULTIRANGE;
        NUMMULTIRANGE_ARRAY = 6151 => NUMMULTIRANGE;
        TSMULTIRANGE_ARRAY = 6152 => TSMULTIRANGE;
        TSTZMULTIRANGE_ARRAY = 6153 => TSTZMULTIRANGE;
        DATEMULTIRANGE_ARRAY = 6155 => DATEMULTIRANGE;
        INT8MULTIRANGE_ARRAY = 6157 => INT8MULTIRANGE;
    }
}

/// The element type of a builtin array type (`1007` → `Some(23)`), `None` for anything else
/// (including `int2vector`/`oidvector`, whose text form is not an array literal, and
/// user-defined array types, whose OIDs differ per database).
#[inline]
pub const fn array_element_oid(array_oid: u32) -> Option<u32> {
    oid::element_of(array_oid)
}

/// The array type of a builtin element type (`23` → `Some(1007)`), `None` if unknown.
#[inline]
pub const fn array_oid_of(elem_oid: u32) -> Option<u32> {
    oid::array_of(elem_oid)
}

/// The delimiter between elements of an array of `elem_oid` (`pg_type.typdelim`): `;` for
/// `box`, `,` for every other builtin type.
#[inline]
pub const fn array_delimiter(elem_oid: u32) -> u8 {
    if elem_oid == oid::BOX {
        b';'
    } else {
        b','
    }
}

// ------------------------------------------------------------------------------------------
// psycopg2's typecaster table
// ------------------------------------------------------------------------------------------

/// Which of psycopg2's default typecasters applies to a value (see [`typecast`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Typecast {
    /// `str`: decode the text with the connection encoding (text types, `unknown`, and the
    /// default for every type without a caster, including `uuid` and `money`).
    Str,
    /// `int` via [`parse_i64`] (`int2`, `int4`, `int8`, `oid`).
    Int,
    /// `float` via [`parse_f64`] (`float4`, `float8`).
    Float,
    /// `decimal.Decimal(text)` (`numeric`).
    Decimal,
    /// `bool` via [`parse_bool`].
    Bool,
    /// `memoryview` of [`decode_bytea`].
    Bytea,
    /// `datetime.date` via [`parse_date`].
    Date,
    /// `datetime.time` via [`parse_time`] (`time` and `timetz`; aware iff an offset is present).
    Time,
    /// `datetime.datetime` via [`parse_timestamp`] (`timestamp`): `±infinity` become the naive
    /// `datetime.max`/`datetime.min`.
    Timestamp,
    /// `datetime.datetime` via [`parse_timestamp`] (`timestamptz`): aware with
    /// `datetime.timezone(timedelta(seconds=offset))`; `±infinity` become
    /// `datetime.max`/`datetime.min` with `tzinfo=timezone.utc`.
    TimestampTz,
    /// `datetime.timedelta` via [`parse_interval`] and [`Interval::to_timedelta_parts`].
    Interval,
    /// `json.loads(text)` (`json`, `jsonb`).
    Json,
    /// A `psycopg2.extras` range object via [`parse_range`].
    Range(RangeKind),
}

/// The builtin range types psycopg2 registers casters for (in `psycopg2._range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RangeKind {
    /// `int4range` → `NumericRange` of `int`.
    Int4,
    /// `int8range` → `NumericRange` of `int`.
    Int8,
    /// `numrange` → `NumericRange` of `Decimal`.
    Numeric,
    /// `daterange` → `DateRange` of `date`.
    Date,
    /// `tsrange` → `DateTimeRange` of naive `datetime`.
    Timestamp,
    /// `tstzrange` → `DateTimeTZRange` of aware `datetime`.
    TimestampTz,
}

impl RangeKind {
    /// The OID of the bounds' type.
    pub const fn subtype_oid(self) -> u32 {
        match self {
            RangeKind::Int4 => oid::INT4,
            RangeKind::Int8 => oid::INT8,
            RangeKind::Numeric => oid::NUMERIC,
            RangeKind::Date => oid::DATE,
            RangeKind::Timestamp => oid::TIMESTAMP,
            RangeKind::TimestampTz => oid::TIMESTAMPTZ,
        }
    }

    /// The caster psycopg2 applies to each bound (`cur.cast(subtype_oid, bound)`).
    pub const fn bound_typecast(self) -> Typecast {
        typecast(self.subtype_oid())
    }

    /// The `psycopg2.extras` class psycopg2 builds.
    pub const fn python_class(self) -> &'static str {
        match self {
            RangeKind::Int4 | RangeKind::Int8 | RangeKind::Numeric => "NumericRange",
            RangeKind::Date => "DateRange",
            RangeKind::Timestamp => "DateTimeRange",
            RangeKind::TimestampTz => "DateTimeTZRange",
        }
    }
}

/// psycopg2's default caster for a column of type `oid` (its `string_types` table, plus the
/// json/jsonb and range casters `psycopg2.extensions` registers at import).
///
/// Array OIDs psycopg2 has no array caster for (`uuid[]`, `money[]`, `xml[]`, `box[]`, user
/// types, ...) map to [`Typecast::Str`]: psycopg2 returns their raw `{...}` text. Check
/// [`array_typecast`] first.
pub const fn typecast(oid: u32) -> Typecast {
    use oid::*;
    match oid {
        INT8 | INT4 | INT2 | OID => Typecast::Int,
        FLOAT8 | FLOAT4 => Typecast::Float,
        NUMERIC => Typecast::Decimal,
        BOOL => Typecast::Bool,
        BYTEA => Typecast::Bytea,
        DATE => Typecast::Date,
        TIME | TIMETZ => Typecast::Time,
        TIMESTAMP => Typecast::Timestamp,
        TIMESTAMPTZ => Typecast::TimestampTz,
        INTERVAL | TINTERVAL => Typecast::Interval,
        JSON | JSONB => Typecast::Json,
        INT4RANGE => Typecast::Range(RangeKind::Int4),
        INT8RANGE => Typecast::Range(RangeKind::Int8),
        NUMRANGE => Typecast::Range(RangeKind::Numeric),
        DATERANGE => Typecast::Range(RangeKind::Date),
        TSRANGE => Typecast::Range(RangeKind::Timestamp),
        TSTZRANGE => Typecast::Range(RangeKind::TimestampTz),
        _ => Typecast::Str,
    }
}

/// If psycopg2 casts columns of type `oid` to a `list`, the caster it applies to each
/// element; `None` if it returns the text unparsed.
///
/// Mirrors psycopg2 exactly, quirks included: `int2vector[]` (1006) and `oidvector[]` (1013)
/// are cast with the integer caster (which fails on multi-element vectors, as in psycopg2),
/// `inet[]`, `cidr[]` and `macaddr[]` are lists of `str`, and `uuid[]` is not cast at all.
pub const fn array_typecast(oid: u32) -> Option<Typecast> {
    use oid::*;
    Some(match oid {
        INT8_ARRAY | INT2_ARRAY | INT2VECTOR_ARRAY | INT4_ARRAY => Typecast::Int,
        OID_ARRAY | OIDVECTOR_ARRAY => Typecast::Int,
        FLOAT4_ARRAY | FLOAT8_ARRAY => Typecast::Float,
        NUMERIC_ARRAY => Typecast::Decimal,
        CHAR_ARRAY | NAME_ARRAY | TEXT_ARRAY | BPCHAR_ARRAY | VARCHAR_ARRAY => Typecast::Str,
        INET_ARRAY | CIDR_ARRAY | MACADDR_ARRAY => Typecast::Str,
        BOOL_ARRAY => Typecast::Bool,
        TIMESTAMP_ARRAY => Typecast::Timestamp,
        TIMESTAMPTZ_ARRAY => Typecast::TimestampTz,
        TIME_ARRAY | TIMETZ_ARRAY => Typecast::Time,
        DATE_ARRAY => Typecast::Date,
        INTERVAL_ARRAY => Typecast::Interval,
        BYTEA_ARRAY => Typecast::Bytea,
        JSON_ARRAY | JSONB_ARRAY => Typecast::Json,
        INT4RANGE_ARRAY => Typecast::Range(RangeKind::Int4),
        INT8RANGE_ARRAY => Typecast::Range(RangeKind::Int8),
        NUMRANGE_ARRAY => Typecast::Range(RangeKind::Numeric),
        DATERANGE_ARRAY => Typecast::Range(RangeKind::Date),
        TSRANGE_ARRAY => Typecast::Range(RangeKind::Timestamp),
        TSTZRANGE_ARRAY => Typecast::Range(RangeKind::TimestampTz),
        _ => return None,
    })
}

// ------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------

/// Which exception psycopg2 raises for the failure (the Python face maps it 1:1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// `psycopg2.DataError`: unparsable date, time, interval, array or bytea.
    DataError,
    /// `psycopg2.InterfaceError`: unparsable boolean or range.
    InterfaceError,
    /// Python `ValueError`: not a number (`int()` / `float()` would fail).
    ValueError,
    /// `psycopg2.NotSupportedError`: interval in `IntervalStyle = iso_8601`.
    NotSupportedError,
    /// Well-formed but not representable here. For [`parse_i64`]: an integer beyond `i64` —
    /// build a Python `int` from the text instead (psycopg2 would succeed). For
    /// [`parse_interval`]: a field too big (psycopg2 raises `OverflowError`).
    OutOfRange,
}

/// A value the server sent could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What went wrong, as the psycopg2 exception class to raise.
    pub kind: ParseErrorKind,
    /// The message, worded like psycopg2's where it has one.
    pub message: String,
}

impl ParseError {
    /// A new error.
    pub fn new(kind: ParseErrorKind, message: impl Into<String>) -> Self {
        ParseError {
            kind,
            message: message.into(),
        }
    }

    /// True for [`ParseErrorKind::OutOfRange`]: valid syntax, too big for the parser's type.
    pub fn is_out_of_range(&self) -> bool {
        self.kind == ParseErrorKind::OutOfRange
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// The input for an error message: lossy UTF-8, cut after 100 bytes.
fn shown(s: &[u8]) -> String {
    if s.len() > 100 {
        format!("{}...", String::from_utf8_lossy(&s[..100]))
    } else {
        String::from_utf8_lossy(s).into_owned()
    }
}

#[cold]
#[inline(never)]
fn error(kind: ParseErrorKind, message: String) -> ParseError {
    ParseError { kind, message }
}

#[cold]
#[inline(never)]
fn date_error() -> ParseError {
    error(ParseErrorKind::DataError, "unable to parse date".into())
}

#[cold]
#[inline(never)]
fn time_error() -> ParseError {
    error(ParseErrorKind::DataError, "unable to parse time".into())
}

#[cold]
#[inline(never)]
fn interval_error(s: &[u8]) -> ParseError {
    error(
        ParseErrorKind::DataError,
        format!(
            "unable to parse interval: '{}' (IntervalStyle postgres expected)",
            shown(s)
        ),
    )
}

#[cold]
#[inline(never)]
fn array_error(message: &str, s: &[u8]) -> ParseError {
    error(
        ParseErrorKind::DataError,
        format!("{message}: '{}'", shown(s)),
    )
}

// ------------------------------------------------------------------------------------------
// Digit helpers
// ------------------------------------------------------------------------------------------

/// Reads `min..=max` decimal digits at `s[*i..]`; `None` if fewer than `min` digits or more
/// than `max` digits follow. `max <= 9` so the value fits a `u32`.
#[inline(always)]
fn read_digits(s: &[u8], i: &mut usize, min: usize, max: usize) -> Option<u32> {
    let start = *i;
    let mut v: u32 = 0;
    while let Some(&c) = s.get(*i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if *i - start == max {
            return None;
        }
        v = v * 10 + d as u32;
        *i += 1;
    }
    if *i - start < min {
        None
    } else {
        Some(v)
    }
}

#[inline(always)]
fn eat(s: &[u8], i: &mut usize, c: u8) -> bool {
    if s.get(*i) == Some(&c) {
        *i += 1;
        true
    } else {
        false
    }
}

// ------------------------------------------------------------------------------------------
// bool, integers, floats
// ------------------------------------------------------------------------------------------

/// Parses a `bool` (`t` / `f`). Like psycopg2 only the first byte counts (`t`/`T` → true,
/// `f`/`F` → false); anything else is an InterfaceError "can't parse boolean: '...'".
#[inline]
pub fn parse_bool(s: &[u8]) -> Result<bool, ParseError> {
    match s.first() {
        Some(b't' | b'T') => Ok(true),
        Some(b'f' | b'F') => Ok(false),
        _ => Err(error(
            ParseErrorKind::InterfaceError,
            format!("can't parse boolean: '{}'", shown(s)),
        )),
    }
}

#[cold]
#[inline(never)]
fn int_error(s: &[u8]) -> ParseError {
    error(
        ParseErrorKind::ValueError,
        format!("invalid literal for int() with base 0: '{}'", shown(s)),
    )
}

/// Parses an integer (`int2`, `int4`, `int8`, `oid`): optional sign, decimal digits.
///
/// Every value of these types fits an `i64`. A well-formed integer beyond `i64` returns
/// [`ParseErrorKind::OutOfRange`] (see [`ParseError::is_out_of_range`]): build a Python `int`
/// from the text then, as psycopg2 (`PyLong_FromString`) would. Anything else is a
/// `ValueError` like Python's `int()`.
#[inline]
pub fn parse_i64(s: &[u8]) -> Result<i64, ParseError> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(int_error(s));
    }
    if digits.len() > 19 {
        return big_int(s, digits);
    }
    // 19 digits never overflow a u64.
    let mut acc: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return Err(int_error(s));
        }
        acc = acc * 10 + d as u64;
    }
    if neg {
        if acc <= i64::MAX as u64 + 1 {
            Ok((acc as i64).wrapping_neg())
        } else {
            big_int(s, digits)
        }
    } else if acc <= i64::MAX as u64 {
        Ok(acc as i64)
    } else {
        big_int(s, digits)
    }
}

/// More than 19 digits, or 19 digits beyond `i64`: leading zeros, out of range or invalid.
#[cold]
#[inline(never)]
fn big_int(s: &[u8], digits: &[u8]) -> Result<i64, ParseError> {
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(int_error(s));
    }
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    if zeros > 0 {
        // Leading zeros (never sent by the server): parse the significant digits.
        let short = &digits[zeros.min(digits.len() - 1)..];
        if short.len() <= 19 {
            let acc = short.iter().fold(0u64, |a, &c| a * 10 + (c - b'0') as u64);
            if s[0] == b'-' && acc <= i64::MAX as u64 + 1 {
                return Ok((acc as i64).wrapping_neg());
            }
            if s[0] != b'-' && acc <= i64::MAX as u64 {
                return Ok(acc as i64);
            }
        }
    }
    Err(error(
        ParseErrorKind::OutOfRange,
        format!("integer out of i64 range: '{}'", shown(s)),
    ))
}

/// Parses a `float4`/`float8` like Python's `float()`: decimal and exponent forms plus the
/// server's `NaN`, `Infinity` and `-Infinity`. Not a number: `ValueError`.
#[inline]
pub fn parse_f64(s: &[u8]) -> Result<f64, ParseError> {
    match s {
        b"NaN" => return Ok(f64::NAN),
        b"Infinity" => return Ok(f64::INFINITY),
        b"-Infinity" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    match std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
    {
        Some(v) => Ok(v),
        None => Err(error(
            ParseErrorKind::ValueError,
            format!("could not convert string to float: '{}'", shown(s)),
        )),
    }
}

// ------------------------------------------------------------------------------------------
// date / time / timestamp
// ------------------------------------------------------------------------------------------

/// A calendar date as the server printed it (not validated: Python's `date()` validates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Date {
    /// The year; negated for BC dates like psycopg2 does (`0044-03-15 BC` → -44), so
    /// Python raises the same "year -44 is out of range". May exceed 9999.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of month, 1..=31.
    pub day: u8,
}

/// A `date` value: a date or one of PostgreSQL's infinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateValue {
    /// An ordinary date.
    Date(Date),
    /// `infinity`: psycopg2 returns `date.max`.
    Infinity,
    /// `-infinity`: psycopg2 returns `date.min`.
    NegInfinity,
}

/// A time of day, with the UTC offset for `timetz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Time {
    /// Hour, 0..=23 (`24:00:00` is read as `00:00:00`, like psycopg2).
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59.
    pub second: u8,
    /// Microsecond, 0..=999999.
    pub micro: u32,
    /// Offset east of UTC in seconds (`+05:30` → 19800) if the text had one (`timetz`);
    /// always `None` inside a [`Timestamp`] (see [`Timestamp::offset_secs`]).
    pub offset_secs: Option<i32>,
}

/// A `timestamp` / `timestamptz` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// The date part (BC years negated, see [`Date::year`]).
    pub date: Date,
    /// The time part (its `offset_secs` is `None`).
    pub time: Time,
    /// Offset east of UTC in seconds (`timestamptz`; seconds precision for old dates, e.g.
    /// `+00:19:32`), `None` for `timestamp`.
    pub offset_secs: Option<i32>,
}

/// A `timestamp` / `timestamptz` value or one of PostgreSQL's infinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampValue {
    /// An ordinary timestamp.
    Timestamp(Timestamp),
    /// `infinity`: psycopg2 returns `datetime.max` (with `tzinfo=timezone.utc` for timestamptz).
    Infinity,
    /// `-infinity`: psycopg2 returns `datetime.min` (with `tzinfo=timezone.utc` for timestamptz).
    NegInfinity,
}

/// Splits a trailing `" BC"`.
#[inline(always)]
fn strip_bc(s: &[u8]) -> (&[u8], bool) {
    match s {
        [rest @ .., b' ', b'B', b'C'] => (rest, true),
        _ => (s, false),
    }
}

/// `Y+-MM-DD` at `s[*i..]`.
#[inline(always)]
fn date_at(s: &[u8], i: &mut usize) -> Option<Date> {
    let year = read_digits(s, i, 1, 9)?;
    if !eat(s, i, b'-') {
        return None;
    }
    let month = read_digits(s, i, 1, 2)?;
    if !eat(s, i, b'-') {
        return None;
    }
    let day = read_digits(s, i, 1, 2)?;
    Some(Date {
        year: year as i32,
        month: month as u8,
        day: day as u8,
    })
}

/// `HH:MM:SS[.ffffff][(+|-)HH[:MM[:SS]]]` at `s[*i..]`, normalised like psycopg2.
#[inline(always)]
fn time_at(s: &[u8], i: &mut usize) -> Option<Time> {
    let mut hour = read_digits(s, i, 1, 2)?;
    if !eat(s, i, b':') {
        return None;
    }
    let mut minute = read_digits(s, i, 1, 2)?;
    if !eat(s, i, b':') {
        return None;
    }
    let mut second = read_digits(s, i, 1, 2)?;
    let mut micro = 0;
    if eat(s, i, b'.') {
        let start = *i;
        micro = read_digits(s, i, 1, 6)?;
        for _ in (*i - start)..6 {
            micro *= 10;
        }
    }
    let mut offset_secs = None;
    if let Some(&c @ (b'+' | b'-')) = s.get(*i) {
        *i += 1;
        let h = read_digits(s, i, 1, 2)? as i32;
        let mut m = 0;
        let mut sec = 0;
        if eat(s, i, b':') {
            m = read_digits(s, i, 1, 2)? as i32;
            if eat(s, i, b':') {
                sec = read_digits(s, i, 1, 2)? as i32;
            }
        }
        let off = h * 3600 + m * 60 + sec;
        offset_secs = Some(if c == b'-' { -off } else { off });
    }
    // psycopg2: "24:00:00 -> 00:00:00 (ticket #278)" and a leap second carries.
    if hour == 24 {
        hour = 0;
    }
    if second > 59 {
        minute += 1;
        second -= 60;
    }
    Some(Time {
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        micro,
        offset_secs,
    })
}

/// Parses a `date`: `2024-01-02`, `0044-03-15 BC`, `10000-01-01`, `infinity`, `-infinity`.
/// Malformed: DataError "unable to parse date" (psycopg2's message).
#[inline]
pub fn parse_date(s: &[u8]) -> Result<DateValue, ParseError> {
    match s {
        b"infinity" => return Ok(DateValue::Infinity),
        b"-infinity" => return Ok(DateValue::NegInfinity),
        _ => {}
    }
    let (body, bc) = strip_bc(s);
    let mut i = 0;
    match date_at(body, &mut i) {
        Some(mut d) if i == body.len() => {
            if bc {
                d.year = -d.year;
            }
            Ok(DateValue::Date(d))
        }
        _ => Err(date_error()),
    }
}

/// Parses a `time` or `timetz`: `10:00:00`, `10:00:00.123456`, `10:00:00+05:30`,
/// `10:00:00.000001-03:30:15`, `24:00:00` (→ 00:00:00 like psycopg2). Seconds are required
/// (psycopg2 too). Malformed: DataError "unable to parse time".
#[inline]
pub fn parse_time(s: &[u8]) -> Result<Time, ParseError> {
    let mut i = 0;
    match time_at(s, &mut i) {
        Some(t) if i == s.len() => Ok(t),
        _ => Err(time_error()),
    }
}

/// Parses a `timestamp` or `timestamptz`: `2024-01-02 03:04:05.678+01`, `...+05:30`,
/// `1900-01-01 12:00:00+00:19:32`, `0044-03-15 12:00:00 BC`, `294276-12-31 23:59:59.999999`,
/// `infinity`, `-infinity`. Like psycopg2 a `T` separator and a missing time part (→
/// midnight) are accepted. Malformed: DataError "unable to parse date" / "unable to parse time".
#[inline]
pub fn parse_timestamp(s: &[u8]) -> Result<TimestampValue, ParseError> {
    match s {
        b"infinity" => return Ok(TimestampValue::Infinity),
        b"-infinity" => return Ok(TimestampValue::NegInfinity),
        _ => {}
    }
    let (body, bc) = strip_bc(s);
    let mut i = 0;
    let mut date = date_at(body, &mut i).ok_or_else(date_error)?;
    if bc {
        date.year = -date.year;
    }
    let mut time = Time {
        hour: 0,
        minute: 0,
        second: 0,
        micro: 0,
        offset_secs: None,
    };
    if i < body.len() {
        if !matches!(body[i], b' ' | b'T') {
            return Err(date_error());
        }
        i += 1;
        time = match time_at(body, &mut i) {
            Some(t) if i == body.len() => t,
            _ => return Err(time_error()),
        };
    }
    let offset_secs = time.offset_secs.take();
    Ok(TimestampValue::Timestamp(Timestamp {
        date,
        time,
        offset_secs,
    }))
}

// ------------------------------------------------------------------------------------------
// interval
// ------------------------------------------------------------------------------------------

/// An `interval` exactly as PostgreSQL stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    /// Months (years × 12 + months).
    pub months: i32,
    /// Days.
    pub days: i32,
    /// Microseconds of the time part.
    pub micros: i64,
}

/// Microseconds per day.
const DAY_US: i64 = 86_400_000_000;

/// The largest `|days|` a Python `timedelta` holds (`timedelta.max.days`).
pub const TIMEDELTA_MAX_DAYS: i64 = 999_999_999;

impl Interval {
    /// The arguments psycopg2 passes to `timedelta(days, seconds, microseconds)`, normalised
    /// the way `timedelta` normalises them: `(days, seconds in 0..86400, micros in 0..1e6)`.
    ///
    /// psycopg2 counts a year as 365 days and a month as 30 days: the server prints
    /// `months` as `months / 12` years and `months % 12` mons (truncating), so
    /// `days = 365 * (months / 12) + 30 * (months % 12) + days`, plus the time part. E.g.
    /// `1 year 2 mons 3 days 04:05:06.789` → `(428, 14706, 789000)` and `-1 days +02:03:00`
    /// → `(-1, 7380, 0)`. If `|days| > `[`TIMEDELTA_MAX_DAYS`] Python raises OverflowError
    /// (as with psycopg2, e.g. for `-178956970 years`).
    pub fn to_timedelta_parts(&self) -> (i64, i32, i32) {
        let years = (self.months / 12) as i64;
        let months = (self.months % 12) as i64;
        let days = 365 * years + 30 * months + self.days as i64 + self.micros.div_euclid(DAY_US);
        let rem = self.micros.rem_euclid(DAY_US);
        (days, (rem / 1_000_000) as i32, (rem % 1_000_000) as i32)
    }
}

/// Parses an `interval` printed with `IntervalStyle = postgres` (the default):
/// `1 year 2 mons 3 days 04:05:06.789`, `-1 days +02:03:00`, `3 days`, `00:00:00`,
/// `-00:00:01`, `1 mon`, `-178956970 years -8 mons`, `2562047788:00:54.775807`.
///
/// Like psycopg2: `P...` (iso_8601 style) is a NotSupportedError; a bare integer is taken as
/// microseconds (Redshift, psycopg2 bug #558); more than 6 fractional digits are rounded.
/// A value too big for PostgreSQL's own fields is `OutOfRange` (psycopg2: OverflowError);
/// anything else malformed (including the other interval styles) is a DataError.
pub fn parse_interval(s: &[u8]) -> Result<Interval, ParseError> {
    if s.first() == Some(&b'P') {
        return Err(error(
            ParseErrorKind::NotSupportedError,
            "iso_8601 intervalstyle currently not supported".into(),
        ));
    }
    let n = s.len();
    // i128: a field has at most 18 digits, so no sum of them can overflow.
    let mut months: i128 = 0;
    let mut days: i128 = 0;
    let mut micros: i64 = 0;
    let mut i = 0;
    let mut first = true;
    while i < n || first {
        if !first && !eat(s, &mut i, b' ') {
            return Err(interval_error(s));
        }
        let neg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        // The number: at most 18 significant digits, which cannot overflow an i64.
        let start = i;
        let mut v: i64 = 0;
        while let Some(&c) = s.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if v >= 100_000_000_000_000_000 {
                return Err(interval_overflow(s));
            }
            v = v * 10 + d as i64;
            i += 1;
        }
        if i == start {
            return Err(interval_error(s));
        }
        if i == n && first {
            // A bare integer: microseconds (psycopg2's Redshift fallback).
            return Ok(Interval {
                months: 0,
                days: 0,
                micros: if neg { -v } else { v },
            });
        }
        first = false;
        if eat(s, &mut i, b':') {
            micros = time_part_micros(s, &mut i, v, neg)?;
            if i != n {
                return Err(interval_error(s));
            }
            break;
        }
        if !eat(s, &mut i, b' ') {
            return Err(interval_error(s));
        }
        let w = i;
        while i < n && s[i].is_ascii_lowercase() {
            i += 1;
        }
        let v = if neg { -v } else { v } as i128;
        match &s[w..i] {
            b"year" | b"years" => months += v * 12,
            b"mon" | b"mons" => months += v,
            b"day" | b"days" => days += v,
            _ => return Err(interval_error(s)),
        }
    }
    match (i32::try_from(months), i32::try_from(days)) {
        (Ok(months), Ok(days)) => Ok(Interval {
            months,
            days,
            micros,
        }),
        _ => Err(interval_overflow(s)),
    }
}

/// The rest of `H:MM:SS[.ffffff]` after `H:`, as signed microseconds.
#[inline(always)]
fn time_part_micros(s: &[u8], i: &mut usize, hours: i64, neg: bool) -> Result<i64, ParseError> {
    let minutes = read_digits(s, i, 1, 2).ok_or_else(|| interval_error(s))?;
    if !eat(s, i, b':') {
        return Err(interval_error(s));
    }
    let seconds = read_digits(s, i, 1, 2).ok_or_else(|| interval_error(s))?;
    let mut frac: i64 = 0;
    if eat(s, i, b'.') {
        let start = *i;
        let mut k = 0;
        while let Some(&c) = s.get(*i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if k < 6 {
                frac = frac * 10 + d as i64;
            } else if k == 6 && d >= 5 {
                frac += 1; // round half up on the 7th digit, ignore the rest
            }
            k += 1;
            *i += 1;
        }
        if *i == start {
            return Err(interval_error(s));
        }
        for _ in k.min(6)..6 {
            frac *= 10;
        }
    }
    let mag = hours as i128 * 3_600_000_000
        + minutes as i128 * 60_000_000
        + seconds as i128 * 1_000_000
        + frac as i128;
    i64::try_from(if neg { -mag } else { mag }).map_err(|_| interval_overflow(s))
}

#[cold]
#[inline(never)]
fn interval_overflow(s: &[u8]) -> ParseError {
    error(
        ParseErrorKind::OutOfRange,
        format!("interval component too big: '{}'", shown(s)),
    )
}

// ------------------------------------------------------------------------------------------
// bytea
// ------------------------------------------------------------------------------------------

const fn hex_table() -> [u8; 256] {
    let mut t = [0xFF_u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
}

static HEX: [u8; 256] = hex_table();

/// Decodes a `bytea` in either output format: hex (`\x00ff10`, the default) or escape
/// (`\000\377\020\\"'A\012`). psycopg2 returns the bytes as a `memoryview`.
///
/// Like psycopg2's decoder, hex input tolerates junk between digits (skipped) and drops a
/// trailing odd digit; in escape format `\ooo` (first digit 0-3) is an octal byte and `\c`
/// is `c`. The only error is a lone trailing backslash (DataError).
pub fn decode_bytea(s: &[u8]) -> Result<Vec<u8>, ParseError> {
    let mut out = Vec::new();
    decode_bytea_into(s, &mut out)?;
    Ok(out)
}

/// [`decode_bytea`] appending to `out` (reuse one buffer across rows).
pub fn decode_bytea_into(s: &[u8], out: &mut Vec<u8>) -> Result<(), ParseError> {
    if let [b'\\', b'x', hex @ ..] = s {
        out.reserve(hex.len() / 2);
        let mut pairs = hex.chunks_exact(2);
        for (k, pair) in pairs.by_ref().enumerate() {
            let (h, l) = (HEX[pair[0] as usize], HEX[pair[1] as usize]);
            if (h | l) & 0xF0 != 0 {
                // Not clean hex: psycopg2's tolerant loop from here on.
                let nibbles = hex[2 * k..]
                    .iter()
                    .map(|&c| HEX[c as usize])
                    .filter(|&d| d < 16);
                let mut high: Option<u8> = None;
                for d in nibbles {
                    match high.take() {
                        None => high = Some(d),
                        Some(h) => out.push(h << 4 | d),
                    }
                }
                return Ok(());
            }
            out.push(h << 4 | l);
        }
        return Ok(());
    }
    out.reserve(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i..].iter().position(|&c| c == b'\\') {
            None => {
                out.extend_from_slice(&s[i..]);
                break;
            }
            Some(p) => {
                out.extend_from_slice(&s[i..i + p]);
                i += p;
            }
        }
        // s[i] == '\\'
        match s.get(i + 1..i + 4) {
            Some(&[a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7']) => {
                out.push((a - b'0') << 6 | (b - b'0') << 3 | (c - b'0'));
                i += 4;
            }
            _ => match s.get(i + 1) {
                Some(&c) => {
                    out.push(c);
                    i += 2;
                }
                None => {
                    return Err(error(
                        ParseErrorKind::DataError,
                        "malformed bytea: trailing backslash".into(),
                    ))
                }
            },
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// arrays
// ------------------------------------------------------------------------------------------

/// Most braces deep an array may nest (psycopg2: the outer braces plus 16 levels;
/// PostgreSQL itself allows 6 dimensions).
pub const MAX_ARRAY_DEPTH: usize = 17;

/// A parsed array literal: the outermost value is always [`ArrayValue::Array`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArrayValue<'a> {
    /// A leaf. `None` is SQL NULL (an *unquoted* `NULL`, any case); `Some` is the element's
    /// text without quotes and backslashes (a quoted `"NULL"` is the string `NULL`). Borrowed
    /// from the input unless the element contained escapes.
    Element(Option<Cow<'a, [u8]>>),
    /// A (sub-)array: psycopg2 returns a `list`.
    Array(Vec<ArrayValue<'a>>),
}

/// What [`walk_array`] reports, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArrayEvent<'a> {
    /// `{`: a (sub-)array starts, the outermost one included.
    Begin,
    /// `}`: the innermost open array ends.
    End,
    /// An element, as in [`ArrayValue::Element`].
    Element(Option<Cow<'a, [u8]>>),
}

/// PostgreSQL's `scanner_isspace`.
#[inline(always)]
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)
}

#[inline(always)]
fn skip_space(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    i
}

/// Parses an array literal (`{1,2,NULL}`, `{{1,2},{3,4}}`, `{}`, `{"a b","q\"x",NULL}`,
/// `[0:1]={1,2}`, `{(1,1),(0,0);(2,2),(1,1)}` with `delim = b';'`) into nested
/// [`ArrayValue`]s. See [`walk_array`] for the rules.
pub fn parse_array(text: &[u8], delim: u8) -> Result<ArrayValue<'_>, ParseError> {
    let mut stack: Vec<Vec<ArrayValue<'_>>> = Vec::new();
    let mut done: Option<ArrayValue<'_>> = None;
    walk_array(text, delim, |ev| -> Result<(), ParseError> {
        match ev {
            ArrayEvent::Begin => stack.push(Vec::new()),
            ArrayEvent::Element(e) => {
                if let Some(top) = stack.last_mut() {
                    top.push(ArrayValue::Element(e));
                }
            }
            ArrayEvent::End => {
                let items = stack.pop().unwrap_or_default();
                match stack.last_mut() {
                    Some(parent) => parent.push(ArrayValue::Array(items)),
                    None => done = Some(ArrayValue::Array(items)),
                }
            }
        }
        Ok(())
    })?;
    Ok(done.unwrap_or(ArrayValue::Array(Vec::new())))
}

/// Scans an array literal calling `on` for each brace and element, without building a tree
/// (the Python face builds its lists directly from the events). Matches psycopg2's
/// `typecast_array.c` on everything the server sends:
/// * a leading dimension decoration (`[0:1]=`, `[1:2][2:3]=`) is skipped, the bounds are
///   ignored (psycopg2 returns plain nested lists);
/// * an unquoted `NULL` (any case) is NULL, a quoted `"NULL"` is a string;
/// * `"..."` quoting and `\` escapes are removed; whitespace around elements is ignored
///   (PostgreSQL's `array_in` rules);
/// * `{}` is an empty array; nesting beyond [`MAX_ARRAY_DEPTH`] is a DataError
///   "excessive array dimensions", as are unbalanced braces and junk after the array.
pub fn walk_array<'a, E, F>(text: &'a [u8], delim: u8, mut on: F) -> Result<(), E>
where
    E: From<ParseError>,
    F: FnMut(ArrayEvent<'a>) -> Result<(), E>,
{
    let s = text;
    let n = s.len();
    let mut i = skip_space(s, 0);
    if s.get(i) == Some(&b'[') {
        // "[lo:hi][lo:hi]=": skip every bracketed group, then '='.
        while s.get(i) == Some(&b'[') {
            match s[i..].iter().position(|&c| c == b']') {
                Some(p) => i += p + 1,
                None => return Err(array_error("array does not start with '{'", s).into()),
            }
            i = skip_space(s, i);
        }
        if !eat(s, &mut i, b'=') {
            return Err(array_error("array does not start with '{'", s).into());
        }
        i = skip_space(s, i);
    }
    if !eat(s, &mut i, b'{') {
        return Err(array_error("array does not start with '{'", s).into());
    }
    on(ArrayEvent::Begin)?;
    let mut depth = 1usize;
    // After '{' (an element, '{' or '}' may follow) / after a delimiter (an element or '{'
    // must follow) / after an element or '}' (a delimiter or '}' must follow).
    let mut after_open = true;
    let mut need_value = false;
    loop {
        i = skip_space(s, i);
        let Some(&c) = s.get(i) else {
            return Err(array_error("unbalanced braces in array", s).into());
        };
        if after_open || need_value {
            if c == b'{' {
                depth += 1;
                if depth > MAX_ARRAY_DEPTH {
                    return Err(array_error("excessive array dimensions", s).into());
                }
                on(ArrayEvent::Begin)?;
                i += 1;
                after_open = true;
                need_value = false;
                continue;
            }
            if !(c == b'}' && after_open) {
                if c == b'}' || c == delim {
                    return Err(array_error("malformed array", s).into());
                }
                let (elem, next) = scan_element(s, i, delim)?;
                on(ArrayEvent::Element(elem))?;
                i = next;
                after_open = false;
                need_value = false;
                continue;
            }
        } else if c == delim {
            i += 1;
            need_value = true;
            continue;
        } else if c != b'}' {
            return Err(array_error("malformed array", s).into());
        }
        // c == '}'
        i += 1;
        on(ArrayEvent::End)?;
        depth -= 1;
        if depth == 0 {
            if skip_space(s, i) != n {
                return Err(array_error("unbalanced braces in array", s).into());
            }
            return Ok(());
        }
        after_open = false;
        need_value = false;
    }
}

/// One element starting at `s[i]` (not whitespace, not a delimiter or brace). Returns the
/// element and the index of the delimiter or `}` that ends it.
#[inline]
#[allow(clippy::type_complexity)]
fn scan_element(
    s: &[u8],
    i: usize,
    delim: u8,
) -> Result<(Option<Cow<'_, [u8]>>, usize), ParseError> {
    let n = s.len();
    if s[i] == b'"' {
        let body = i + 1;
        let mut j = body;
        while j < n && s[j] != b'"' && s[j] != b'\\' {
            j += 1;
        }
        if j < n && s[j] == b'"' {
            let k = skip_space(s, j + 1);
            if k < n && (s[k] == delim || s[k] == b'}') {
                return Ok((Some(Cow::Borrowed(&s[body..j])), k));
            }
        }
        return scan_element_slow(s, i, delim);
    }
    let mut j = i;
    while j < n {
        let c = s[j];
        if c == delim || c == b'}' {
            break;
        }
        if matches!(c, b'\\' | b'"' | b'{') {
            return scan_element_slow(s, i, delim);
        }
        j += 1;
    }
    if j == n {
        return Err(array_error("unbalanced braces in array", s));
    }
    let mut end = j;
    while end > i && is_space(s[end - 1]) {
        end -= 1;
    }
    let tok = &s[i..end];
    if tok.eq_ignore_ascii_case(b"NULL") {
        Ok((None, j))
    } else {
        Ok((Some(Cow::Borrowed(tok)), j))
    }
}

/// The general case: quotes anywhere, backslash escapes (never NULL: it has quotes or
/// escapes).
#[cold]
#[allow(clippy::type_complexity)]
fn scan_element_slow(
    s: &[u8],
    mut i: usize,
    delim: u8,
) -> Result<(Option<Cow<'_, [u8]>>, usize), ParseError> {
    let mut out = Vec::new();
    let mut keep = 0; // length without trailing unquoted, unescaped whitespace
    let mut in_quotes = false;
    loop {
        let Some(&c) = s.get(i) else {
            return Err(array_error("unbalanced braces in array", s));
        };
        match c {
            b'\\' => {
                let Some(&e) = s.get(i + 1) else {
                    return Err(array_error("malformed array", s));
                };
                out.push(e);
                keep = out.len();
                i += 2;
                continue;
            }
            b'"' => {
                in_quotes = !in_quotes;
                keep = out.len();
            }
            _ if in_quotes => {
                out.push(c);
                keep = out.len();
            }
            _ if c == delim || c == b'}' => break,
            b'{' => return Err(array_error("malformed array", s)),
            _ => {
                out.push(c);
                if !is_space(c) {
                    keep = out.len();
                }
            }
        }
        i += 1;
    }
    out.truncate(keep);
    Ok((Some(Cow::Owned(out)), i))
}

// ------------------------------------------------------------------------------------------
// ranges
// ------------------------------------------------------------------------------------------

/// A non-empty range: bounds as text (cast each with [`RangeKind::bound_typecast`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgRange<'a> {
    /// Lower bound text; `None` if unbounded (`(,5)`). Quotes and escapes removed.
    pub lower: Option<Cow<'a, [u8]>>,
    /// Upper bound text; `None` if unbounded.
    pub upper: Option<Cow<'a, [u8]>>,
    /// `[` (true) or `(` (false).
    pub lower_inc: bool,
    /// `]` (true) or `)` (false).
    pub upper_inc: bool,
}

impl PgRange<'_> {
    /// The bounds as psycopg2's `Range(..., bounds=...)` wants them: `"[)"`, `"(]"`, ...
    pub const fn bounds(&self) -> &'static str {
        match (self.lower_inc, self.upper_inc) {
            (true, true) => "[]",
            (true, false) => "[)",
            (false, true) => "(]",
            (false, false) => "()",
        }
    }
}

/// A range value: psycopg2 builds `Range(lower, upper, bounds)` or `Range(empty=True)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeValue<'a> {
    /// `empty`.
    Empty,
    /// Anything else.
    Range(PgRange<'a>),
}

#[cold]
#[inline(never)]
fn range_error(s: &[u8]) -> ParseError {
    error(
        ParseErrorKind::InterfaceError,
        format!("failed to parse range: '{}'", shown(s)),
    )
}

/// Parses a range (`[1,3)`, `(,)`, `empty`, `["2020-01-01 00:00:00+00",)`,
/// `[2020-01-01,infinity)`). An empty unquoted bound is unbounded (`None`); a quoted one is
/// the empty string. Inside quotes `""` and `\x` stand for `"` and `x` (the server doubles
/// both; psycopg2 undoubles them). Malformed: InterfaceError "failed to parse range: '...'".
pub fn parse_range(s: &[u8]) -> Result<RangeValue<'_>, ParseError> {
    if s == b"empty" {
        return Ok(RangeValue::Empty);
    }
    let lower_inc = match s.first() {
        Some(b'[') => true,
        Some(b'(') => false,
        _ => return Err(range_error(s)),
    };
    let upper_inc = match s.last() {
        Some(b']') if s.len() >= 2 => true,
        Some(b')') if s.len() >= 2 => false,
        _ => return Err(range_error(s)),
    };
    let inner = &s[1..s.len() - 1];
    let (lower, next) = range_bound(inner, 0, b',').ok_or_else(|| range_error(s))?;
    if inner.get(next) != Some(&b',') {
        return Err(range_error(s));
    }
    let (upper, end) = range_bound(inner, next + 1, 0).ok_or_else(|| range_error(s))?;
    if end != inner.len() {
        return Err(range_error(s));
    }
    Ok(RangeValue::Range(PgRange {
        lower,
        upper,
        lower_inc,
        upper_inc,
    }))
}

/// One bound at `s[i..]`, ending at `stop` (or at the end of `s`).
#[allow(clippy::type_complexity)]
fn range_bound(s: &[u8], i: usize, stop: u8) -> Option<(Option<Cow<'_, [u8]>>, usize)> {
    let n = s.len();
    if s.get(i) != Some(&b'"') {
        let mut j = i;
        while j < n && s[j] != stop && s[j] != b'"' && s[j] != b'\\' {
            j += 1;
        }
        if j < n && s[j] != stop {
            return None;
        }
        return Some(((j > i).then(|| Cow::Borrowed(&s[i..j])), j));
    }
    // Quoted: fast path without doubled quotes or escapes.
    let body = i + 1;
    let mut j = body;
    while j < n && s[j] != b'"' && s[j] != b'\\' {
        j += 1;
    }
    if j < n && s[j] == b'"' && s.get(j + 1) != Some(&b'"') {
        return Some((Some(Cow::Borrowed(&s[body..j])), j + 1));
    }
    let mut out = s[body..j].to_vec();
    loop {
        match *s.get(j)? {
            b'\\' => {
                out.push(*s.get(j + 1)?);
                j += 2;
            }
            b'"' if s.get(j + 1) == Some(&b'"') => {
                out.push(b'"');
                j += 2;
            }
            b'"' => return Some((Some(Cow::Owned(out)), j + 1)),
            c => {
                out.push(c);
                j += 1;
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// tests
// ------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

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
        let v =
            p(r#"{"","NULL",NULL,"a b","a,b","q\"x","back\\slash","{x}"," ","null","tab	here",é}"#);
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
}
