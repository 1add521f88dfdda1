//! The registration form: name, email, password (twice), optional phone with its country,
//! each checked as the user types with the API's own rules and messages
//! (`phonereg_types::validation`), then `POST /auth/register`; the API's refusals land
//! next to their fields.

use leptos::{ev::SubmitEvent, html, prelude::*};
use phonereg_types::{Phone, RegisterRequest, Verification, validation};

use crate::{
    api::{self, ApiError},
    components::{
        field::{FieldState, SubmitButton, TextField, confirm_error, sentence},
        phone_field::{DEFAULT_COUNTRY, PhoneField},
    },
    lookup::{Lookup, phone_lookup},
    session::use_session,
    task::Task,
};

/// A form field of the registration form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterField {
    FullName,
    Email,
    Password,
    Confirm,
    Phone,
}

/// The client-side verdict for one field's value (`None`: fine). The phone's own
/// verdict comes from the server's parser; only its length is checked here.
pub fn client_error(field: RegisterField, value: &str, password: &str) -> Option<String> {
    let message = match field {
        RegisterField::FullName => validation::parse_full_name(value).err(),
        RegisterField::Email => validation::check_email(value).err(),
        RegisterField::Password => validation::check_password(value).err(),
        RegisterField::Confirm => confirm_error(value, password),
        RegisterField::Phone if value.trim().is_empty() => None,
        RegisterField::Phone => validation::check_phone_input(value).err(),
    };
    message.map(sentence)
}

/// Which field a 422 `errors` key of `/auth/register` belongs to.
pub fn field_for(api_field: &str) -> Option<RegisterField> {
    match api_field {
        "full_name" => Some(RegisterField::FullName),
        "email" => Some(RegisterField::Email),
        "password" => Some(RegisterField::Password),
        "phone_number" | "phone_region" => Some(RegisterField::Phone),
        _ => None,
    }
}

/// Name, email, password (twice) and an optional phone; a new account with a phone goes
/// to `on_registered` (its code step), one without to the dashboard.
#[component]
pub fn RegisterForm(
    on_registered: Callback<(Phone, Option<Verification>)>,
    go_dashboard: Callback<()>,
) -> impl IntoView {
    let fields = RegisterFields::new();
    let form_error = RwSignal::new(None::<String>);
    let register = register_task(fields, form_error, on_registered, go_dashboard);
    let pending = register.pending();

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        fields.submitted.set(true);
        if ORDER.iter().any(|f| fields.invalid(*f)) {
            form_error.set(Some("Please correct the highlighted fields.".to_owned()));
            fields.focus_first_invalid();
            return;
        }
        form_error.set(None);
        register.dispatch(fields.request());
    };

    view! {
        <form on:submit=submit novalidate>
            <RegisterInputs fields pending />
            <p class="form-error" role="alert">{move || form_error.get()}</p>
            <SubmitButton pending=pending label="Create account" busy_label="Creating account…" class="btn btn-primary btn-block" />
        </form>
    }
}

/// The fields in the order they are on screen (the first invalid one takes focus).
const ORDER: [RegisterField; 5] = [
    RegisterField::FullName,
    RegisterField::Email,
    RegisterField::Password,
    RegisterField::Confirm,
    RegisterField::Phone,
];

/// The registration form's fields: their values, errors and inputs; cheap to copy.
#[derive(Clone, Copy)]
struct RegisterFields {
    full_name: FieldState,
    email: FieldState,
    password: FieldState,
    confirm: FieldState,
    phone: FieldState,
    region: RwSignal<String>,
    lookup: ReadSignal<Lookup>,
    submitted: RwSignal<bool>,
    /// The inputs, in [`ORDER`].
    refs: [NodeRef<html::Input>; 5],
}

impl RegisterFields {
    fn new() -> Self {
        let phone = FieldState::new();
        let region = RwSignal::new(DEFAULT_COUNTRY.to_owned());
        RegisterFields {
            full_name: FieldState::new(),
            email: FieldState::new(),
            password: FieldState::new(),
            confirm: FieldState::new(),
            phone,
            region,
            lookup: phone_lookup(phone.value.into(), region.into()),
            submitted: RwSignal::new(false),
            refs: std::array::from_fn(|_| NodeRef::new()),
        }
    }

