//! `/register` — RegisterForm: name, email, password (twice), optional phone with its
//! country, each checked as the user types with the API's own rules and messages
//! (`phonereg_types::validation`); then the SMS code step when a phone was given.

use leptos::{html, prelude::*};
use leptos_router::{NavigateOptions, components::A, hooks::use_navigate};
use phonereg_types::{Phone, RegisterRequest, Verification, validation};

use crate::{
    api::{self, ApiError},
    components::{
        field::{FieldState, SubmitButton, TextField, confirm_error, sentence},
        phone_field::{DEFAULT_COUNTRY, PhoneField},
    },
    lookup::phone_lookup,
    pages::set_title,
    panels::{
        phone_form::{PhoneFormMode, PhoneNumberForm},
        verification::VerificationStep,
    },
    paths::{Page, replace},
    session::{Status, use_session},
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

/// Which step of signing up is on screen.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Details,
    Code {
        phone: Phone,
        verification: Option<Verification>,
    },
    ChangeNumber {
        phone: Phone,
    },
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    set_title("Create your account");
    let session = use_session();
    let step = RwSignal::new(Step::Details);

    // Someone already signed in (e.g. after a reload mid-signup) belongs on the dashboard,
    // where an unverified number is offered for verification again.
    let navigate = use_navigate();
    let redirect = navigate.clone();
    Effect::new(move |_| {
        if session.status() == Status::SignedIn && step.with_untracked(|s| *s == Step::Details) {
            redirect(Page::Dashboard.path(), replace());
        }
    });

    let go_dashboard = Callback::new(move |_: ()| {
        navigate(Page::Dashboard.path(), NavigateOptions::default());
    });

    let on_registered = Callback::new(
        move |(phone, verification): (Phone, Option<Verification>)| {
            step.set(Step::Code {
                phone,
                verification,
            });
        },
    );

    move || match step.get() {
        Step::Details => view! { <RegisterForm on_registered go_dashboard /> }.into_any(),
        Step::Code {
            phone,
            verification,
        } => {
            let current = phone.clone();
            view! {
                <main id="main" class="auth-page">
                    <p class="step-label">"Step 2 of 2"</p>
                    <VerificationStep
                        phone
                        initial=verification
                        on_verified=Callback::new(move |_| go_dashboard.run(()))
                        on_change_number=Callback::new(move |_| step.set(Step::ChangeNumber { phone: current.clone() }))
                        dismiss_label="Skip for now"
                        on_dismiss=go_dashboard
                    />
                </main>
            }
            .into_any()
        }
        Step::ChangeNumber { phone } => {
            let back = phone.clone();
            view! {
                <main id="main" class="auth-page">
                    <section class="card" aria-labelledby="change-title">
                        <h2 id="change-title">"Change your phone number"</h2>
                        <p>"We'll send a new code to the new number."</p>
                        <PhoneNumberForm
                            mode=PhoneFormMode::Replace(phone.id)
                            initial_region=phone.country.clone()
                            on_saved=Callback::new(move |p: Phone| {
                                let verification = p.verification.clone();
                                step.set(Step::Code { phone: p, verification });
                            })
                            on_cancel=Callback::new(move |_| step.set(Step::Code { phone: back.clone(), verification: None }))
                        />
                    </section>
                </main>
            }
            .into_any()
        }
    }
}

