"""The exception tree of pgpool, and a class for each SQLSTATE.

The tree is psycopg2's (``psycopg2`` + ``psycopg2.extensions`` + ``psycopg2.errors``)::

    Warning
    Error
     +-- InterfaceError
     +-- DatabaseError
     |    +-- DataError
     |    +-- OperationalError
     |    |    +-- QueryCanceledError
     |    |    +-- TransactionRollbackError
     |    +-- IntegrityError
     |    +-- InternalError
     |    +-- ProgrammingError
     |    +-- NotSupportedError
     +-- PoolError                 (pgpool's own: the pool's failures)
          +-- PoolTimeout
          +-- PoolClosed
          +-- TooManyRequests

A server error is raised as the class of its SQLSTATE (``UniqueViolation`` for
``23505``, ...), which derives from the DB-API class psycopg2 picks for the SQLSTATE's
class (``23`` -> ``IntegrityError``, ``42`` -> ``ProgrammingError``, ...). A SQLSTATE
without a class of its own raises the DB-API class directly, as psycopg2 does.

Every exception carries ``pgerror`` (the server's message as libpq formats it),
``pgcode`` (the SQLSTATE), ``diag`` (the fields of the error report) and ``cursor``.

The Rust extension builds server errors through :func:`_from_server` and takes the
classes of the errors it detects itself from this module by name; nothing else in it is
called from Rust.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Type

__all__ = [
    "Warning",
    "Error",
    "InterfaceError",
    "DatabaseError",
    "DataError",
    "OperationalError",
    "IntegrityError",
    "InternalError",
    "ProgrammingError",
    "NotSupportedError",
    "QueryCanceledError",
    "TransactionRollbackError",
    "PoolError",
    "PoolTimeout",
    "PoolClosed",
    "TooManyRequests",
    "Diagnostics",
    "lookup",
]

# The fields of a server error report, as psycopg2's ``Diagnostics`` names them.
_DIAG_FIELDS = (
    "column_name",
    "constraint_name",
    "context",
    "datatype_name",
    "internal_position",
    "internal_query",
    "message_detail",
    "message_hint",
    "message_primary",
    "schema_name",
    "severity",
    "severity_nonlocalized",
    "source_file",
    "source_function",
    "source_line",
    "sqlstate",
    "statement_position",
    "table_name",
)


class Warning(Exception):  # noqa: A001 - the DB-API name
    """Important warnings (DB-API). pgpool raises none; defined for the interface."""


class Error(Exception):
    """The base class of every pgpool error (DB-API ``Error``)."""

    #: The SQLSTATE this class stands for (per-SQLSTATE classes only).
    sqlstate: Optional[str] = None

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        #: The error message as libpq formats it (``"ERROR:  ...\\n"``), else None.
        self.pgerror: Optional[str] = None
        #: The SQLSTATE the server reported, else None.
        self.pgcode: Optional[str] = None
        #: The cursor that raised the exception, if known, else None.
        self.cursor: Any = None
        self._fields: Dict[str, Any] = {}

    @property
    def diag(self) -> Diagnostics:
        """The fields of the server's error report (all None for client errors)."""
        return Diagnostics(self)

    def __reduce__(self) -> Any:
        # Picklable, without the cursor (as psycopg2).
        state = {
            "pgerror": self.pgerror,
            "pgcode": self.pgcode,
            "_fields": self._fields,
        }
        return (type(self), self.args, state)

    def __setstate__(self, state: Optional[Dict[str, Any]]) -> None:
        state = state or {}
        self.pgerror = state.get("pgerror")
        self.pgcode = state.get("pgcode")
        self._fields = dict(state.get("_fields") or {})
        self.cursor = None


class InterfaceError(Error):
    """An error of the driver rather than of the database (DB-API)."""


class DatabaseError(Error):
    """An error of the database (DB-API)."""


class DataError(DatabaseError):
    """A problem with the processed data: division by zero, value out of range..."""


class OperationalError(DatabaseError):
    """The database's operation failed: connection lost, out of memory, ..."""


class IntegrityError(DatabaseError):
    """The relational integrity of the database is affected (a constraint failed)."""


class InternalError(DatabaseError):
    """The database met an internal error (invalid cursor or transaction state, ...)."""


class ProgrammingError(DatabaseError):
    """A programming error: table not found, SQL syntax error, wrong arguments, ..."""


class NotSupportedError(DatabaseError):
    """A method or database API the database does not support."""


class QueryCanceledError(OperationalError):
    """The statement was cancelled (SQLSTATE 57014: ``cancel()``, Ctrl-C, timeout)."""


class TransactionRollbackError(OperationalError):
    """The transaction was rolled back (SQLSTATE class 40: serialization, deadlock)."""


