//! `bytea`, hex and escape output.
#![forbid(unsafe_code)]

use super::{error, ParseError, ParseErrorKind};

// ------------------------------------------------------------------------------------------
// bytea
// ------------------------------------------------------------------------------------------

pub(super) const fn hex_table() -> [u8; 256] {
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

pub(super) static HEX: [u8; 256] = hex_table();

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
