//! `executemany`: many statements packed into Query messages, in a transaction or in
//! autocommit (each statement committed, the first error stops the rest).

use super::{Connection, Interrupt, Step, TxStatus};
use crate::error::{Error, Result};
use crate::result::QueryResult;

/// Statements per Query message when `pipeline` packs them (inside a transaction).
pub(super) const PACK: usize = 100;

/// Packed Query messages per write (inside a transaction).
pub(super) const PACKS_PER_WRITE: usize = 4;

/// True when `sql` cannot run inside a transaction block (or in a multi-statement
/// message, which is one): `VACUUM`, `CREATE/DROP DATABASE`, `... CONCURRENTLY`,
/// `CREATE/DROP TABLESPACE`, `ALTER SYSTEM`, `CLUSTER`, `DISCARD ALL`, subscriptions,
/// transaction control. Conservative: every statement starting with one of those words.
pub(super) fn needs_own_message(sql: &str, standard: bool) -> bool {
    let mut words = crate::lexer::Lexer::new(sql, standard).filter_map(|t| match t {
        crate::lexer::Tok::Word(w) => Some(w),
        _ => None,
    });
    let Some(first) = words.next() else {
        return false;
    };
    const ALONE: [&str; 16] = [
        "abort",
        "alter",
        "begin",
        "checkpoint",
        "cluster",
        "commit",
        "create",
        "discard",
        "drop",
        "end",
        "prepare",
        "reindex",
        "release",
        "rollback",
        "savepoint",
        "vacuum",
    ];
    ALONE.iter().any(|w| first.eq_ignore_ascii_case(w)) || first.eq_ignore_ascii_case("start")
}

impl Connection {
    /// Runs many parameterless statements pipelined (`executemany`), packed [`PACK`] to a
    /// Query message (`s1\n;\ns2\n;\n...`). Stops at the first error, as psycopg2's
    /// `executemany` does, and returns the total of rows affected.
    ///
    /// Inside a transaction (or with a `BEGIN` queued, which leads the first message)
    /// packing means exactly what one statement at a time means — the first error
    /// aborts the transaction and is the one reported — and several messages go out per
    /// write. In autocommit each statement is its own transaction, as one at a time:
    /// a `COMMIT` follows each in the message (a multi-statement message is otherwise one
    /// implicit transaction), and one message is in flight at a time, so that after an
    /// error nothing more runs: the statements before it stay committed, those after it
    /// never run. A statement that cannot run inside a transaction block (`VACUUM`,
    /// `CREATE DATABASE`, `... CONCURRENTLY`, transaction control, ...) goes in a message
    /// of its own.
    pub fn pipeline(
        &mut self,
        stmts: &mut dyn Iterator<Item = Result<String>>,
        intr: Option<Interrupt<'_>>,
    ) -> Result<u64> {
        self.check_sendable()?;
        self.settle_deferred(intr)?;
        let autocommit = self.tx == TxStatus::Idle && self.pending_begin.is_none();
        self.extended = false;
        let per_write = if autocommit { 1 } else { PACKS_PER_WRITE };
        let mut total = 0u64;
        let mut begin = self.pending_begin.take();
        let mut q = String::new();
        // A statement read but not sent yet (it needs a message of its own).
        let mut held: Option<String> = None;
        loop {
            let mut msgs = 0;
            let mut gen_err = None;
            let mut exhausted = false;
            while msgs < per_write && !exhausted {
                q.clear();
                let begin_here = begin.take();
                if let Some(b) = &begin_here {
                    b.push_prefix(&mut q);
                }
                let mut k = 0;
                while k < PACK {
                    let st = match held.take().map(Ok).or_else(|| stmts.next()) {
                        None => {
                            exhausted = true;
                            break;
                        }
                        Some(Err(e)) => {
                            gen_err = Some(e);
                            exhausted = true;
                            break;
                        }
                        Some(Ok(st)) => st,
                    };
                    if st.as_bytes().contains(&0) {
                        gen_err = Some(Error::InvalidParameter(
                            "the query contains NUL (0x00) characters".into(),
                        ));
                        exhausted = true;
                        break;
                    }
                    if let Err(e) = self.encoding.encode(&st) {
                        gen_err = Some(e);
                        exhausted = true;
                        break;
                    }
                    let alone = autocommit && needs_own_message(&st, self.standard_strings);
                    if alone && k > 0 {
                        held = Some(st);
                        break;
                    }
                    self.scan_session(&st);
                    if autocommit && k > 0 {
                        q.push_str("COMMIT\n;\n");
                    }
                    // The separator on its own line: a statement may end in a `--`
                    // comment.
                    q.push_str(&st);
                    q.push_str("\n;\n");
                    k += 1;
                    if alone {
                        break;
                    }
                }
                if k == 0 {
                    // Nothing to send in this message: a pending BEGIN stays pending.
                    begin = begin_here;
                    break;
                }
                // (every statement in it was checked to convert)
                self.put_query(&q)?;
                msgs += 1;
                if held.is_some() {
                    break;
                }
            }
            if msgs == 0 {
                self.pending_begin = begin;
                return match gen_err {
                    Some(e) => Err(e),
                    None => Ok(total),
                };
            }
            self.flush()?;
            let mut first_err: Option<Error> = None;
            for _ in 0..msgs {
                let mut cur = QueryResult::default();
                let mut err = None;
                loop {
                    match self.read_step(&mut cur, &mut err, intr)? {
                        Step::Done => {
                            total += cur.rows_affected().unwrap_or(0);
                            cur = QueryResult::default();
                        }
                        Step::Ready => break,
                        Step::More => {}
                    }
                }
                if first_err.is_none() {
                    first_err = err;
                }
            }
            if autocommit {
                // Our COMMITs of the message's implicit transaction: the server warns
                // that there is no (explicit) transaction in progress.
                self.notices.retain(|n| n.code != "25P01");
            }
            if let Some(e) = first_err {
                return Err(e);
            }
            if let Some(e) = gen_err {
                return Err(e);
            }
            if exhausted && held.is_none() {
                return Ok(total);
            }
        }
    }
}
