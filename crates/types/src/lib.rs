//! Request/response types and validation rules shared by the PhoneReg API and SPA.
//!
//! This crate compiles to native and to `wasm32-unknown-unknown` and depends on no
//! server crate, so the SPA can show exactly the messages the API would send.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod config;
pub mod dev;
pub mod events;
pub mod phone;
pub mod problem;
pub mod support;
pub mod validation;
pub mod vocab;
pub mod webhooks;

pub use admin::*;
pub use audit::*;
pub use auth::*;
pub use config::*;
pub use dev::*;
pub use events::*;
pub use phone::*;
pub use problem::*;
pub use support::*;
pub use vocab::*;
pub use webhooks::*;
