//! Domain values that parse instead of validate later. Nothing here knows about HTTP
//! or the database.

pub mod email;
pub mod password;
pub mod phone_number;

pub use email::Email;
pub use password::Password;
pub use phone_number::PhoneNumber;
