//! Transform and reconcile: DataFrames in, DataFrames out (pure).
pub mod catalog;
pub mod group_reconcile;
pub mod invoices;
pub mod journal;
pub mod needs;
pub mod open_items;
pub mod order_status;
pub mod orders;
pub mod pairing;
pub mod reconcile;
pub mod returns;
pub mod shipments;
pub mod spec;
pub mod transform;
pub mod unique_pairs;