class PoolError(Error):
    """The pool could not serve the request (also ``pgpool.pool.PoolError``)."""


class PoolTimeout(PoolError):
    """No connection became available within the pool's timeout."""


class PoolClosed(PoolError):
    """The pool is closed."""


class TooManyRequests(PoolError):
    """Too many clients are already waiting for a connection (``max_waiting``)."""


class Diagnostics:
    """The fields of an error report, as psycopg2's ``Diagnostics``.

    ``Diagnostics(exc)`` reads them from an exception; fields the server did not send
    are None.
    """

    __slots__ = ("_fields", "_exc")

    def __init__(self, exc: BaseException) -> None:
        self._fields: Mapping[str, Any] = getattr(exc, "_fields", None) or {}
        # As psycopg2's: the exception (and so its cursor) lives as long as this.
        self._exc = exc

    def __getattr__(self, name: str) -> Optional[str]:
        if name in _DIAG_FIELDS:
            value = self._fields.get(name)
            return None if value is None else str(value)
        raise AttributeError(f"'Diagnostics' object has no attribute '{name}'")

    def __dir__(self) -> list[str]:
        return sorted(set(_DIAG_FIELDS) | set(object.__dir__(self)))

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={self._fields[k]!r}" for k in _DIAG_FIELDS if self._fields.get(k)
        )
        return f"<Diagnostics {shown}>"

    if TYPE_CHECKING:
        column_name: Optional[str]
        constraint_name: Optional[str]
        context: Optional[str]
        datatype_name: Optional[str]
        internal_position: Optional[str]
        internal_query: Optional[str]
        message_detail: Optional[str]
        message_hint: Optional[str]
        message_primary: Optional[str]
        schema_name: Optional[str]
        severity: Optional[str]
        severity_nonlocalized: Optional[str]
        source_file: Optional[str]
        source_function: Optional[str]
        source_line: Optional[str]
        sqlstate: Optional[str]
        statement_position: Optional[str]
        table_name: Optional[str]


# ---------------------------------------------------------------------------
# SQLSTATE -> class


def _dbapi_class(sqlstate: str) -> Type[DatabaseError]:
    """The DB-API class psycopg2 raises for a SQLSTATE with no class of its own."""
    cls2 = sqlstate[:2]
    if sqlstate == "57014":
        return QueryCanceledError
    if cls2 in _CLASS_RULES:
        return _CLASS_RULES[cls2]
    if sqlstate[:1] == "5":
        return OperationalError
    return _FIRST_CHAR_RULES.get(sqlstate[:1], DatabaseError)


# By the SQLSTATE's class (its first two characters), as psycopg2 chooses.
_CLASS_RULES: Dict[str, Type[DatabaseError]] = {
    "08": OperationalError,  # connection exception
    "0A": NotSupportedError,  # feature not supported
    "20": ProgrammingError,  # case not found
    "21": ProgrammingError,  # cardinality violation
    "22": DataError,  # data exception
    "23": IntegrityError,  # integrity constraint violation
    "24": InternalError,  # invalid cursor state
    "25": InternalError,  # invalid transaction state
    "26": OperationalError,  # invalid SQL statement name
    "27": OperationalError,  # triggered data change violation
    "28": OperationalError,  # invalid authorization specification
    "2B": InternalError,  # dependent privilege descriptors still exist
    "2D": InternalError,  # invalid transaction termination
    "2F": InternalError,  # SQL routine exception
    "34": OperationalError,  # invalid cursor name
    "38": InternalError,  # external routine exception
    "39": InternalError,  # external routine invocation exception
    "3B": InternalError,  # savepoint exception
    "3D": ProgrammingError,  # invalid catalog name
    "3F": ProgrammingError,  # invalid schema name
    "40": TransactionRollbackError,  # transaction rollback
    "42": ProgrammingError,  # syntax error or access rule violation
    "44": ProgrammingError,  # WITH CHECK OPTION violation
}
# Classes 53, 54, 55, 57, 58 (resources, limits, state, operator, system) are
# OperationalError; then by the first character alone.
_FIRST_CHAR_RULES: Dict[str, Type[DatabaseError]] = {
    "F": InternalError,  # F0: configuration file error
    "H": OperationalError,  # HV: foreign data wrapper error
    "P": InternalError,  # P0: PL/pgSQL error
    "X": InternalError,  # XX: internal error
}

_by_sqlstate: Dict[str, Type[DatabaseError]] = {}


def lookup(code: str) -> Type[DatabaseError]:
    """The exception class of a SQLSTATE (``lookup("23505") is UniqueViolation``).

    Raises ``KeyError`` for a code without a class of its own, as psycopg2 does.
    """
    return _by_sqlstate[code]


