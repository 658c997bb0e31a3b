//! Criterion benches for the gateway's hot paths live in `benches/`; load-test
//! scripts beside them. This library is empty: the crate exists to hold them.
