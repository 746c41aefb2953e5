//! Criterion benchmarks of livepeer-rs; see the `benches/` folder.
