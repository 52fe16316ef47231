//! Transaction characteristics and the SQL that carries them: the `BEGIN` of a transaction
//! and the `SET default_transaction_*` that make them a session's defaults (for
//! autocommit work, where no `BEGIN` carries them). No I/O: [`crate::Connection`] sends
//! what is built here, and every face (C, Python sync and asyncio) builds it here.
//! See `docs/DESIGN.md`, "Transactions".

/// A transaction isolation level. The discriminants are psycopg2's `ISOLATION_LEVEL_*`
/// constants (1-4), which the Python face exposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Isolation {
    /// `READ COMMITTED` (PostgreSQL's default).
    ReadCommitted = 1,
    /// `REPEATABLE READ`.
    RepeatableRead = 2,
    /// `SERIALIZABLE`.
    Serializable = 3,
    /// `READ UNCOMMITTED` (PostgreSQL runs it as `READ COMMITTED`).
    ReadUncommitted = 4,
}

impl Isolation {
    /// Every level, in the order of their numbers.
    pub const ALL: [Isolation; 4] = [
        Isolation::ReadCommitted,
        Isolation::RepeatableRead,
        Isolation::Serializable,
        Isolation::ReadUncommitted,
    ];

    /// The level numbered `n` (psycopg2's constants), if there is one.
    pub fn from_number(n: i64) -> Option<Isolation> {
        Self::ALL.into_iter().find(|l| *l as i64 == n)
    }

    /// psycopg2's number for the level.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The level as SQL spells it (`BEGIN ISOLATION LEVEL <name>`).
    pub fn sql_name(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
            Isolation::ReadUncommitted => "READ UNCOMMITTED",
        }
    }

    /// A level by its SQL name, case-insensitively; `Some(None)` for `default` (the
    /// server's default), `None` for anything else.
    pub fn parse(name: &str) -> Option<Option<Isolation>> {
        if name.eq_ignore_ascii_case("default") {
            return Some(None);
        }
        Self::ALL
            .into_iter()
            .find(|l| l.sql_name().eq_ignore_ascii_case(name))
            .map(Some)
    }
}

/// The characteristics of a transaction; `None` leaves one to the session's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Characteristics {
    /// `ISOLATION LEVEL ...`.
    pub isolation: Option<Isolation>,
    /// `READ ONLY` (true) or `READ WRITE`.
    pub readonly: Option<bool>,
    /// `DEFERRABLE` (true) or `NOT DEFERRABLE`.
    pub deferrable: Option<bool>,
}

impl Characteristics {
    /// True when every characteristic is left to the session's default.
    pub fn is_default(&self) -> bool {
        *self == Characteristics::default()
    }

    /// The `BEGIN` that starts a transaction with these characteristics (psycopg2's
    /// text: `BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE`).
    pub fn begin_sql(&self) -> String {
        let mut s = String::from("BEGIN");
        if let Some(l) = self.isolation {
            s.push_str(" ISOLATION LEVEL ");
            s.push_str(l.sql_name());
        }
        match self.readonly {
            Some(true) => s.push_str(" READ ONLY"),
            Some(false) => s.push_str(" READ WRITE"),
            None => {}
        }
        match self.deferrable {
            Some(true) => s.push_str(" DEFERRABLE"),
            Some(false) => s.push_str(" NOT DEFERRABLE"),
            None => {}
        }
        s
    }
}

/// A change of the session's default transaction characteristics: per characteristic,
/// `None` leaves it alone and `Some(None)` puts it back to the server's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefaultsChange {
    /// `default_transaction_isolation`.
    pub isolation: Option<Option<Isolation>>,
    /// `default_transaction_read_only`.
    pub readonly: Option<Option<bool>>,
    /// `default_transaction_deferrable`.
    pub deferrable: Option<Option<bool>>,
}

