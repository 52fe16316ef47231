//! The C ABI (issue 4): glue only, no pool logic.
