//! The number field of the forms that text a code to a number (adding or replacing the
//! account's number, "Text me a code"): the number and its country, the server's
//! as-you-type verdict, and which error shows — the server's last refusal until the
//! number changes, else the client rule's or the verdict's once the field was left or
//! the form submitted.

use leptos::{html, prelude::*};
use phonereg_types::validation;

use crate::{
    components::{
        field::{focus, sentence},
        phone_field::{PHONE_HINT, PhoneField},
    },
    lookup::{Lookup, phone_lookup},
};

/// The number field's state; cheap to copy.
#[derive(Clone, Copy)]
pub struct PhoneEntry {
    number: RwSignal<String>,
    region: RwSignal<String>,
    lookup: ReadSignal<Lookup>,
    touched: RwSignal<bool>,
    /// The form's: set when it is submitted.
    submitted: RwSignal<bool>,
    server_error: RwSignal<Option<String>>,
    node_ref: NodeRef<html::Input>,
}

impl PhoneEntry {
    /// Looks `number` up in `region` as it is typed.
    pub fn new(
        number: RwSignal<String>,
        region: RwSignal<String>,
        submitted: RwSignal<bool>,
    ) -> Self {
        PhoneEntry {
            number,
            region,
            lookup: phone_lookup(number.into(), region.into()),
            touched: RwSignal::new(false),
            submitted,
            server_error: RwSignal::new(None),
            node_ref: NodeRef::new(),
        }
    }

    /// Why the typed number cannot be sent, by the client's rule or the server's verdict.
    fn client_error(self) -> Option<String> {
        self.number
            .with(|n| validation::check_phone_input(n).err().map(sentence))
            .or_else(|| self.lookup.with(Lookup::problem))
    }

    fn shown_error(self) -> Option<String> {
        self.server_error.get().or_else(|| {
            (self.touched.get() || self.submitted.get())
                .then(|| self.client_error())
                .flatten()
        })
    }

    /// On submit: whether the number may be sent; if not, the field takes focus.
    pub fn ready(self) -> bool {
        if self.client_error().is_some() || self.server_error.get_untracked().is_some() {
            focus(self.node_ref);
            return false;
        }
        true
    }

    /// The API refused the number: `message` under it, until it changes.
    pub fn refused(self, message: String) {
        self.server_error.set(Some(message));
        focus(self.node_ref);
    }

    /// The number as typed (trimmed) and the picked country.
    pub fn typed(self) -> (String, String) {
        (
            self.number.get_untracked().trim().to_owned(),
            self.region.get_untracked(),
        )
    }

    /// The number in international form, once the server has read it.
    pub fn international(self) -> Option<String> {
        self.lookup.with_untracked(|l| match l {
            Lookup::Done(p) => p.international.clone(),
            _ => None,
        })
    }

    /// Focuses the number as soon as it is on screen (the form opens on a click: continue
    /// there).
    pub fn focus_when_shown(self) {
        Effect::new(move |_| {
            if let Some(input) = self.node_ref.get() {
                let _ = input.focus();
            }
        });
    }
}

/// The [`PhoneField`] of a [`PhoneEntry`].
#[component]
pub fn PhoneEntryField(
    entry: PhoneEntry,
    id: &'static str,
    label: &'static str,
    #[prop(into)] disabled: Signal<bool>,
    #[prop(default = PHONE_HINT)] hint: &'static str,
) -> impl IntoView {
    view! {
        <PhoneField
            id
            label
            number=entry.number
            region=entry.region
            lookup=entry.lookup
            error=Signal::derive(move || entry.shown_error())
            disabled
            hint
            on_blur=Callback::new(move |_| entry.touched.set(true))
            on_change=Callback::new(move |_| entry.server_error.set(None))
            node_ref=entry.node_ref
        />
    }
}
