//! End-to-end tests: the real `seglake` binary against real lakes in
//! temporary folders, checked against hand-computed values and against an
//! independent Delta reader (Python `deltalake`, installed by
//! `infra/test.sh`).

mod audit;
mod backtest;
mod bad_input;
mod berka;
mod bi;
mod categorical;
mod cluster;
mod common;
mod deliver;
mod delta_source;
mod demo_versions;
mod determinism;
mod float_determinism;
mod handbuilt_features;
mod handbuilt_rules;
mod http;
mod incremental;
mod ingest;
mod memory_limit;
mod model_format;
mod monitoring;
mod postgres;
mod python_reader;
mod report;
mod risk;
mod rules;
mod rules_audit;
mod s3;
mod schedules;
mod screening;
mod segments;
mod serve;
mod walkthrough;
