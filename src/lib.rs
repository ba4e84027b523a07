//! Tallyman: batch file exchange and reconciliation.
