//! API integration tests: every test runs through the real HTTP server, once on SQLite
//! and once on PostgreSQL.

mod helpers;

mod api_docs;
mod audit;
mod auth;
mod captcha;
mod client_networks;
mod credential;
mod credential_safety;
mod delivery;
mod deployment_traps;
mod docs;
mod errors;
mod event_gaps;
mod events;
mod failover;
mod faults;
mod flood_shedding;
mod fraud;
mod fraud_scale;
mod hardening;
mod http_provider;
mod many_processes;
mod modules;
mod open_writes;
mod openapi;
mod operations;
mod operators;
mod outside_review;
mod phone_numbers;
mod phone_oracle;
mod process;
mod providers;
mod session_races;
mod spa;
mod storage;
mod stream_limits;
mod streams;
mod test_numbers;
mod tokens;
mod twilio;
mod verification;
