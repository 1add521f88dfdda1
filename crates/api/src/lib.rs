//! PhoneReg API: accounts, tokens and the phone-number record over actix-web and diesel.

pub mod budget_watch;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod extract;
pub mod persistence;
pub mod routes;
pub mod security;
pub mod services;
pub mod shed;
pub mod sms;
pub mod startup;
pub mod state;
pub mod streams;
pub mod telemetry;