def _exception_class(sqlstate: Optional[str]) -> Type[DatabaseError]:
    if not sqlstate:
        return DatabaseError
    return _by_sqlstate.get(sqlstate) or _dbapi_class(sqlstate)


# ---------------------------------------------------------------------------
# The message as libpq formats it (PQresultErrorMessage at the default verbosity)

_DISPLAY_SIZE = 60  # libpq's screen width for the "LINE n:" display
_MIN_RIGHT_CUT = 10  # keep the cursor this far from a cut on the right


def _display_width(ch: str) -> int:
    # libpq's pg_encoding_dsplen: 2 for East Asian wide characters; zero-width and
    # control characters count as 1.
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _error_position(query: str, position: int) -> str:
    """The ``LINE n: ...`` and caret lines libpq adds for an error position."""
    loc = position - 1  # 0-based character index
    if loc < 0:
        return ""
    # The query with tabs shown as spaces; the screen column of each character.
    text = query.replace("\t", " ")
    n = len(text)
    columns = [0] * (n + 1)
    line = 1
    begin = 0  # first character of the line holding loc
    end = -1  # one past its last character
    col = 0
    i = 0
    while i < n:
        ch = text[i]
        columns[i] = col
        if ch in "\r\n":
            if i < loc:
                if ch == "\r" or i == 0 or text[i - 1] != "\r":
                    line += 1
                begin = i + 1
            else:
                end = i
                break
        col += _display_width(ch)
        i += 1
    if end < 0:
        end = i
        columns[end] = col
    if loc > i:
        return ""
    cut_left = cut_right = False
    if columns[end] - columns[begin] > _DISPLAY_SIZE:
        if columns[begin] + _DISPLAY_SIZE >= columns[loc] + _MIN_RIGHT_CUT:
            while columns[end] - columns[begin] > _DISPLAY_SIZE:
                end -= 1
            cut_right = True
        else:
            while columns[loc] + _MIN_RIGHT_CUT < columns[end]:
                end -= 1
                cut_right = True
            while columns[end] - columns[begin] > _DISPLAY_SIZE:
                begin += 1
                cut_left = True
    prefix = f"LINE {line}: " + ("..." if cut_left else "")
    shown = text[begin:end] + ("..." if cut_right else "")
    caret = " " * (len(prefix) + columns[loc] - columns[begin])
    return f"{prefix}{shown}\n{caret}^\n"


def _format_pgerror(fields: Mapping[str, Any]) -> str:
    """``PQresultErrorMessage``: what psycopg2 puts in ``pgerror``."""
    severity = fields.get("severity")
    out = [f"{severity}:  " if severity else ""]
    out.append(fields.get("message_primary") or "")
    # libpq shows an error position under the statement ("LINE 1: ..." and a caret);
    # the extension passes the statement as "query". A position inside a function body
    # is shown under the internal query.
    query: Optional[str] = None
    position = 0
    pos = fields.get("statement_position")
    if pos:
        query = fields.get("query")
    else:
        pos = fields.get("internal_position")
        if pos:
            query = fields.get("internal_query")
    if query is not None and pos:
        try:
            position = int(pos)
        except (TypeError, ValueError):
            position = 0
    out.append("\n")
    if query is not None and position > 0:
        out.append(_error_position(query, position))
    for key, label in (
        ("message_detail", "DETAIL"),
        ("message_hint", "HINT"),
        ("internal_query", "QUERY"),
        ("context", "CONTEXT"),
    ):
        value = fields.get(key)
        if value:
            out.append(f"{label}:  {value}\n")
    return "".join(out)


def _strip_severity(message: str) -> str:
    """The exception's text: ``pgerror`` without its ``ERROR:  `` prefix (psycopg2)."""
    if len(message) > 8 and message[:8] in ("ERROR:  ", "FATAL:  ", "PANIC:  "):
        return message[8:]
    return message


# ---------------------------------------------------------------------------
# Factories called by the extension


def _from_server(fields: Mapping[str, Any]) -> BaseException:
    """The exception for a server error report (an ErrorResponse).

    ``fields`` holds the report's fields under psycopg2's ``Diagnostics`` names, plus
    optionally ``pgerror`` and ``query`` (the statement as sent, for the ``LINE n:``
    display libpq adds when the server reports a position).
    """
    code = fields.get("sqlstate") or None
    cls = _exception_class(code)
    if fields.get("message_primary") is not None or not fields.get("pgerror"):
        pgerror = _format_pgerror(fields)
    else:
        pgerror = str(fields["pgerror"])
    exc = cls(_strip_severity(pgerror))
    exc.pgerror = pgerror
    exc.pgcode = code
    exc._fields = {k: fields.get(k) for k in _DIAG_FIELDS}
    return exc


