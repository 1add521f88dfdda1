//! API integration tests: every test runs through the real HTTP server, once on SQLite
//! and once on PostgreSQL.

mod helpers;

mod account_deletion;
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
mod faults;
mod flood_shedding;
mod fraud;
mod fraud_scale;
mod hardening;
mod many_processes;
mod migrations;
mod modules;
mod observability;
mod open_writes;
mod openapi;
mod operations;
mod operators;
mod outside_review;
mod phone_numbers;
mod phone_oracle;
mod process;
mod session_races;
mod spa;
mod storage;
mod stream_limits;
mod streams;
mod support;
mod tokens;
mod traces;
mod twilio;
mod verification;
