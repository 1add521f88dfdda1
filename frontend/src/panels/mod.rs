//! Pieces of pages that read or change the account themselves, through
//! [`crate::session::Session::call`]: the phone form, the code step, and the cards of the
//! phone management page. Pages (routes) compose them; `components/` lay things out from
//! props and callbacks and never call the API.

pub mod add_phone;
pub mod history;
pub mod phone_form;
pub mod test_message;
pub mod verification;