# ---------------------------------------------------------------------------
# One class per SQLSTATE (the list psycopg2 2.9 knows: generated from the installed
# PostgreSQL's errcodes.txt and scripts/errcodes-extra.txt by scripts/gen-errors).
# A class derives from the DB-API class of its SQLSTATE class (see _dbapi_class).


def _as_connect_error(exc: BaseException) -> BaseException:
    """``exc`` (a server error raised while connecting) as the ``OperationalError``
    psycopg2 raises for every failure to connect (e.g. ``3D000`` for a database that does
    not exist), keeping ``pgcode``, ``pgerror`` and ``diag``."""
    if isinstance(exc, OperationalError) or not isinstance(exc, DatabaseError):
        return exc
    if exc.pgcode is None:
        return exc
    err = OperationalError(*exc.args)
    err.pgerror, err.pgcode = exc.pgerror, exc.pgcode
    err._fields = dict(getattr(exc, "_fields", None) or {})
    return err


# autogenerated: start (scripts/gen-errors from errcodes.txt; do not edit)


# Class 02 - No Data


class NoData(DatabaseError):
    sqlstate = "02000"


class NoAdditionalDynamicResultSetsReturned(DatabaseError):
    sqlstate = "02001"


# Class 03 - Sql Statement Not Yet Complete


class SqlStatementNotYetComplete(DatabaseError):
    sqlstate = "03000"


# Class 08 - Connection Exception


class ConnectionException(OperationalError):
    sqlstate = "08000"


class SqlclientUnableToEstablishSqlconnection(OperationalError):
    sqlstate = "08001"


class ConnectionDoesNotExist(OperationalError):
    sqlstate = "08003"


class SqlserverRejectedEstablishmentOfSqlconnection(OperationalError):
    sqlstate = "08004"


class ConnectionFailure(OperationalError):
    sqlstate = "08006"


class TransactionResolutionUnknown(OperationalError):
    sqlstate = "08007"


class ProtocolViolation(OperationalError):
    sqlstate = "08P01"


# Class 09 - Triggered Action Exception


class TriggeredActionException(DatabaseError):
    sqlstate = "09000"


# Class 0A - Feature Not Supported


class FeatureNotSupported(NotSupportedError):
    sqlstate = "0A000"


# Class 0B - Invalid Transaction Initiation


class InvalidTransactionInitiation(DatabaseError):
    sqlstate = "0B000"


# Class 0F - Locator Exception


class LocatorException(DatabaseError):
    sqlstate = "0F000"


class InvalidLocatorSpecification(DatabaseError):
    sqlstate = "0F001"


# Class 0L - Invalid Grantor


class InvalidGrantor(DatabaseError):
    sqlstate = "0L000"


class InvalidGrantOperation(DatabaseError):
    sqlstate = "0LP01"


# Class 0P - Invalid Role Specification


class InvalidRoleSpecification(DatabaseError):
    sqlstate = "0P000"


# Class 0Z - Diagnostics Exception


class DiagnosticsException(DatabaseError):
    sqlstate = "0Z000"


class StackedDiagnosticsAccessedWithoutActiveHandler(DatabaseError):
    sqlstate = "0Z002"


# Class 10 - Xquery Error


class InvalidArgumentForXquery(DatabaseError):
    sqlstate = "10608"


# Class 20 - Case Not Found


class CaseNotFound(ProgrammingError):
    sqlstate = "20000"


# Class 21 - Cardinality Violation


class CardinalityViolation(ProgrammingError):
    sqlstate = "21000"


# Class 22 - Data Exception


class DataException(DataError):
    sqlstate = "22000"


class StringDataRightTruncation(DataError):
    sqlstate = "22001"


class NullValueNoIndicatorParameter(DataError):
    sqlstate = "22002"


class NumericValueOutOfRange(DataError):
    sqlstate = "22003"


class NullValueNotAllowed(DataError):
    sqlstate = "22004"


class ErrorInAssignment(DataError):
    sqlstate = "22005"


class InvalidDatetimeFormat(DataError):
    sqlstate = "22007"


class DatetimeFieldOverflow(DataError):
    sqlstate = "22008"


class InvalidTimeZoneDisplacementValue(DataError):
    sqlstate = "22009"


class EscapeCharacterConflict(DataError):
    sqlstate = "2200B"


class InvalidUseOfEscapeCharacter(DataError):
    sqlstate = "2200C"


class InvalidEscapeOctet(DataError):
    sqlstate = "2200D"


class ZeroLengthCharacterString(DataError):
    sqlstate = "2200F"


class MostSpecificTypeMismatch(DataError):
    sqlstate = "2200G"


class SequenceGeneratorLimitExceeded(DataError):
    sqlstate = "2200H"


class NotAnXmlDocument(DataError):
    sqlstate = "2200L"


class InvalidXmlDocument(DataError):
    sqlstate = "2200M"


