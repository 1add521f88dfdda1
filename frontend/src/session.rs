//! The signed-in session: the access token lives in memory only (never in storage a
//! script could read after an XSS), the refresh token is the API's HttpOnly cookie.
//! A reload therefore starts by calling `/auth/refresh` to get a new access token, when
//! the API's `phonereg_session` hint cookie says a refresh cookie may exist (a visitor
//! without a session would otherwise start with a 401 in the console).
//! Tokens are refreshed shortly before they expire and again on any 401, with one
//! refresh in flight at a time, because the API rotates refresh tokens.

use std::{cell::RefCell, future::Future, time::Duration};

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use leptos::{prelude::*, task::spawn_local};
use phonereg_types::{LastMessage, Phone, TokenResponse, User};
use wasm_bindgen::JsCast;

use crate::api::{self, ApiError};

/// Where the session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Asking the API whether the refresh cookie still holds a session (page load).
    Restoring,
    SignedIn,
    SignedOut,
}

type RefreshFuture = Shared<LocalBoxFuture<'static, Result<String, ApiError>>>;

thread_local! {
    /// The refresh in flight, shared by every caller that hit a 401 meanwhile.
    static REFRESHING: RefCell<Option<RefreshFuture>> = const { RefCell::new(None) };
}

/// Refresh this long before the access token expires.
const REFRESH_MARGIN_SECS: i64 = 60;

/// Session state shared through context; cheap to copy.
#[derive(Clone, Copy)]
pub struct Session {
    status: RwSignal<Status>,
    token: StoredValue<Option<String>>,
    user: RwSignal<Option<User>>,
    timer: StoredValue<Option<TimeoutHandle>>,
    /// Why the last session ended without the user asking (shown on the sign-in page).
    notice: RwSignal<Option<String>>,
}

impl Session {
    /// Creates the session, provides it as context and starts restoring it from the cookie.
    pub fn provide() -> Session {
        let session = Session {
            status: RwSignal::new(Status::Restoring),
            token: StoredValue::new(None),
            user: RwSignal::new(None),
            timer: StoredValue::new(None),
            notice: RwSignal::new(None),
        };
        provide_context(session);
        if has_session_hint() {
            spawn_local(async move {
                // Restoring is quiet: a dead cookie simply means signed out.
                if session.refresh_now().await.is_err() {
                    session.set_status(Status::SignedOut);
                }
            });
        } else {
            session.set_status(Status::SignedOut);
        }
        session
    }

    /// The tracked status.
    pub fn status(self) -> Status {
        self.status.get()
    }

    /// The signed-in user (tracked).
    pub fn user(self) -> Option<User> {
        self.user.get()
    }

    /// The signed-in user, without tracking (in tasks).
    pub fn user_untracked(self) -> Option<User> {
        self.user.get_untracked()
    }

    /// The account's phone number (tracked).
    pub fn phone(self) -> Option<Phone> {
        self.user.with(|u| u.as_ref().and_then(|u| u.phone.clone()))
    }

    /// The status, without tracking (in event handlers and tasks).
    pub fn status_untracked(self) -> Status {
        self.status.get_untracked()
    }

    /// Notes the new position of the two-step sign-in switch.
    pub fn set_two_factor(self, on: bool) {
        self.user.update(|u| {
            if let Some(u) = u {
                u.two_factor = on;
            }
        });
    }

    /// Notes how many unused recovery codes the account has (a new set, or two-step
    /// sign-in switched).
    pub fn set_recovery_codes_left(self, left: i64) {
        self.user.update(|u| {
            if let Some(u) = u {
                u.recovery_codes_left = left;
            }
        });
    }

    /// A message about the session ending on its own, once.
    pub fn notice(self) -> RwSignal<Option<String>> {
        self.notice
    }

    /// Starts a session from a register/login/refresh answer.
    pub fn sign_in(self, tokens: TokenResponse) {
        self.token.set_value(Some(tokens.access_token));
        self.user.set(Some(tokens.user));
        self.notice.set(None);
        self.set_status(Status::SignedIn);
        self.schedule_refresh(tokens.expires_in);
    }

