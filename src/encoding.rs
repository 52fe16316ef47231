//! Client encodings: the connection follows the server's `client_encoding` (reported at
//! startup and after every change, as psycopg 3 does) and converts at the wire: text the
//! faces hand in (UTF-8) is encoded for the server, text the server sends is decoded to
//! UTF-8. So both faces always see UTF-8, whatever the session's encoding, and no byte is
//! ever stored or read in the wrong encoding: what cannot be converted is an error.
#![forbid(unsafe_code)]

use std::borrow::Cow;

use crate::error::{Error, Result};

/// How one client encoding's bytes are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    /// UTF-8: no conversion.
    Utf8,
    /// `SQL_ASCII` (bytes below 0x80; what else the server sends has no encoding) and
    /// the single-byte encodings that are Latin-1 except for a few code points.
    Latin(&'static [(u8, char)]),
    /// US-ASCII only.
    Ascii,
    /// Converted by encoding_rs.
    Rs(&'static encoding_rs::Encoding),
}

/// A client encoding pgpool can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    /// PostgreSQL's name (`UTF8`, `LATIN1`, ...).
    pub name: &'static str,
    /// Python's codec for it (psycopg2's `extensions.encodings`).
    pub python: &'static str,
    codec: Codec,
}

/// ISO-8859-9 (LATIN5) differs from ISO-8859-1 in six code points.
const LATIN5: &[(u8, char)] = &[
    (0xD0, 'Ğ'),
    (0xDD, 'İ'),
    (0xDE, 'Ş'),
    (0xF0, 'ğ'),
    (0xFD, 'ı'),
    (0xFE, 'ş'),
];

macro_rules! rs {
    ($name:literal, $py:literal, $enc:ident) => {
        Encoding {
            name: $name,
            python: $py,
            codec: Codec::Rs(encoding_rs::$enc),
        }
    };
}

/// Every client encoding supported, by PostgreSQL name. (`EUC_TW`, `JOHAB`,
/// `MULE_INTERNAL`, `EUC_JIS_2004` and `SHIFT_JIS_2004` are not.)
const ENCODINGS: &[Encoding] = &[
    Encoding {
        name: "UTF8",
        python: "utf_8",
        codec: Codec::Utf8,
    },
    Encoding {
        name: "SQL_ASCII",
        python: "ascii",
        codec: Codec::Ascii,
    },
    Encoding {
        name: "LATIN1",
        python: "iso8859_1",
        codec: Codec::Latin(&[]),
    },
    rs!("LATIN2", "iso8859_2", ISO_8859_2),
    rs!("LATIN3", "iso8859_3", ISO_8859_3),
    rs!("LATIN4", "iso8859_4", ISO_8859_4),
    Encoding {
        name: "LATIN5",
        python: "iso8859_9",
        codec: Codec::Latin(LATIN5),
    },
    rs!("LATIN6", "iso8859_10", ISO_8859_10),
    rs!("LATIN7", "iso8859_13", ISO_8859_13),
    rs!("LATIN8", "iso8859_14", ISO_8859_14),
    rs!("LATIN9", "iso8859_15", ISO_8859_15),
    rs!("LATIN10", "iso8859_16", ISO_8859_16),
    rs!("ISO_8859_5", "iso8859_5", ISO_8859_5),
    rs!("ISO_8859_6", "iso8859_6", ISO_8859_6),
    rs!("ISO_8859_7", "iso8859_7", ISO_8859_7),
    rs!("ISO_8859_8", "iso8859_8", ISO_8859_8),
    rs!("KOI8R", "koi8_r", KOI8_R),
    rs!("KOI8U", "koi8_u", KOI8_U),
    rs!("WIN866", "cp866", IBM866),
    rs!("WIN874", "cp874", WINDOWS_874),
    rs!("WIN1250", "cp1250", WINDOWS_1250),
    rs!("WIN1251", "cp1251", WINDOWS_1251),
    rs!("WIN1252", "cp1252", WINDOWS_1252),
    rs!("WIN1253", "cp1253", WINDOWS_1253),
    rs!("WIN1254", "cp1254", WINDOWS_1254),
    rs!("WIN1255", "cp1255", WINDOWS_1255),
    rs!("WIN1256", "cp1256", WINDOWS_1256),
    rs!("WIN1257", "cp1257", WINDOWS_1257),
    rs!("WIN1258", "cp1258", WINDOWS_1258),
    rs!("EUC_JP", "euc_jp", EUC_JP),
    rs!("EUC_KR", "euc_kr", EUC_KR),
    rs!("EUC_CN", "gb2312", GBK),
    rs!("UHC", "cp949", EUC_KR),
    rs!("SJIS", "shift_jis", SHIFT_JIS),
    rs!("BIG5", "big5", BIG5),
    rs!("GBK", "gbk", GBK),
    rs!("GB18030", "gb18030", GB18030),
];