impl DefaultsChange {
    /// Makes each characteristic `c` sets the session's default.
    pub fn to(c: &Characteristics) -> DefaultsChange {
        DefaultsChange {
            isolation: c.isolation.map(Some),
            readonly: c.readonly.map(Some),
            deferrable: c.deferrable.map(Some),
        }
    }

    /// Puts each characteristic `c` sets back to the server's default (leaving
    /// autocommit: from then on `BEGIN` carries them).
    pub fn back_from(c: &Characteristics) -> DefaultsChange {
        DefaultsChange {
            isolation: c.isolation.map(|_| None),
            readonly: c.readonly.map(|_| None),
            deferrable: c.deferrable.map(|_| None),
        }
    }

    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        *self == DefaultsChange::default()
    }

    /// The `SET default_transaction_*` statements of the change, in order (isolation,
    /// read only, deferrable); empty when nothing changes.
    pub fn statements(&self) -> Vec<String> {
        fn onoff(v: Option<bool>) -> &'static str {
            match v {
                None => "DEFAULT",
                Some(true) => "'on'",
                Some(false) => "'off'",
            }
        }
        let mut sets = Vec::new();
        if let Some(l) = self.isolation {
            sets.push(match l {
                Some(l) => format!("SET default_transaction_isolation TO '{}'", l.sql_name()),
                None => "SET default_transaction_isolation TO DEFAULT".to_string(),
            });
        }
        if let Some(r) = self.readonly {
            sets.push(format!("SET default_transaction_read_only TO {}", onoff(r)));
        }
        if let Some(d) = self.deferrable {
            sets.push(format!(
                "SET default_transaction_deferrable TO {}",
                onoff(d)
            ));
        }
        sets
    }
}

impl Characteristics {
    /// `change` applied: each characteristic it sets replaces this one's.
    pub fn with(&self, change: &DefaultsChange) -> Characteristics {
        Characteristics {
            isolation: change.isolation.unwrap_or(self.isolation),
            readonly: change.readonly.unwrap_or(self.readonly),
            deferrable: change.deferrable.unwrap_or(self.deferrable),
        }
    }
}

/// psycopg2's `set_session` (and the `autocommit`, `isolation_level`, `readonly`,
/// `deferrable` setters) on a session: autocommit was `was_autocommit` with
/// characteristics `current`; it becomes `autocommit` with `change` applied. Returns the
/// session defaults to send and the new characteristics: in autocommit no `BEGIN` will
/// carry them, so the ones changed become the session's defaults; leaving autocommit
/// puts the defaults set before back (from then on `BEGIN` carries them).
pub fn set_session(
    was_autocommit: bool,
    current: &Characteristics,
    autocommit: bool,
    change: &DefaultsChange,
) -> (DefaultsChange, Characteristics) {
    let send = if autocommit {
        *change
    } else if was_autocommit {
        DefaultsChange::back_from(current)
    } else {
        DefaultsChange::default()
    };
    (send, current.with(change))
}

/// The options of a pooled block (`pool.cursor(...)`, `pgpool_acquire` and their
/// asyncio twins), as one value: autocommit or a transaction, and its characteristics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockOptions {
    /// Autocommit work: no transaction is started.
    pub autocommit: bool,
    /// The transaction's (or, with autocommit, the session defaults') characteristics.
    pub characteristics: Characteristics,
}

