//! The SPA's pages and their URLs (the only place paths are spelled), and a small
//! History-API router: the current location as signals, `navigate`, and same-origin
//! `<a href>` clicks handled in place. (`leptos_router` would add ~50 KB gzip to a
//! bundle that must stay under 200 KB; five flat routes need none of its machinery.)

use std::cell::Cell;

use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue, closure::Closure};

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

impl Page {
    /// The page at a URL path (a trailing slash is ignored); `None` for unknown paths.
    pub fn from_path(path: &str) -> Option<Page> {
        let path = match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p,
            _ => path,
        };
        [
            Page::Home,
            Page::Login,
            Page::Register,
            Page::Dashboard,
            Page::PhoneManagement,
            Page::DevSms,
        ]
        .into_iter()
        .find(|p| p.path() == path)
    }

    /// Pages behind the sign-in (they share the sidebar layout).
    pub fn signed_in(self) -> bool {
        matches!(self, Page::Dashboard | Page::PhoneManagement)
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

/// The browser's location as signals.
#[derive(Clone, Copy)]
pub struct Location {
    /// `location.pathname`.
    pub path: RwSignal<String>,
    /// `location.search`, with its `?`.
    pub search: RwSignal<String>,
}

thread_local! {
    static LOCATION: Cell<Option<Location>> = const { Cell::new(None) };
}

impl Location {
    /// Starts following the address bar (Back/Forward) and link clicks.
    pub fn start() -> Location {
        let location = Location {
            path: RwSignal::new(String::new()),
            search: RwSignal::new(String::new()),
        };
        location.sync();
        LOCATION.with(|l| l.set(Some(location)));
        let window = window();
        // Both listeners live as long as the page.
        let on_popstate = Closure::<dyn FnMut()>::new(move || location.sync());
        let _ = window
            .add_event_listener_with_callback("popstate", on_popstate.as_ref().unchecked_ref());
        on_popstate.forget();
        let on_click = Closure::<dyn FnMut(web_sys::MouseEvent)>::new(follow_link);
        let _ =
            document().add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
        on_click.forget();
        location
    }

    /// The running app's location.
    pub fn current() -> Option<Location> {
        LOCATION.with(Cell::get)
    }

    fn sync(self) {
        let location = window().location();
        let path = location.pathname().unwrap_or_default();
        let search = location.search().unwrap_or_default();
        if self.path.get_untracked() != path {
            self.path.set(path);
        }
        if self.search.get_untracked() != search {
            self.search.set(search);
        }
    }

    /// The page at the current path (tracked).
    pub fn page(self) -> Option<Page> {
        self.path.with(|p| Page::from_path(p))
    }

    /// A query parameter of the current URL, decoded (tracked).
    pub fn query(self, key: &str) -> Option<String> {
        self.search.with(|s| query_param(s, key))
    }

    /// Path and query, e.g. `/dashboard/phone-management?action=replace` (untracked).
    pub fn here(self) -> String {
        format!(
            "{}{}",
            self.path.get_untracked(),
            self.search.get_untracked()
        )
    }
}

/// `key`'s value in a `?a=1&b=2` query string, percent-decoded.
pub fn query_param(search: &str, key: &str) -> Option<String> {
    search
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| decode(v))
}

fn decode(value: &str) -> String {
    let value = value.replace('+', " ");
    if !value.contains('%') {
        return value;
    }
    js_sys::decode_uri_component(&value).map_or(value, String::from)
}

/// Goes to a path of this app: a new history entry, or the current one replaced.
pub fn navigate(to: &str, replace: bool) {
    let Ok(history) = window().history() else {
        return;
    };
    let done = if replace {
        history.replace_state_with_url(&JsValue::NULL, "", Some(to))
    } else {
        history.push_state_with_url(&JsValue::NULL, "", Some(to))
    };
    if done.is_ok() {
        if let Some(location) = Location::current() {
            location.sync();
        }
        if !replace {
            window().scroll_to_with_x_and_y(0.0, 0.0);
        }
    }
}

/// Handles a plain left click on a same-origin `<a href="/…">` without a page load;
/// modified clicks, downloads and other targets keep the browser's behaviour.
fn follow_link(ev: web_sys::MouseEvent) {
    if ev.default_prevented()
        || ev.button() != 0
        || ev.meta_key()
        || ev.ctrl_key()
        || ev.shift_key()
        || ev.alt_key()
    {
        return;
    }
    let Some(anchor) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|el| el.closest("a[href]").ok().flatten())
    else {
        return;
    };
    if anchor.has_attribute("download")
        || anchor.get_attribute("target").is_some_and(|t| t != "_self")
    {
        return;
    }
    let Some(href) = anchor.get_attribute("href") else {
        return;
    };
    if href.starts_with('/') && !href.starts_with("//") && !href.starts_with("/api/") {
        ev.prevent_default();
        navigate(&href, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_found_at_its_path() {
        for page in [
            Page::Home,
            Page::Login,
            Page::Register,
            Page::Dashboard,
            Page::PhoneManagement,
            Page::DevSms,
        ] {
            assert_eq!(Page::from_path(page.path()), Some(page));
        }
        assert_eq!(Page::from_path("/dashboard/"), Some(Page::Dashboard));
        assert_eq!(Page::from_path("/dashboard/nope"), None);
    }

    #[test]
    fn query_parameters_are_found_by_name() {
        assert_eq!(
            query_param("?next=%2Fdashboard&x=1", "x").as_deref(),
            Some("1")
        );
        assert_eq!(
            query_param("?action=replace", "action").as_deref(),
            Some("replace")
        );
        assert_eq!(query_param("", "next"), None);
        assert_eq!(query_param("?flag", "flag").as_deref(), Some(""));
    }

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