/// Other spellings the server accepts (`SET client_encoding` normalises them; a DSN may
/// use them).
const ALIASES: &[(&str, &str)] = &[
    ("UNICODE", "UTF8"),
    ("UTF_8", "UTF8"),
    ("ISO88591", "LATIN1"),
    ("ISO_8859_1", "LATIN1"),
    ("ISO88592", "LATIN2"),
    ("ISO_8859_2", "LATIN2"),
    ("ISO88599", "LATIN5"),
    ("ISO_8859_9", "LATIN5"),
    ("ISO885915", "LATIN9"),
    ("ISO_8859_15", "LATIN9"),
    ("KOI8", "KOI8R"),
    ("WIN", "WIN1251"),
    ("ALT", "WIN866"),
    ("SHIFT_JIS", "SJIS"),
    ("MSKANJI", "SJIS"),
    ("WIN932", "SJIS"),
    ("WIN936", "GBK"),
    ("WIN949", "UHC"),
    ("WIN950", "BIG5"),
    ("ABC", "WIN1258"),
    ("TCVN", "WIN1258"),
    ("TCVN5712", "WIN1258"),
    ("VSCII", "WIN1258"),
];

impl Default for Encoding {
    fn default() -> Self {
        ENCODINGS[0]
    }
}

impl Encoding {
    /// UTF-8.
    pub const UTF8: Encoding = ENCODINGS[0];

    /// The encoding PostgreSQL calls `name` (case, `-` and `_` ignored as the server
    /// ignores them), if pgpool can speak it.
    pub fn from_name(name: &str) -> Option<Encoding> {
        let norm: String = name
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let strip = |s: &str| s.replace('_', "");
        let canonical = ALIASES
            .iter()
            .find(|(a, _)| strip(a) == norm)
            .map(|(_, c)| *c);
        ENCODINGS
            .iter()
            .find(|e| strip(e.name) == norm || Some(e.name) == canonical)
            .copied()
    }