    /// Ends the session here and at the API (the cookie's token family is revoked).
    pub async fn logout(self) {
        // Even if the API cannot be reached the user asked to be signed out.
        let _ = api::logout().await;
        self.end(None);
    }

    /// Ends the session here only, with a notice for the sign-in page: for when the API
    /// has already ended it (the account was deleted).
    pub fn end_with_notice(self, notice: &str) {
        self.end(Some(notice));
    }

    /// Fetches `/users/me` again (after missed live updates, or to pick up the phone).
    pub async fn reload_user(self) -> Result<(), ApiError> {
        let user = self.call(api::me).await?;
        self.user.set(Some(user));
        Ok(())
    }

    /// Whether the phone's last message may still change (not yet delivered or failed).
    pub fn message_in_flight(self) -> bool {
        self.user.with_untracked(|u| {
            u.as_ref()
                .and_then(|u| u.phone.as_ref())
                .and_then(|p| p.last_message.as_ref())
                .is_some_and(|m| !m.status.is_final())
        })
    }

    /// Replaces the phone record with a newer version. Its last message stays as it is
    /// here when that is further along: an answer (adding a number) can arrive after the
    /// live events of its own SMS, when the send was refused within milliseconds.
    pub fn apply_phone(self, mut phone: Phone) {
        self.user.update(|u| {
            if let Some(u) = u {
                let here = u.phone.take().filter(|p| p.id == phone.id);
                if let Some(kept) = here.and_then(|p| p.last_message)
                    && phone
                        .last_message
                        .as_ref()
                        .is_none_or(|m| further_along(&kept, m))
                {
                    phone.last_message = Some(kept);
                }
                u.phone = Some(phone);
            }
        });
    }

    /// Notes a delivery status change of the phone's last message.
    pub fn apply_message(self, phone_id: i64, message: LastMessage) {
        self.user.update(|u| {
            if let Some(phone) = u.as_mut().and_then(|u| u.phone.as_mut()) {
                let newer = phone
                    .last_message
                    .as_ref()
                    .is_none_or(|m| m.updated_at <= message.updated_at);
                if phone.id == phone_id && newer {
                    phone.last_message = Some(message);
                }
            }
        });
    }

    /// Forgets the phone record (after it was deleted).
    pub fn clear_phone(self) {
        self.user.update(|u| {
            if let Some(u) = u {
                u.phone = None;
            }
        });
    }

