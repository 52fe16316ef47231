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

use std::fmt;

mod array;
mod bytea;
mod datetime;
mod interval;
mod range;
mod scalar;
#[cfg(test)]
mod tests;

pub use self::{array::*, bytea::*, datetime::*, interval::*, range::*, scalar::*};

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