    /// The names of every encoding supported (PostgreSQL's).
    pub fn names() -> impl Iterator<Item = &'static str> {
        ENCODINGS.iter().map(|e| e.name)
    }

    /// Every name the server may use for a supported encoding (PostgreSQL's own names
    /// and their other spellings, `UNICODE`, `KOI8`, ...) with Python's codec for it:
    /// psycopg2's `extensions.encodings` table.
    pub fn python_codecs() -> impl Iterator<Item = (&'static str, &'static str)> {
        let aliases = ALIASES.iter().filter_map(|(alias, canonical)| {
            ENCODINGS
                .iter()
                .find(|e| e.name == *canonical)
                .map(|e| (*alias, e.python))
        });
        ENCODINGS.iter().map(|e| (e.name, e.python)).chain(aliases)
    }

    /// True for UTF-8 (no conversion at all).
    pub fn is_utf8(self) -> bool {
        self.codec == Codec::Utf8
    }

    fn encode_error(self, s: &str, at: char) -> Error {
        Error::Encoding {
            encoding: self.name,
            python: self.python,
            decoding: false,
            data: s.as_bytes().to_vec(),
            message: format!(
                "character {:?} (U+{:04X}) has no equivalent in encoding \"{}\"",
                at, at as u32, self.name
            ),
        }
    }

    fn decode_error(self, b: &[u8]) -> Error {
        Error::Encoding {
            encoding: self.name,
            python: self.python,
            decoding: true,
            data: b.to_vec(),
            message: format!("invalid byte sequence for encoding \"{}\"", self.name),
        }
    }

    /// `s` in this encoding; a character it cannot represent is an error.
    pub fn encode<'a>(self, s: &'a str) -> Result<Cow<'a, [u8]>> {
        match self.codec {
            Codec::Utf8 => Ok(Cow::Borrowed(s.as_bytes())),
            _ if s.is_ascii() => Ok(Cow::Borrowed(s.as_bytes())),
            Codec::Ascii => {
                Err(self.encode_error(s, s.chars().find(|c| !c.is_ascii()).unwrap_or('?')))
            }
            Codec::Latin(diff) => {
                let mut out = Vec::with_capacity(s.len());
                for c in s.chars() {
                    let b = match diff.iter().find(|(_, d)| *d == c) {
                        Some((b, _)) => *b,
                        None if (c as u32) < 0x100
                            && !diff.iter().any(|(b, _)| *b as u32 == c as u32) =>
                        {
                            c as u32 as u8
                        }
                        None => return Err(self.encode_error(s, c)),
                    };
                    out.push(b);
                }
                Ok(Cow::Owned(out))
            }
            Codec::Rs(enc) => {
                let mut encoder = enc.new_encoder();
                let mut out = Vec::with_capacity(
                    encoder
                        .max_buffer_length_from_utf8_without_replacement(s.len())
                        .unwrap_or(s.len() * 4),
                );
                let (r, _) = encoder.encode_from_utf8_to_vec_without_replacement(s, &mut out, true);
                match r {
                    encoding_rs::EncoderResult::InputEmpty => Ok(Cow::Owned(out)),
                    encoding_rs::EncoderResult::Unmappable(c) => Err(self.encode_error(s, c)),
                    encoding_rs::EncoderResult::OutputFull => Err(self.encode_error(s, '?')),
                }
            }
        }
    }

    /// `b` (in this encoding) as UTF-8; an invalid byte sequence is an error.
    pub fn decode<'a>(self, b: &'a [u8]) -> Result<Cow<'a, str>> {
        if b.is_ascii() {
            // ASCII is the same in every client encoding PostgreSQL allows
            return Ok(Cow::Borrowed(std::str::from_utf8(b).unwrap_or_default()));
        }
        match self.codec {
            Codec::Utf8 => std::str::from_utf8(b)
                .map(Cow::Borrowed)
                .map_err(|_| self.decode_error(b)),
            Codec::Ascii => Err(self.decode_error(b)),
            Codec::Latin(diff) => Ok(Cow::Owned(
                b.iter()
                    .map(|&x| {
                        diff.iter()
                            .find(|(d, _)| *d == x)
                            .map_or(x as char, |(_, c)| *c)
                    })
                    .collect(),
            )),
            Codec::Rs(enc) => enc
                .decode_without_bom_handling_and_without_replacement(b)
                .ok_or_else(|| self.decode_error(b)),
        }
    }

    /// [`Encoding::decode`], never failing: invalid sequences become U+FFFD (for server
    /// messages, which must get through whatever they hold).
    pub fn decode_lossy(self, b: &[u8]) -> String {
        match self.decode(b) {
            Ok(s) => s.into_owned(),
            Err(_) => match self.codec {
                Codec::Rs(enc) => enc.decode_without_bom_handling(b).0.into_owned(),
                _ => String::from_utf8_lossy(b).into_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases() {
        assert_eq!(Encoding::from_name("UTF8"), Some(Encoding::UTF8));
        assert_eq!(Encoding::from_name("utf-8"), Some(Encoding::UTF8));
        assert_eq!(Encoding::from_name("unicode"), Some(Encoding::UTF8));
        assert_eq!(
            Encoding::from_name("latin1").map(|e| e.name),
            Some("LATIN1")
        );
        assert_eq!(
            Encoding::from_name("ISO-8859-1").map(|e| e.name),
            Some("LATIN1")
        );
        assert_eq!(
            Encoding::from_name("win1252").map(|e| e.python),
            Some("cp1252")
        );
        assert_eq!(
            Encoding::from_name("Shift_JIS").map(|e| e.name),
            Some("SJIS")
        );
        assert_eq!(Encoding::from_name("EUC_TW"), None);
        assert_eq!(Encoding::from_name("nonsense"), None);
        assert!(Encoding::names().count() > 30);
    }

    #[test]
    fn round_trips() {
        for (enc, text) in [
            ("LATIN1", "café ÿ"),
            ("LATIN5", "İstanbul ğüşıö"),
            ("LATIN9", "€ prix"),
            ("WIN1252", "“quotes” €"),
            ("WIN1251", "привет"),
            ("KOI8R", "привет"),
            ("EUC_JP", "日本語"),
            ("SJIS", "日本語"),
            ("GBK", "中文"),
            ("BIG5", "中文"),
            ("UHC", "한국어"),
            ("SQL_ASCII", "plain"),
        ] {
            let e = Encoding::from_name(enc).unwrap();
            let b = e.encode(text).unwrap();
            if !text.is_ascii() {
                assert_ne!(&*b, text.as_bytes(), "{enc}: nothing converted");
            }
            assert_eq!(e.decode(&b).unwrap(), text, "{enc}");
        }
    }

    #[test]
    fn unrepresentable_is_an_error() {
        let latin1 = Encoding::from_name("LATIN1").unwrap();
        assert_eq!(&*latin1.encode("é").unwrap(), &[0xE9]);
        let e = latin1.encode("€").unwrap_err();
        assert!(
            matches!(
                e,
                Error::Encoding {
                    decoding: false,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(Encoding::from_name("LATIN5").unwrap().encode("Ð").is_err());
        assert!(Encoding::from_name("SQL_ASCII")
            .unwrap()
            .encode("é")
            .is_err());
        assert!(Encoding::from_name("WIN1251")
            .unwrap()
            .encode("日")
            .is_err());
        assert!(Encoding::UTF8.decode(&[0xC3]).is_err());
        assert!(Encoding::from_name("EUC_JP")
            .unwrap()
            .decode(&[0xA4])
            .is_err());
        assert_eq!(Encoding::UTF8.decode_lossy(&[b'a', 0xC3]), "a\u{FFFD}");
    }
}