    /// Calls an endpoint that needs the bearer token. On 401 the token is refreshed once
    /// and the call repeated; if that fails the session ends and the guard sends the
    /// user to the sign-in page.
    pub async fn call<T, F, Fut>(self, f: F) -> Result<T, ApiError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        match f(self.token().await?).await {
            Err(e) if e.is_unauthorized() => {
                let token = self.refresh_now().await?;
                let result = f(token).await;
                if matches!(&result, Err(e) if e.is_unauthorized()) {
                    self.end(Some(SESSION_ENDED));
                }
                result
            }
            other => other,
        }
    }

    /// Like [`Session::call`], for an endpoint whose own answer can be 401 (a wrong
    /// password): the API uses the same 401 for a refused token, so `GET /users/me` with
    /// the same token tells them apart. Only a refused token refreshes and repeats the
    /// call (the endpoint never ran, so nothing was checked twice); a refused password
    /// comes back to the caller instead of ending the session.
    pub async fn call_with_password<T, F, Fut>(self, f: F) -> Result<T, ApiError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let token = self.token().await?;
        match f(token.clone()).await {
            // The API names a refused password (SPEC §10): no need to ask.
            Err(e) if e.is_wrong_password() => Err(e),
            Err(e) if e.is_unauthorized() => match api::me(token).await {
                Err(refused) if refused.is_unauthorized() => self.call(f).await,
                _ => Err(e),
            },
            other => other,
        }
    }

    /// The access token, refreshed first when there is none.
    async fn token(self) -> Result<String, ApiError> {
        match self.token.get_value() {
            Some(token) => Ok(token),
            None => self.refresh_now().await,
        }
    }

    /// Refreshes the access token, joining a refresh already in flight.
    async fn refresh_now(self) -> Result<String, ApiError> {
        let shared = REFRESHING.with(|slot| {
            slot.borrow_mut()
                .get_or_insert_with(|| self.refresh_once().boxed_local().shared())
                .clone()
        });
        let result = shared.clone().await;
        REFRESHING.with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.as_ref().is_some_and(|s| s.ptr_eq(&shared)) {
                *slot = None;
            }
        });
        result
    }

    async fn refresh_once(self) -> Result<String, ApiError> {
        let mut result = api::refresh().await;
        if matches!(&result, Err(e) if e.is_unauthorized())
            && self.status.get_untracked() == Status::SignedIn
        {
            // Another tab may have rotated the cookie a moment ago; its new token is in
            // the cookie jar now, so one more try is not a reuse.
            crate::time::sleep(800).await;
            result = api::refresh().await;
        }
        match result {
            Ok(tokens) => {
                let token = tokens.access_token.clone();
                self.sign_in(tokens);
                Ok(token)
            }
            Err(e) => {
                if e.is_unauthorized() {
                    // The session is gone (revoked, expired): next visits start signed
                    // out without asking.
                    clear_session_hint();
                    let was_signed_in = self.status.get_untracked() == Status::SignedIn;
                    self.end(was_signed_in.then_some(SESSION_ENDED));
                }
                Err(e)
            }
        }
    }

    fn schedule_refresh(self, expires_in: i64) {
        self.cancel_timer();
        let wait = (expires_in - REFRESH_MARGIN_SECS).max(10);
        let handle = set_timeout_with_handle(
            move || {
                spawn_local(async move {
                    let _ = self.refresh_now().await;
                });
            },
            Duration::from_secs(u64::try_from(wait).unwrap_or(10)),
        );
        self.timer.set_value(handle.ok());
    }

    fn cancel_timer(self) {
        if let Some(handle) = self.timer.try_update_value(Option::take).flatten() {
            handle.clear();
        }
    }

    fn end(self, notice: Option<&str>) {
        self.cancel_timer();
        self.token.set_value(None);
        self.user.set(None);
        self.notice.set(notice.map(str::to_owned));
        self.set_status(Status::SignedOut);
    }

    /// Notifies only on a real change: a token refresh must not re-render signed-in pages.
    fn set_status(self, status: Status) {
        if self.status.get_untracked() != status {
            self.status.set(status);
        }
    }
}

/// Set by the API beside the HttpOnly refresh cookie, with the same lifetime.
const SESSION_HINT: &str = "phonereg_session";

fn html_document() -> Option<web_sys::HtmlDocument> {
    document().dyn_into().ok()
}

/// Whether the API's hint cookie is there.
fn has_session_hint() -> bool {
    html_document()
        .and_then(|d| d.cookie().ok())
        .is_some_and(|cookies| {
            cookies.split(';').any(|c| {
                c.trim()
                    .split_once('=')
                    .is_some_and(|(name, _)| name == SESSION_HINT)
            })
        })
}

fn clear_session_hint() {
    if let Some(document) = html_document() {
        let _ = document.set_cookie(&format!(
            "{SESSION_HINT}=; Path=/; Max-Age=0; SameSite=Strict"
        ));
    }
}

const SESSION_ENDED: &str = "Your session has ended. Please sign in again.";

/// The session from context.
pub fn use_session() -> Session {
    expect_context::<Session>()
}

/// Whether `a` is a later report than `b` (a later time, or the same second and a later
/// stage: statuses only move forward).
fn further_along(a: &LastMessage, b: &LastMessage) -> bool {
    (a.updated_at.as_str(), a.status.stage()) > (b.updated_at.as_str(), b.status.stage())
}
