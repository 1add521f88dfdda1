//! Pieces of pages that read or change the account themselves, through
//! [`crate::session::Session::call`]: the phone form, the code step, and the cards of the
//! phone management page. Pages (routes) compose them; `components/` lay things out from
//! props and callbacks and never call the API.

pub mod add_phone;
pub mod code_sign_in;
pub mod delete_account;
pub mod history;
pub mod phone_entry;
pub mod phone_form;
pub mod recent_activity;
pub mod recovery_codes;
pub mod register_form;
pub mod reset_password;
pub mod send_code;
pub mod test_message;
pub mod two_factor;
pub mod two_step;
pub mod verification;