class InvalidXmlContent(DataError):
    sqlstate = "2200N"


class InvalidXmlComment(DataError):
    sqlstate = "2200S"


class InvalidXmlProcessingInstruction(DataError):
    sqlstate = "2200T"


class InvalidIndicatorParameterValue(DataError):
    sqlstate = "22010"


class SubstringError(DataError):
    sqlstate = "22011"


class DivisionByZero(DataError):
    sqlstate = "22012"


class InvalidPrecedingOrFollowingSize(DataError):
    sqlstate = "22013"


class InvalidArgumentForNtileFunction(DataError):
    sqlstate = "22014"


class IntervalFieldOverflow(DataError):
    sqlstate = "22015"


class InvalidArgumentForNthValueFunction(DataError):
    sqlstate = "22016"


class InvalidCharacterValueForCast(DataError):
    sqlstate = "22018"


class InvalidEscapeCharacter(DataError):
    sqlstate = "22019"


class InvalidRegularExpression(DataError):
    sqlstate = "2201B"


class InvalidArgumentForLogarithm(DataError):
    sqlstate = "2201E"


class InvalidArgumentForPowerFunction(DataError):
    sqlstate = "2201F"


class InvalidArgumentForWidthBucketFunction(DataError):
    sqlstate = "2201G"


class InvalidRowCountInLimitClause(DataError):
    sqlstate = "2201W"


class InvalidRowCountInResultOffsetClause(DataError):
    sqlstate = "2201X"


class CharacterNotInRepertoire(DataError):
    sqlstate = "22021"


class IndicatorOverflow(DataError):
    sqlstate = "22022"


class InvalidParameterValue(DataError):
    sqlstate = "22023"


class UnterminatedCString(DataError):
    sqlstate = "22024"


class InvalidEscapeSequence(DataError):
    sqlstate = "22025"


class StringDataLengthMismatch(DataError):
    sqlstate = "22026"


class TrimError(DataError):
    sqlstate = "22027"


class ArraySubscriptError(DataError):
    sqlstate = "2202E"


class InvalidTablesampleRepeat(DataError):
    sqlstate = "2202G"


class InvalidTablesampleArgument(DataError):
    sqlstate = "2202H"


class DuplicateJsonObjectKeyValue(DataError):
    sqlstate = "22030"


class InvalidArgumentForSqlJsonDatetimeFunction(DataError):
    sqlstate = "22031"


class InvalidJsonText(DataError):
    sqlstate = "22032"


class InvalidSqlJsonSubscript(DataError):
    sqlstate = "22033"


class MoreThanOneSqlJsonItem(DataError):
    sqlstate = "22034"


class NoSqlJsonItem(DataError):
    sqlstate = "22035"


class NonNumericSqlJsonItem(DataError):
    sqlstate = "22036"


class NonUniqueKeysInAJsonObject(DataError):
    sqlstate = "22037"


class SingletonSqlJsonItemRequired(DataError):
    sqlstate = "22038"


class SqlJsonArrayNotFound(DataError):
    sqlstate = "22039"


class SqlJsonMemberNotFound(DataError):
    sqlstate = "2203A"


class SqlJsonNumberNotFound(DataError):
    sqlstate = "2203B"


class SqlJsonObjectNotFound(DataError):
    sqlstate = "2203C"


class TooManyJsonArrayElements(DataError):
    sqlstate = "2203D"


class TooManyJsonObjectMembers(DataError):
    sqlstate = "2203E"


class SqlJsonScalarRequired(DataError):
    sqlstate = "2203F"


class SqlJsonItemCannotBeCastToTargetType(DataError):
    sqlstate = "2203G"


class FloatingPointException(DataError):
    sqlstate = "22P01"


class InvalidTextRepresentation(DataError):
    sqlstate = "22P02"


class InvalidBinaryRepresentation(DataError):
    sqlstate = "22P03"


class BadCopyFileFormat(DataError):
    sqlstate = "22P04"


class UntranslatableCharacter(DataError):
    sqlstate = "22P05"


class NonstandardUseOfEscapeCharacter(DataError):
    sqlstate = "22P06"


# Class 23 - Integrity Constraint Violation


class IntegrityConstraintViolation(IntegrityError):
    sqlstate = "23000"


class RestrictViolation(IntegrityError):
    sqlstate = "23001"


class NotNullViolation(IntegrityError):
    sqlstate = "23502"


class ForeignKeyViolation(IntegrityError):
    sqlstate = "23503"


class UniqueViolation(IntegrityError):
    sqlstate = "23505"


class CheckViolation(IntegrityError):
    sqlstate = "23514"


class ExclusionViolation(IntegrityError):
    sqlstate = "23P01"


# Class 24 - Invalid Cursor State


