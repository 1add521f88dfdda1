//! Time as the server sees it, relative times ("3 minutes ago") and countdowns.
//!
//! Countdowns compare the server's timestamps (`resend_after`, `expires_at`) with this
//! browser's clock; when the two clocks disagree by more than a couple of seconds the
//! `Date` header of API answers corrects for it.

use std::cell::Cell;

use leptos::prelude::*;

thread_local! {
    /// Server clock minus browser clock, in ms (0 unless they differ noticeably).
    static SERVER_OFFSET_MS: Cell<f64> = const { Cell::new(0.0) };
}

/// Skews below this are ignored: `Date` has one-second resolution.
const SKEW_TOLERANCE_MS: f64 = 2_000.0;

/// Notes the server's `Date` header of an answer.
pub fn observe_server_date(header: &str) {
    let Some(server) = parse_ms(header) else {
        return;
    };
    let offset = server - js_sys::Date::now();
    // `Date` truncates to whole seconds, so a server exactly in step reads up to 1 s early.
    let offset = if offset.abs() < SKEW_TOLERANCE_MS {
        0.0
    } else {
        offset
    };
    SERVER_OFFSET_MS.with(|c| c.set(offset));
}

/// Waits `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Milliseconds since the epoch on the server's clock.
pub fn now_ms() -> f64 {
    js_sys::Date::now() + SERVER_OFFSET_MS.with(Cell::get)
}

/// An RFC 3339 (or HTTP-date) timestamp in ms since the epoch.
pub fn parse_ms(s: &str) -> Option<f64> {
    let ms = js_sys::Date::parse(s);
    (!ms.is_nan()).then_some(ms)
}

/// A signal of the server's "now" that ticks every second, shared by every relative time
/// and countdown on screen.
#[derive(Clone, Copy)]
pub struct Clock(RwSignal<f64>);

impl Clock {
    /// Starts the ticker and provides it as context.
    pub fn provide() {
        let now = RwSignal::new(now_ms());
        // The app lives as long as the page, so the interval is never cleared.
        let _ =
            set_interval_with_handle(move || now.set(now_ms()), std::time::Duration::from_secs(1));
        provide_context(Clock(now));
    }

    /// The clock from context.
    pub fn get() -> Clock {
        use_context::<Clock>().unwrap_or_else(|| Clock(RwSignal::new(now_ms())))
    }

    /// Server "now" in ms (tracked: re-renders every second).
    pub fn now(self) -> f64 {
        self.0.get()
    }

    /// "3 minutes ago" for an RFC 3339 timestamp (tracked).
    pub fn ago(self, rfc3339: &str) -> String {
        match parse_ms(rfc3339) {
            Some(then) => ago_words(((self.now() - then) / 1000.0) as i64),
            None => "unknown".to_owned(),
        }
    }

    /// Whole seconds until an RFC 3339 timestamp, 0 once it has passed (tracked).
    pub fn seconds_until(self, rfc3339: &str) -> u32 {
        parse_ms(rfc3339).map_or(0, |t| seconds_until(t, self.now()))
    }
}

/// Whole seconds from `now` until `target` (both ms), rounded up, 0 once passed.
pub fn seconds_until(target_ms: f64, now_ms: f64) -> u32 {
    let left = ((target_ms - now_ms) / 1000.0).ceil();
    if left <= 0.0 {
        0
    } else {
        left.min(f64::from(u32::MAX)) as u32
    }
}

/// How long ago something happened, `secs` seconds back, in words.
pub fn ago_words(secs: i64) -> String {
    const MINUTE: i64 = 60;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    // A slightly fast server clock must not produce "in 2 seconds" for a past event.
    let secs = secs.max(0);
    let (n, unit) = match secs {
        s if s < 10 => return "just now".to_owned(),
        s if s < MINUTE => return "less than a minute ago".to_owned(),
        s if s < HOUR => (s / MINUTE, "minute"),
        s if s < DAY => (s / HOUR, "hour"),
        s => (s / DAY, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// A wait in words: "45 seconds", "1 minute", "3 minutes".
pub fn duration_words(secs: u32) -> String {
    if secs < 60 {
        format!("{secs} second{}", if secs == 1 { "" } else { "s" })
    } else {
        let mins = secs.div_ceil(60);
        format!("{mins} minute{}", if mins == 1 { "" } else { "s" })
    }
}

/// A countdown for a button: "0:42", "12:05".
pub fn countdown(secs: u32) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}

/// A timestamp as a person reads it in their locale, e.g. "25 Nov 2025, 10:00".
pub fn local_datetime(rfc3339: &str) -> String {
    match parse_ms(rfc3339) {
        Some(ms) => {
            let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
            let options = js_sys::Object::new();
            for (key, value) in [("dateStyle", "medium"), ("timeStyle", "short")] {
                let _ = js_sys::Reflect::set(&options, &key.into(), &value.into());
            }
            String::from(date.to_locale_string("default", &options))
        }
        None => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_events_read_as_just_now() {
        assert_eq!(ago_words(0), "just now");
        assert_eq!(
            ago_words(-5),
            "just now",
            "a fast server clock is not the future"
        );
        assert_eq!(ago_words(30), "less than a minute ago");
    }

    #[test]
    fn older_events_use_the_largest_whole_unit() {
        assert_eq!(ago_words(60), "1 minute ago");
        assert_eq!(ago_words(3 * 60 + 59), "3 minutes ago");
        assert_eq!(ago_words(3600), "1 hour ago");
        assert_eq!(ago_words(5 * 86_400), "5 days ago");
    }

    #[test]
    fn countdown_rounds_up_and_stops_at_zero() {
        assert_eq!(seconds_until(10_000.0, 0.0), 10);
        assert_eq!(seconds_until(10_000.0, 9_001.0), 1);
        assert_eq!(seconds_until(10_000.0, 10_000.0), 0);
        assert_eq!(seconds_until(10_000.0, 20_000.0), 0);
        assert_eq!(countdown(42), "0:42");
        assert_eq!(countdown(725), "12:05");
    }

    #[test]
    fn waits_read_in_seconds_then_minutes() {
        assert_eq!(duration_words(1), "1 second");
        assert_eq!(duration_words(45), "45 seconds");
        assert_eq!(duration_words(60), "1 minute");
        assert_eq!(duration_words(61), "2 minutes");
    }
}
