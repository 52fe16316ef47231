//! libpq's password file (`passfile`, `PGPASSFILE`, `~/.pgpass`): read at every connect
//! that has no password of its own, so a changed file applies to the next connection
//! without a restart (rotated secrets written by an agent).
//!
//! Format (libpq's): `hostname:port:database:username:password` per line, `*` matching
//! anything in the first four fields, `\:` and `\\` escapes, `#` comment lines. The host of
//! a Unix-socket connection matches `localhost` (as libpq, for the default socket
//! directory) or the socket directory itself. On Unix a file readable or writable by group
//! or others is ignored with a warning, as libpq does.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use super::Host;

/// The file to read: `passfile`/`PGPASSFILE` if given, else `$HOME/.pgpass`.
pub(crate) fn location(given: Option<&str>) -> Option<PathBuf> {
    match given.filter(|g| !g.is_empty()) {
        Some(g) => Some(PathBuf::from(g)),
        None => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| Path::new(&h).join(".pgpass")),
    }
}

/// The password for this connection in the file at `path`, if any line matches.
pub(crate) fn lookup(
    path: &Path,
    host: &Host,
    port: u16,
    dbname: &str,
    user: &str,
) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            log::warn!(
                "password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                path.display()
            );
            return None;
        }
    }
    let text = std::fs::read_to_string(path).ok()?;
    find(&text, host, port, dbname, user)
}

/// The first matching line's password (libpq's `passwordFromFile`).
pub(crate) fn find(text: &str, host: &Host, port: u16, dbname: &str, user: &str) -> Option<String> {
    let hosts: Vec<&str> = match host {
        Host::Tcp(h) => vec![h.as_str()],
        // A socket directory: libpq compares with "localhost" for its default directory;
        // the directory itself is accepted too.
        Host::Unix(dir) => vec!["localhost", dir.to_str().unwrap_or("")],
    };
    let port = port.to_string();
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(f) = fields(line) else { continue };
        let matches = |pat: &str, v: &str| pat == "*" || pat == v;
        if hosts.iter().any(|h| matches(&f[0], h))
            && matches(&f[1], &port)
            && matches(&f[2], dbname)
            && matches(&f[3], user)
        {
            return Some(f[4].clone());
        }
    }
    None
}

/// A line's five fields, unescaped (`\:` and `\\`); `None` for a line with fewer. The
/// password is the rest of the line (colons in it need no escape).
fn fields(line: &str) -> Option<[String; 5]> {
    let mut out: [String; 5] = Default::default();
    let mut i = 0;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if i < 4 => {
                if let Some(n) = chars.next() {
                    out[i].push(n);
                }
            }
            ':' if i < 4 => i += 1,
            '\\' => {
                // In the password: libpq unescapes `\:` and `\\` there too.
                match chars.next() {
                    Some(n) => out[i].push(n),
                    None => out[i].push('\\'),
                }
            }
            c => out[i].push(c),
        }
    }
    (i == 4).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(h: &str) -> Host {
        Host::Tcp(h.to_string())
    }

    #[test]
    fn the_first_matching_line_wins_with_wildcards() {
        let text = "# comment\n\
                    db.internal:5432:app:alice:first\n\
                    *:*:app:alice:second\n\
                    *:*:*:*:fallback\n";
        assert_eq!(
            find(text, &tcp("db.internal"), 5432, "app", "alice").as_deref(),
            Some("first")
        );
        assert_eq!(
            find(text, &tcp("other"), 5432, "app", "alice").as_deref(),
            Some("second")
        );
        assert_eq!(
            find(text, &tcp("db.internal"), 6432, "app", "alice").as_deref(),
            Some("second")
        );
        assert_eq!(
            find(text, &tcp("x"), 1, "other", "bob").as_deref(),
            Some("fallback")
        );
        assert_eq!(
            find("db:5432:app:alice:pw\n", &tcp("db"), 5432, "app", "bob"),
            None
        );
    }

    #[test]
    fn escapes_short_lines_and_sockets() {
        let text = "h\\:x:5432:d\\\\b:u:pa:ss\\:w\\\\rd\r\nshort:line\n";
        assert_eq!(
            find(text, &tcp("h:x"), 5432, "d\\b", "u").as_deref(),
            Some("pa:ss:w\\rd")
        );
        assert_eq!(find("short:line\n", &tcp("short"), 5432, "line", "u"), None);
        let sock = Host::Unix(PathBuf::from("/var/run/postgresql"));
        assert_eq!(
            find("localhost:5432:d:u:pw\n", &sock, 5432, "d", "u").as_deref(),
            Some("pw")
        );
        assert_eq!(
            find("/var/run/postgresql:5432:d:u:pw2\n", &sock, 5432, "d", "u").as_deref(),
            Some("pw2")
        );
        assert_eq!(
            find("*:5432:d:u:\n", &tcp("h"), 5432, "d", "u").as_deref(),
            Some("")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_ignored_and_changes_apply_at_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("pgpool-passfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("pgpass");
        std::fs::write(&f, "*:*:*:*:one\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            lookup(&f, &tcp("h"), 5432, "d", "u").as_deref(),
            Some("one")
        );
        std::fs::write(&f, "*:*:*:*:two\n").unwrap();
        assert_eq!(
            lookup(&f, &tcp("h"), 5432, "d", "u").as_deref(),
            Some("two")
        );
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(lookup(&f, &tcp("h"), 5432, "d", "u"), None);
        assert_eq!(
            lookup(&dir.join("missing"), &tcp("h"), 5432, "d", "u"),
            None
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
