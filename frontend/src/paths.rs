//! The app's URLs, for links and redirects. The route table in `app.rs` matches the same
//! paths (leptos_router's `path!` needs literals); a page added there gets its variant here.
//! Pages redirect with [`replace`] from here rather than from `app.rs`, which imports the
//! pages: no module imports one that imports it back.

use leptos_router::NavigateOptions;

/// Redirects replace the history entry, so Back does not bounce through them.
pub fn replace() -> NavigateOptions {
    NavigateOptions {
        replace: true,
        ..NavigateOptions::default()
    }
}

/// A screen of the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Home,
    Login,
    Register,
    ResetPassword,
    Dashboard,
    PhoneManagement,
    Security,
    DevSms,
}

impl Page {
    /// The URL path of the page.
    pub const fn path(self) -> &'static str {
        match self {
            Page::Home => "/",
            Page::Login => "/login",
            Page::Register => "/register",
            Page::ResetPassword => "/reset-password",
            Page::Dashboard => "/dashboard",
            Page::PhoneManagement => "/dashboard/phone-management",
            Page::Security => "/dashboard/security",
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

/// `?method=` of `/login`: "Sign in with a code" (the password form otherwise). A query
/// rather than a route, so Back returns to the password form and `next` carries over.
pub const METHOD_CODE: &str = "code";

/// `?notice=` values of `/login`: a fixed message after a flow that ends there (never
/// text from the URL, which anyone can craft).
pub mod notice {
    pub const PASSWORD_CHANGED: &str = "password-changed";
    pub const ACCOUNT_DELETED: &str = "account-deleted";

    /// The message for a `notice` value.
    pub fn text(key: &str) -> Option<&'static str> {
        match key {
            PASSWORD_CHANGED => Some(
                "Your password was changed and every session signed out. Sign in with your new password.",
            ),
            ACCOUNT_DELETED => Some("Your account was deleted."),
            _ => None,
        }
    }
}

/// `/login` signing in with a code (`with_code`) or the password, keeping `next`.
pub fn login_method(with_code: bool, next: Option<&str>) -> String {
    let mut query = Vec::new();
    if with_code {
        query.push(format!("method={METHOD_CODE}"));
    }
    if let Some(next) = next {
        query.push(format!(
            "next={}",
            String::from(js_sys::encode_uri_component(next))
        ));
    }
    if query.is_empty() {
        Page::Login.path().to_owned()
    } else {
        format!("{}?{}", Page::Login.path(), query.join("&"))
    }
}

/// `/login` showing one of the [`notice`] messages.
pub fn login_with_notice(key: &str) -> String {
    format!("{}?notice={key}", Page::Login.path())
}

/// Where to go after signing in: `next` when it is a path of this app, else the dashboard.
/// Only same-origin paths are accepted, so a crafted link cannot send a user elsewhere,
/// and never a signed-out page (signing out can leave `?next=/login` behind: following it
/// would leave a signed-in user on the sign-in form).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !is_signed_out_page(p) =>
        {
            p.to_owned()
        }
        _ => Page::Dashboard.path().to_owned(),
    }
}

fn is_signed_out_page(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    [Page::Login, Page::Register, Page::ResetPassword]
        .iter()
        .any(|page| path == page.path())
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

    #[test]
    fn next_is_never_a_signed_out_page() {
        assert_eq!(safe_next(Some("/login")), "/dashboard");
        assert_eq!(safe_next(Some("/login?next=%2Flogin")), "/dashboard");
        assert_eq!(safe_next(Some("/reset-password")), "/dashboard");
        assert_eq!(
            safe_next(Some("/dashboard/security")),
            "/dashboard/security"
        );
    }

    #[test]
    fn notices_are_fixed_texts() {
        assert!(notice::text(notice::PASSWORD_CHANGED).is_some());
        assert_eq!(notice::text("<script>"), None);
        assert_eq!(
            login_with_notice(notice::PASSWORD_CHANGED),
            "/login?notice=password-changed"
        );
    }

    #[test]
    fn the_sign_in_method_is_a_query() {
        assert_eq!(login_method(true, None), "/login?method=code");
        assert_eq!(login_method(false, None), "/login");
    }
}