class InvalidCursorState(InternalError):
    sqlstate = "24000"


# Class 25 - Invalid Transaction State


class InvalidTransactionState(InternalError):
    sqlstate = "25000"


class ActiveSqlTransaction(InternalError):
    sqlstate = "25001"


class BranchTransactionAlreadyActive(InternalError):
    sqlstate = "25002"


class InappropriateAccessModeForBranchTransaction(InternalError):
    sqlstate = "25003"


class InappropriateIsolationLevelForBranchTransaction(InternalError):
    sqlstate = "25004"


class NoActiveSqlTransactionForBranchTransaction(InternalError):
    sqlstate = "25005"


class ReadOnlySqlTransaction(InternalError):
    sqlstate = "25006"


class SchemaAndDataStatementMixingNotSupported(InternalError):
    sqlstate = "25007"


class HeldCursorRequiresSameIsolationLevel(InternalError):
    sqlstate = "25008"


class NoActiveSqlTransaction(InternalError):
    sqlstate = "25P01"


class InFailedSqlTransaction(InternalError):
    sqlstate = "25P02"


class IdleInTransactionSessionTimeout(InternalError):
    sqlstate = "25P03"


class TransactionTimeout(InternalError):
    sqlstate = "25P04"


# Class 26 - Invalid Sql Statement Name


class InvalidSqlStatementName(OperationalError):
    sqlstate = "26000"


# Class 27 - Triggered Data Change Violation


class TriggeredDataChangeViolation(OperationalError):
    sqlstate = "27000"


# Class 28 - Invalid Authorization Specification


class InvalidAuthorizationSpecification(OperationalError):
    sqlstate = "28000"


class InvalidPassword(OperationalError):
    sqlstate = "28P01"


# Class 2B - Dependent Privilege Descriptors Still Exist


class DependentPrivilegeDescriptorsStillExist(InternalError):
    sqlstate = "2B000"


class DependentObjectsStillExist(InternalError):
    sqlstate = "2BP01"


# Class 2D - Invalid Transaction Termination


class InvalidTransactionTermination(InternalError):
    sqlstate = "2D000"


# Class 2F - Sql Routine Exception


class SqlRoutineException(InternalError):
    sqlstate = "2F000"


class ModifyingSqlDataNotPermitted(InternalError):
    sqlstate = "2F002"


class ProhibitedSqlStatementAttempted(InternalError):
    sqlstate = "2F003"


class ReadingSqlDataNotPermitted(InternalError):
    sqlstate = "2F004"


class FunctionExecutedNoReturnStatement(InternalError):
    sqlstate = "2F005"


# Class 34 - Invalid Cursor Name


class InvalidCursorName(OperationalError):
    sqlstate = "34000"


# Class 38 - External Routine Exception


class ExternalRoutineException(InternalError):
    sqlstate = "38000"


class ContainingSqlNotPermitted(InternalError):
    sqlstate = "38001"


class ModifyingSqlDataNotPermittedExt(InternalError):
    sqlstate = "38002"


class ProhibitedSqlStatementAttemptedExt(InternalError):
    sqlstate = "38003"


class ReadingSqlDataNotPermittedExt(InternalError):
    sqlstate = "38004"


# Class 39 - External Routine Invocation Exception


class ExternalRoutineInvocationException(InternalError):
    sqlstate = "39000"


class InvalidSqlstateReturned(InternalError):
    sqlstate = "39001"


class NullValueNotAllowedExt(InternalError):
    sqlstate = "39004"


class TriggerProtocolViolated(InternalError):
    sqlstate = "39P01"


class SrfProtocolViolated(InternalError):
    sqlstate = "39P02"


class EventTriggerProtocolViolated(InternalError):
    sqlstate = "39P03"


# Class 3B - Savepoint Exception


class SavepointException(InternalError):
    sqlstate = "3B000"


class InvalidSavepointSpecification(InternalError):
    sqlstate = "3B001"


# Class 3D - Invalid Catalog Name


class InvalidCatalogName(ProgrammingError):
    sqlstate = "3D000"


# Class 3F - Invalid Schema Name


class InvalidSchemaName(ProgrammingError):
    sqlstate = "3F000"


# Class 40 - Transaction Rollback


class TransactionRollback(TransactionRollbackError):
    sqlstate = "40000"


class SerializationFailure(TransactionRollbackError):
    sqlstate = "40001"


class TransactionIntegrityConstraintViolation(TransactionRollbackError):
    sqlstate = "40002"


class StatementCompletionUnknown(TransactionRollbackError):
    sqlstate = "40003"


class DeadlockDetected(TransactionRollbackError):
    sqlstate = "40P01"


# Class 42 - Syntax Error Or Access Rule Violation