impl BlockOptions {
    /// What a fresh checkout must send before the block's first statement: autocommit
    /// work gets the characteristics as session defaults (the pool resets them when the
    /// connection returns); a transaction carries them in its `BEGIN`, which rides with
    /// the first statement — `None` then (and for autocommit without characteristics):
    /// entering the block needs no round trip.
    pub fn session_defaults(&self) -> Option<DefaultsChange> {
        (self.autocommit && !self.characteristics.is_default())
            .then(|| DefaultsChange::to(&self.characteristics))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_numbers_and_names() {
        for l in Isolation::ALL {
            assert_eq!(Isolation::from_number(l.number() as i64), Some(l));
            assert_eq!(Isolation::parse(l.sql_name()), Some(Some(l)));
            assert_eq!(
                Isolation::parse(&l.sql_name().to_lowercase()),
                Some(Some(l))
            );
        }
        assert_eq!(Isolation::from_number(0), None);
        assert_eq!(Isolation::from_number(5), None);
        assert_eq!(Isolation::parse("Default"), Some(None));
        assert_eq!(Isolation::parse("serialisable"), None);
        assert_eq!(Isolation::parse(" serializable"), None);
    }

    #[test]
    fn begin_text_is_psycopg2s() {
        assert_eq!(Characteristics::default().begin_sql(), "BEGIN");
        let c = Characteristics {
            isolation: Some(Isolation::Serializable),
            readonly: Some(true),
            deferrable: Some(true),
        };
        assert_eq!(
            c.begin_sql(),
            "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE"
        );
        let c = Characteristics {
            isolation: None,
            readonly: Some(false),
            deferrable: Some(false),
        };
        assert_eq!(c.begin_sql(), "BEGIN READ WRITE NOT DEFERRABLE");
    }

    #[test]
    fn session_defaults_sql() {
        let c = Characteristics {
            isolation: Some(Isolation::RepeatableRead),
            readonly: Some(true),
            deferrable: None,
        };
        assert_eq!(
            DefaultsChange::to(&c).statements(),
            [
                "SET default_transaction_isolation TO 'REPEATABLE READ'",
                "SET default_transaction_read_only TO 'on'",
            ]
        );
        assert_eq!(
            DefaultsChange::back_from(&c).statements(),
            [
                "SET default_transaction_isolation TO DEFAULT",
                "SET default_transaction_read_only TO DEFAULT",
            ]
        );
        let change = DefaultsChange {
            deferrable: Some(Some(false)),
            ..Default::default()
        };
        assert_eq!(
            change.statements(),
            ["SET default_transaction_deferrable TO 'off'"]
        );
        assert!(DefaultsChange::default().is_empty());
        assert!(DefaultsChange::default().statements().is_empty());
    }

    #[test]
    fn set_session_follows_psycopg2() {
        let ser = DefaultsChange {
            isolation: Some(Some(Isolation::Serializable)),
            ..Default::default()
        };
        // In a transaction mode session: only remembered, BEGIN will carry it.
        let (send, now) = set_session(false, &Characteristics::default(), false, &ser);
        assert!(send.is_empty());
        assert_eq!(now.isolation, Some(Isolation::Serializable));
        // In autocommit: made the session default.
        let (send, now) = set_session(true, &Characteristics::default(), true, &ser);
        assert_eq!(
            send.statements(),
            ["SET default_transaction_isolation TO 'SERIALIZABLE'"]
        );
        // Leaving autocommit: the defaults set before go back; the level stays remembered.
        let (send, after) = set_session(true, &now, false, &DefaultsChange::default());
        assert_eq!(
            send.statements(),
            ["SET default_transaction_isolation TO DEFAULT"]
        );
        assert_eq!(after, now);
        // Back to the server default.
        let back = DefaultsChange {
            isolation: Some(None),
            ..Default::default()
        };
        assert_eq!(
            set_session(false, &now, false, &back).1,
            Characteristics::default()
        );
    }

    #[test]
    fn entering_a_block_needs_a_round_trip_only_for_autocommit_characteristics() {
        let ro = Characteristics {
            readonly: Some(true),
            ..Default::default()
        };
        let tx = BlockOptions {
            autocommit: false,
            characteristics: ro,
        };
        assert_eq!(tx.session_defaults(), None);
        let ac = BlockOptions {
            autocommit: true,
            characteristics: Characteristics::default(),
        };
        assert_eq!(ac.session_defaults(), None);
        let ac_ro = BlockOptions {
            autocommit: true,
            characteristics: ro,
        };
        assert_eq!(
            ac_ro.session_defaults().map(|c| c.statements()),
            Some(vec!["SET default_transaction_read_only TO 'on'".to_string()])
        );
    }
}
