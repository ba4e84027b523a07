//! Transform and reconcile: DataFrames in, DataFrames out (pure).
pub mod collect;
pub mod reconcile;
pub mod transform;
