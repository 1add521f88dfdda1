//! Presentational pieces: they take props and callbacks and never call the API.

pub mod breadcrumbs;
pub mod code_input;
pub mod code_step;
pub mod confirm;
pub mod field;
pub mod password_check;
pub mod phone_field;
pub mod phone_overview;
pub mod phone_widget;
pub mod recovery_code_field;
pub mod recovery_codes;
pub mod sidebar;
pub mod subform;
