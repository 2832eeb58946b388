//! COMMAND DOCS / INFO rendering from the command table.