class SyntaxErrorOrAccessRuleViolation(ProgrammingError):
    sqlstate = "42000"


class InsufficientPrivilege(ProgrammingError):
    sqlstate = "42501"


class SyntaxError(ProgrammingError):
    sqlstate = "42601"


class InvalidName(ProgrammingError):
    sqlstate = "42602"


class InvalidColumnDefinition(ProgrammingError):
    sqlstate = "42611"


class NameTooLong(ProgrammingError):
    sqlstate = "42622"


class DuplicateColumn(ProgrammingError):
    sqlstate = "42701"


class AmbiguousColumn(ProgrammingError):
    sqlstate = "42702"


class UndefinedColumn(ProgrammingError):
    sqlstate = "42703"


class UndefinedObject(ProgrammingError):
    sqlstate = "42704"


class DuplicateObject(ProgrammingError):
    sqlstate = "42710"


class DuplicateAlias(ProgrammingError):
    sqlstate = "42712"


class DuplicateFunction(ProgrammingError):
    sqlstate = "42723"


class AmbiguousFunction(ProgrammingError):
    sqlstate = "42725"


class GroupingError(ProgrammingError):
    sqlstate = "42803"


class DatatypeMismatch(ProgrammingError):
    sqlstate = "42804"


class WrongObjectType(ProgrammingError):
    sqlstate = "42809"


class InvalidForeignKey(ProgrammingError):
    sqlstate = "42830"


class CannotCoerce(ProgrammingError):
    sqlstate = "42846"


class UndefinedFunction(ProgrammingError):
    sqlstate = "42883"


class GeneratedAlways(ProgrammingError):
    sqlstate = "428C9"


class ReservedName(ProgrammingError):
    sqlstate = "42939"


class UndefinedTable(ProgrammingError):
    sqlstate = "42P01"


class UndefinedParameter(ProgrammingError):
    sqlstate = "42P02"


class DuplicateCursor(ProgrammingError):
    sqlstate = "42P03"


class DuplicateDatabase(ProgrammingError):
    sqlstate = "42P04"


class DuplicatePreparedStatement(ProgrammingError):
    sqlstate = "42P05"


class DuplicateSchema(ProgrammingError):
    sqlstate = "42P06"


class DuplicateTable(ProgrammingError):
    sqlstate = "42P07"


class AmbiguousParameter(ProgrammingError):
    sqlstate = "42P08"


class AmbiguousAlias(ProgrammingError):
    sqlstate = "42P09"


class InvalidColumnReference(ProgrammingError):
    sqlstate = "42P10"


class InvalidCursorDefinition(ProgrammingError):
    sqlstate = "42P11"


class InvalidDatabaseDefinition(ProgrammingError):
    sqlstate = "42P12"


class InvalidFunctionDefinition(ProgrammingError):
    sqlstate = "42P13"


class InvalidPreparedStatementDefinition(ProgrammingError):
    sqlstate = "42P14"


class InvalidSchemaDefinition(ProgrammingError):
    sqlstate = "42P15"


class InvalidTableDefinition(ProgrammingError):
    sqlstate = "42P16"


class InvalidObjectDefinition(ProgrammingError):
    sqlstate = "42P17"


class IndeterminateDatatype(ProgrammingError):
    sqlstate = "42P18"


class InvalidRecursion(ProgrammingError):
    sqlstate = "42P19"


class WindowingError(ProgrammingError):
    sqlstate = "42P20"


class CollationMismatch(ProgrammingError):
    sqlstate = "42P21"


class IndeterminateCollation(ProgrammingError):
    sqlstate = "42P22"


# Class 44 - With Check Option Violation


class WithCheckOptionViolation(ProgrammingError):
    sqlstate = "44000"


# Class 53 - Insufficient Resources


class InsufficientResources(OperationalError):
    sqlstate = "53000"


class DiskFull(OperationalError):
    sqlstate = "53100"


class OutOfMemory(OperationalError):
    sqlstate = "53200"


class TooManyConnections(OperationalError):
    sqlstate = "53300"


class ConfigurationLimitExceeded(OperationalError):
    sqlstate = "53400"


# Class 54 - Program Limit Exceeded


class ProgramLimitExceeded(OperationalError):
    sqlstate = "54000"


class StatementTooComplex(OperationalError):
    sqlstate = "54001"


class TooManyColumns(OperationalError):
    sqlstate = "54011"


class TooManyArguments(OperationalError):
    sqlstate = "54023"


# Class 55 - Object Not In Prerequisite State


class ObjectNotInPrerequisiteState(OperationalError):
    sqlstate = "55000"


class ObjectInUse(OperationalError):
    sqlstate = "55006"


class CantChangeRuntimeParam(OperationalError):
    sqlstate = "55P02"


class LockNotAvailable(OperationalError):
    sqlstate = "55P03"