    fn state(self, field: RegisterField) -> FieldState {
        match field {
            RegisterField::FullName => self.full_name,
            RegisterField::Email => self.email,
            RegisterField::Password => self.password,
            RegisterField::Confirm => self.confirm,
            RegisterField::Phone => self.phone,
        }
    }

    fn node_ref(self, field: RegisterField) -> NodeRef<html::Input> {
        self.refs[field as usize]
    }

    /// The client's verdict on the field; a typed phone also gets the server's lookup.
    fn client(self, field: RegisterField) -> Option<String> {
        let value = self.state(field).value.get();
        let own = self.password.value.with(|p| client_error(field, &value, p));
        match field {
            RegisterField::Phone if own.is_none() && !value.trim().is_empty() => {
                self.lookup.with(|l| l.problem())
            }
            _ => own,
        }
    }

    /// The error shown under the field.
    fn shown(self, field: RegisterField) -> Signal<Option<String>> {
        Signal::derive(move || {
            self.state(field)
                .shown_error(self.client(field), self.submitted.get())
        })
    }

    /// Whether the field has an error, shown or not yet.
    fn invalid(self, field: RegisterField) -> bool {
        self.state(field)
            .shown_error(self.client(field), true)
            .is_some()
    }

    fn focus_first_invalid(self) {
        let first = ORDER.iter().find(|f| self.invalid(**f));
        if let Some(input) = first.and_then(|f| self.node_ref(*f).get_untracked()) {
            let _ = input.focus();
        }
    }

    fn request(self) -> RegisterRequest {
        let number = self.phone.value.get_untracked().trim().to_owned();
        let has_phone = !number.is_empty();
        RegisterRequest {
            email: self.email.value.get_untracked(),
            password: self.password.value.get_untracked(),
            full_name: self.full_name.value.get_untracked(),
            phone_region: has_phone.then(|| self.region.get_untracked()),
            phone_number: has_phone.then_some(number),
            captcha_token: None,
        }
    }
}

/// `POST /auth/register`; with a phone, the code step comes next.
fn register_task(
    fields: RegisterFields,
    form_error: RwSignal<Option<String>>,
    on_registered: Callback<(Phone, Option<Verification>)>,
    go_dashboard: Callback<()>,
) -> Task<RegisterRequest> {
    let session = use_session();
    Task::new(move |body: &RegisterRequest| {
        let body = body.clone();
        async move {
            match api::register(&body).await {
                Ok(tokens) => {
                    let phone = tokens.user.phone.clone();
                    let verification = tokens.verification.clone();
                    match phone {
                        Some(phone) => {
                            // The code step must be on screen before the session exists, so the
                            // "already signed in" redirect does not fire.
                            on_registered.try_run((phone, verification));
                            session.sign_in(tokens);
                        }
                        None => {
                            session.sign_in(tokens);
                            go_dashboard.try_run(());
                        }
                    }
                }
                Err(e) => {
                    show_server_errors(&e, |f| fields.state(f), form_error);
                    fields.focus_first_invalid();
                }
            }
        }
    })
}

