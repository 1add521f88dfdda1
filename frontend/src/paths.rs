//! The app's URLs, for links and redirects. The route table in `app.rs` matches the same
//! paths (leptos_router's `path!` needs literals); a page added there gets its variant here.

/// A screen of the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Home,
    Login,
    Register,
    Dashboard,
    PhoneManagement,
    DevSms,
}

impl Page {
    /// The URL path of the page.
    pub const fn path(self) -> &'static str {
        match self {
            Page::Home => "/",
            Page::Login => "/login",
            Page::Register => "/register",
            Page::Dashboard => "/dashboard",
            Page::PhoneManagement => "/dashboard/phone-management",
            Page::DevSms => "/dev/sms",
        }
    }
}

/// `?action=` values of the phone management page, so other screens can open a panel.
pub mod action {
    pub const REPLACE: &str = "replace";
    pub const VERIFY: &str = "verify";
    pub const ADD: &str = "add";
}

/// Where to go after signing in: `next` when it is a path of this app, else the dashboard.
/// Only same-origin paths are accepted, so a crafted link cannot send a user elsewhere.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => Page::Dashboard.path().to_owned(),
    }
}

/// The page path with a query, e.g. `/dashboard/phone-management?action=replace`.
pub fn with_action(page: Page, action: &str) -> String {
    format!("{}?action={action}", page.path())
}

/// The sign-in page, coming back to `here` (a path with its query) afterwards.
pub fn login_then(here: &str) -> String {
    let next = String::from(js_sys::encode_uri_component(here));
    format!("{}?next={next}", Page::Login.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_accepts_only_local_paths() {
        assert_eq!(
            safe_next(Some("/dashboard/phone-management")),
            "/dashboard/phone-management"
        );
        assert_eq!(safe_next(Some("//evil.example")), "/dashboard");
        assert_eq!(safe_next(Some("https://evil.example")), "/dashboard");
        assert_eq!(safe_next(Some("/\\evil.example")), "/dashboard");
        assert_eq!(safe_next(None), "/dashboard");
    }
}