#[component]
fn RegisterForm(
    on_registered: Callback<(Phone, Option<Verification>)>,
    go_dashboard: Callback<()>,
) -> impl IntoView {
    let session = use_session();
    let full_name = FieldState::new();
    let email = FieldState::new();
    let password = FieldState::new();
    let confirm = FieldState::new();
    let phone = FieldState::new();
    let region = RwSignal::new(DEFAULT_COUNTRY.to_owned());
    let lookup = phone_lookup(phone.value.into(), region.into());
    let submitted = RwSignal::new(false);
    let form_error = RwSignal::new(None::<String>);
    let refs: [NodeRef<html::Input>; 5] = std::array::from_fn(|_| NodeRef::new());

    let state = move |field: RegisterField| match field {
        RegisterField::FullName => full_name,
        RegisterField::Email => email,
        RegisterField::Password => password,
        RegisterField::Confirm => confirm,
        RegisterField::Phone => phone,
    };
    let client = move |field: RegisterField| {
        let value = state(field).value.get();
        let own = password.value.with(|p| client_error(field, &value, p));
        match field {
            RegisterField::Phone if own.is_none() && !value.trim().is_empty() => {
                lookup.with(|l| l.problem())
            }
            _ => own,
        }
    };
    let shown = move |field: RegisterField| {
        Signal::derive(move || state(field).shown_error(client(field), submitted.get()))
    };
    const ORDER: [RegisterField; 5] = [
        RegisterField::FullName,
        RegisterField::Email,
        RegisterField::Password,
        RegisterField::Confirm,
        RegisterField::Phone,
    ];
    let focus_first_invalid = move || {
        let first = ORDER
            .iter()
            .position(|f| state(*f).shown_error(client(*f), true).is_some());
        if let Some(input) = first.and_then(|i| refs[i].get_untracked()) {
            let _ = input.focus();
        }
    };

    let register = Task::new(move |body: &RegisterRequest| {
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
                Err(e) => show_server_errors(&e, state, form_error, focus_first_invalid),
            }
        }
    });
    let pending = register.pending();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        submitted.set(true);
        let invalid = ORDER
            .iter()
            .any(|f| state(*f).shown_error(client(*f), true).is_some());
        if invalid {
            form_error.set(Some("Please correct the highlighted fields.".to_owned()));
            focus_first_invalid();
            return;
        }
        form_error.set(None);
        let number = phone.value.get_untracked().trim().to_owned();
        let has_phone = !number.is_empty();
        register.dispatch(RegisterRequest {
            email: email.value.get_untracked(),
            password: password.value.get_untracked(),
            full_name: full_name.value.get_untracked(),
            phone_region: has_phone.then(|| region.get_untracked()),
            phone_number: has_phone.then_some(number),
            captcha_token: None,
        });
    };

    view! {
        <main id="main" class="auth-page">
            <section class="card" aria-labelledby="register-title">
                <h1 id="register-title">"Create your account"</h1>
                <form on:submit=submit novalidate>
                    <TextField id="full-name" label="Full name" state=full_name
                        error=shown(RegisterField::FullName) autocomplete="name"
                        disabled=pending node_ref=refs[0] />
                    <TextField id="email" label="Email" state=email input_type="email"
                        error=shown(RegisterField::Email) autocomplete="email"
                        disabled=pending node_ref=refs[1] />
                    <TextField id="password" label="Password" state=password input_type="password"
                        error=shown(RegisterField::Password) autocomplete="new-password"
                        hint="At least 8 characters." disabled=pending node_ref=refs[2] />
                    <TextField id="confirm-password" label="Confirm password" state=confirm
                        input_type="password" error=shown(RegisterField::Confirm)
                        autocomplete="new-password" disabled=pending node_ref=refs[3] />
                    <PhoneField
                        id="phone"
                        label="Phone (optional)"
                        number=phone.value
                        region
                        lookup
                        error=shown(RegisterField::Phone)
                        disabled=pending
                        hint="We'll text you a code to verify it. Pick the country, or type the number with its + country code."
                        on_blur=Callback::new(move |_| phone.touched.set(true))
                        on_change=Callback::new(move |_| phone.server_error.set(None))
                        node_ref=refs[4]
                    />
                    <p class="form-error" role="alert">{move || form_error.get()}</p>
                    <SubmitButton pending=pending label="Create account" busy_label="Creating account…" class="btn btn-primary btn-block" />
                </form>
                <p class="switch">
                    "Already have an account? " <A href=Page::Login.path()>"Sign in"</A>
                </p>
            </section>
        </main>
    }
}

/// Puts a failed registration's messages where they belong: 422 field errors and the
/// email conflict next to their fields, everything else above the button.
fn show_server_errors(
    e: &ApiError,
    state: impl Fn(RegisterField) -> FieldState,
    form_error: RwSignal<Option<String>>,
    focus_first_invalid: impl Fn(),
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
    focus_first_invalid();
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