#[component]
fn RegisterInputs(fields: RegisterFields, pending: Signal<bool>) -> impl IntoView {
    let phone = fields.phone;
    view! {
        <TextField id="full-name" label="Full name" state=fields.full_name
            error=fields.shown(RegisterField::FullName) autocomplete="name"
            disabled=pending node_ref=fields.node_ref(RegisterField::FullName) />
        <TextField id="email" label="Email" state=fields.email input_type="email"
            error=fields.shown(RegisterField::Email) autocomplete="email"
            disabled=pending node_ref=fields.node_ref(RegisterField::Email) />
        <TextField id="password" label="Password" state=fields.password input_type="password"
            error=fields.shown(RegisterField::Password) autocomplete="new-password"
            hint="At least 8 characters." disabled=pending node_ref=fields.node_ref(RegisterField::Password) />
        <TextField id="confirm-password" label="Confirm password" state=fields.confirm
            input_type="password" error=fields.shown(RegisterField::Confirm)
            autocomplete="new-password" disabled=pending node_ref=fields.node_ref(RegisterField::Confirm) />
        <PhoneField
            id="phone"
            label="Phone (optional)"
            number=phone.value
            region=fields.region
            lookup=fields.lookup
            error=fields.shown(RegisterField::Phone)
            disabled=pending
            hint="We'll text you a code to verify it. Pick the country, or type the number with its + country code."
            on_blur=Callback::new(move |_| phone.touched.set(true))
            on_change=Callback::new(move |_| phone.server_error.set(None))
            node_ref=fields.node_ref(RegisterField::Phone)
        />
    }
}

/// Puts a failed registration's messages where they belong: 422 field errors and the
/// email conflict next to their fields, everything else above the button.
fn show_server_errors(
    e: &ApiError,
    state: impl Fn(RegisterField) -> FieldState,
    form_error: RwSignal<Option<String>>,
) {
    let mut unplaced = Vec::new();
    for (api_field, messages) in e.field_errors() {
        let message = messages.first().map(|m| sentence(m)).unwrap_or_default();
        match field_for(&api_field) {
            Some(field) => state(field).server_error.set(Some(message)),
            None => unplaced.push(message),
        }
    }
    // A number verified elsewhere is not refused here (SPEC §10: no oracle before the
    // code proves possession); the code step says so.
    let conflict_field = match e.problem() {
        Some(p) if p.status == 409 && p.detail.contains("email") => Some(RegisterField::Email),
        _ => None,
    };
    if let (Some(field), Some(p)) = (conflict_field, e.problem()) {
        state(field).server_error.set(Some(p.detail.clone()));
    }
    // Texts to this number's range are paused: say so, and when to retry, by the phone.
    let paused = e.is_range_paused();
    if paused {
        state(RegisterField::Phone)
            .server_error
            .set(Some(e.message()));
    }
    // A 422 without field errors (the bot check was closed, SPEC §11) highlights nothing.
    let fields_placed = unplaced.is_empty() && !e.field_errors().is_empty();
    let placed = conflict_field.is_some() || paused || (fields_placed && e.status() == Some(422));
    form_error.set(Some(if placed {
        "Please correct the highlighted fields.".to_owned()
    } else if unplaced.is_empty() {
        e.message()
    } else {
        unplaced.join(" ")
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_the_api_rules_and_messages() {
        assert_eq!(
            client_error(RegisterField::Email, "ann", ""),
            Some("Must be an email address like name@example.com.".to_owned())
        );
        assert_eq!(
            client_error(RegisterField::Email, " Ann@Example.com ", ""),
            None
        );
        assert_eq!(
            client_error(RegisterField::Password, "short", ""),
            Some("Must be at least 8 characters.".to_owned())
        );
        assert_eq!(
            client_error(RegisterField::FullName, "   ", ""),
            Some("Must not be empty.".to_owned())
        );
    }

    #[test]
    fn confirmation_must_match_the_password() {
        assert!(client_error(RegisterField::Confirm, "secret-1", "secret-2").is_some());
        assert!(client_error(RegisterField::Confirm, "", "secret-1").is_some());
        assert_eq!(
            client_error(RegisterField::Confirm, "secret-1", "secret-1"),
            None
        );
    }

    #[test]
    fn phone_is_optional() {
        assert_eq!(client_error(RegisterField::Phone, "  ", ""), None);
        assert!(client_error(RegisterField::Phone, &"1".repeat(65), "").is_some());
    }

    #[test]
    fn api_field_names_map_to_form_fields() {
        assert_eq!(field_for("phone_region"), Some(RegisterField::Phone));
        assert_eq!(field_for("email"), Some(RegisterField::Email));
        assert_eq!(field_for("code"), None);
    }
}
