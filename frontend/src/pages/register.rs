//! `/register` — "Create your account": the registration form, then the SMS code step
//! when a phone was given (or a change of that number).

use leptos::prelude::*;
use leptos_router::{NavigateOptions, components::A, hooks::use_navigate};
use phonereg_types::{Phone, Verification};

use crate::{
    pages::set_title,
    panels::{
        phone_form::{PhoneFormMode, PhoneNumberForm},
        register_form::RegisterForm,
        verification::VerificationStep,
    },
    paths::{Page, replace},
    session::{Status, use_session},
};

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
        Step::Details => view! { <DetailsStep on_registered go_dashboard /> }.into_any(),
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

/// The first step: the form, on its own card.
#[component]
fn DetailsStep(
    on_registered: Callback<(Phone, Option<Verification>)>,
    go_dashboard: Callback<()>,
) -> impl IntoView {
    view! {
        <main id="main" class="auth-page">
            <section class="card" aria-labelledby="register-title">
                <h1 id="register-title">"Create your account"</h1>
                <RegisterForm on_registered go_dashboard />
                <p class="switch">
                    "Already have an account? " <A href=Page::Login.path()>"Sign in"</A>
                </p>
            </section>
        </main>
    }
}