class UnsafeNewEnumValueUsage(OperationalError):
    sqlstate = "55P04"


# Class 57 - Operator Intervention


class OperatorIntervention(OperationalError):
    sqlstate = "57000"


class QueryCanceled(QueryCanceledError):
    sqlstate = "57014"


class AdminShutdown(OperationalError):
    sqlstate = "57P01"


class CrashShutdown(OperationalError):
    sqlstate = "57P02"


class CannotConnectNow(OperationalError):
    sqlstate = "57P03"


class DatabaseDropped(OperationalError):
    sqlstate = "57P04"


class IdleSessionTimeout(OperationalError):
    sqlstate = "57P05"


# Class 58 - System Error


class SystemError(OperationalError):
    sqlstate = "58000"


class IoError(OperationalError):
    sqlstate = "58030"


class UndefinedFile(OperationalError):
    sqlstate = "58P01"


class DuplicateFile(OperationalError):
    sqlstate = "58P02"


class FileNameTooLong(OperationalError):
    sqlstate = "58P03"


# Class 72 - Snapshot Failure


class SnapshotTooOld(DatabaseError):
    sqlstate = "72000"


# Class F0 - Configuration File Error


class ConfigFileError(InternalError):
    sqlstate = "F0000"


class LockFileExists(InternalError):
    sqlstate = "F0001"


# Class HV - Foreign Data Wrapper Error


class FdwError(OperationalError):
    sqlstate = "HV000"


class FdwOutOfMemory(OperationalError):
    sqlstate = "HV001"


class FdwDynamicParameterValueNeeded(OperationalError):
    sqlstate = "HV002"


class FdwInvalidDataType(OperationalError):
    sqlstate = "HV004"


class FdwColumnNameNotFound(OperationalError):
    sqlstate = "HV005"


class FdwInvalidDataTypeDescriptors(OperationalError):
    sqlstate = "HV006"


class FdwInvalidColumnName(OperationalError):
    sqlstate = "HV007"


class FdwInvalidColumnNumber(OperationalError):
    sqlstate = "HV008"


class FdwInvalidUseOfNullPointer(OperationalError):
    sqlstate = "HV009"


class FdwInvalidStringFormat(OperationalError):
    sqlstate = "HV00A"


class FdwInvalidHandle(OperationalError):
    sqlstate = "HV00B"


class FdwInvalidOptionIndex(OperationalError):
    sqlstate = "HV00C"


class FdwInvalidOptionName(OperationalError):
    sqlstate = "HV00D"


class FdwOptionNameNotFound(OperationalError):
    sqlstate = "HV00J"


class FdwReplyHandle(OperationalError):
    sqlstate = "HV00K"


class FdwUnableToCreateExecution(OperationalError):
    sqlstate = "HV00L"


class FdwUnableToCreateReply(OperationalError):
    sqlstate = "HV00M"


class FdwUnableToEstablishConnection(OperationalError):
    sqlstate = "HV00N"


class FdwNoSchemas(OperationalError):
    sqlstate = "HV00P"


class FdwSchemaNotFound(OperationalError):
    sqlstate = "HV00Q"


class FdwTableNotFound(OperationalError):
    sqlstate = "HV00R"


class FdwFunctionSequenceError(OperationalError):
    sqlstate = "HV010"


class FdwTooManyHandles(OperationalError):
    sqlstate = "HV014"


class FdwInconsistentDescriptorInformation(OperationalError):
    sqlstate = "HV021"


class FdwInvalidAttributeValue(OperationalError):
    sqlstate = "HV024"


class FdwInvalidStringLengthOrBufferLength(OperationalError):
    sqlstate = "HV090"


class FdwInvalidDescriptorFieldIdentifier(OperationalError):
    sqlstate = "HV091"


# Class P0 - Pl Pgsql Error


class PlpgsqlError(InternalError):
    sqlstate = "P0000"


class RaiseException(InternalError):
    sqlstate = "P0001"


class NoDataFound(InternalError):
    sqlstate = "P0002"


class TooManyRows(InternalError):
    sqlstate = "P0003"


class AssertFailure(InternalError):
    sqlstate = "P0004"


# Class XX - Internal Error


class InternalError_(InternalError):
    sqlstate = "XX000"


class DataCorrupted(InternalError):
    sqlstate = "XX001"


class IndexCorrupted(InternalError):
    sqlstate = "XX002"


# autogenerated: end


def _register() -> None:
    for obj in list(globals().values()):
        if (
            isinstance(obj, type)
            and issubclass(obj, DatabaseError)
            and "sqlstate" in obj.__dict__
        ):
            _by_sqlstate[obj.sqlstate] = obj  # type: ignore[index]
            __all__.append(obj.__name__)


_register()
