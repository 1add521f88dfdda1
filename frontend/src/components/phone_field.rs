//! A phone number input with its country picker and the server's as-you-type verdict.

use leptos::prelude::*;
use phonereg_types::NumberType;

use crate::{api::ApiError, components::field::sentence, lookup::Lookup};

/// Countries offered in the picker: ISO alpha-2, name, calling code. A short static list
/// (the server's parser knows every region; a number typed with `+` ignores the picker).
pub const COUNTRIES: &[(&str, &str, &str)] = &[
    ("AR", "Argentina", "+54"),
    ("AU", "Australia", "+61"),
    ("AT", "Austria", "+43"),
    ("BE", "Belgium", "+32"),
    ("BR", "Brazil", "+55"),
    ("CA", "Canada", "+1"),
    ("CL", "Chile", "+56"),
    ("CN", "China", "+86"),
    ("CO", "Colombia", "+57"),
    ("CZ", "Czechia", "+420"),
    ("DK", "Denmark", "+45"),
    ("EG", "Egypt", "+20"),
    ("FI", "Finland", "+358"),
    ("FR", "France", "+33"),
    ("DE", "Germany", "+49"),
    ("GR", "Greece", "+30"),
    ("HK", "Hong Kong", "+852"),
    ("IN", "India", "+91"),
    ("ID", "Indonesia", "+62"),
    ("IE", "Ireland", "+353"),
    ("IL", "Israel", "+972"),
    ("IT", "Italy", "+39"),
    ("JP", "Japan", "+81"),
    ("KE", "Kenya", "+254"),
    ("MY", "Malaysia", "+60"),
    ("MX", "Mexico", "+52"),
    ("NL", "Netherlands", "+31"),
    ("NZ", "New Zealand", "+64"),
    ("NG", "Nigeria", "+234"),
    ("NO", "Norway", "+47"),
    ("PK", "Pakistan", "+92"),
    ("PE", "Peru", "+51"),
    ("PH", "Philippines", "+63"),
    ("PL", "Poland", "+48"),
    ("PT", "Portugal", "+351"),
    ("RO", "Romania", "+40"),
    ("SA", "Saudi Arabia", "+966"),
    ("SG", "Singapore", "+65"),
    ("ZA", "South Africa", "+27"),
    ("KR", "South Korea", "+82"),
    ("ES", "Spain", "+34"),
    ("SE", "Sweden", "+46"),
    ("CH", "Switzerland", "+41"),
    ("TW", "Taiwan", "+886"),
    ("TH", "Thailand", "+66"),
    ("TR", "Türkiye", "+90"),
    ("UA", "Ukraine", "+380"),
    ("AE", "United Arab Emirates", "+971"),
    ("GB", "United Kingdom", "+44"),
    ("US", "United States", "+1"),
    ("VN", "Vietnam", "+84"),
];

/// The picker's starting country, matching the server's default `DEFAULT_REGION`.
pub const DEFAULT_COUNTRY: &str = "US";

/// The hint under the label when the form has nothing more to say about the number.
pub const PHONE_HINT: &str = "Pick the country, or type the number with its + country code.";

/// Country select + number input + live feedback.
#[component]
pub fn PhoneField(
    /// Id of the number input (the select gets `{id}-country`).
    id: &'static str,
    label: &'static str,
    number: RwSignal<String>,
    region: RwSignal<String>,
    #[prop(into)] lookup: Signal<Lookup>,
    /// The error to show (client rule, lookup verdict or server).
    #[prop(into)]
    error: Signal<Option<String>>,
    #[prop(optional, into)] disabled: Signal<bool>,
    /// Called when the number input loses focus.
    #[prop(optional, into)]
    on_blur: Option<Callback<()>>,
    /// Called on every keystroke or country change (to clear stale server errors).
    #[prop(optional, into)]
    on_change: Option<Callback<()>>,
    #[prop(default = PHONE_HINT)] hint: &'static str,
    #[prop(optional)] node_ref: NodeRef<leptos::html::Input>,
) -> impl IntoView {
    let status_id = format!("{id}-status");
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = format!("{hint_id} {status_id} {error_id}");
    let invalid = move || error.with(Option::is_some);
    let changed = move || {
        if let Some(cb) = on_change {
            cb.run(());
        }
    };
    picker_follows_the_number(number, region, lookup);

    view! {
        <div class="field" class:field-invalid=invalid>
            <label for=id>{label}</label>
            <p class="hint" id=hint_id>{hint}</p>
            <div class="phone-row">
                <CountryPicker id=format!("{id}-country") region disabled on_change=changed />
                <input
                    id=id
                    name=id
                    type="tel"
                    inputmode="tel"
                    autocomplete="tel"
                    aria-invalid=move || if invalid() { "true" } else { "false" }
                    aria-describedby=described_by
                    prop:value=move || number.get()
                    prop:disabled=move || disabled.get()
                    on:input=move |ev| {
                        number.set(event_target_value(&ev));
                        changed();
                    }
                    on:blur=move |_| {
                        if let Some(cb) = on_blur {
                            cb.run(());
                        }
                    }
                    node_ref=node_ref
                />
            </div>
            <p class="field-status" id=status_id aria-live="polite"><LookupStatus lookup /></p>
            <p class="field-error" id=error_id aria-live="polite">{move || error.get()}</p>
        </div>
    }
}

/// A number typed with its country code tells us the country: keep the picker in step.
fn picker_follows_the_number(
    number: RwSignal<String>,
    region: RwSignal<String>,
    lookup: Signal<Lookup>,
) {
    Effect::new(move |_| {
        if let Lookup::Done(parsed) = lookup.get()
            && let Some(country) = number.with_untracked(|n| {
                region.with_untracked(|r| picker_follows(n, r, parsed.country.as_deref()))
            })
        {
            region.set(country);
        }
    });
}

/// The country select of [`PhoneField`].
#[component]
fn CountryPicker(
    id: String,
    region: RwSignal<String>,
    disabled: Signal<bool>,
    on_change: impl Fn() + 'static,
) -> impl IntoView {
    let options = COUNTRIES
        .iter()
        .map(|(code, name, dial)| {
            let code = *code;
            view! {
                <option value=code prop:selected=move || region.get() == code>
                    // Code first: a narrow (360 px) picker still shows "GB +44 …".
                    {format!("{code} {dial} · {name}")}
                </option>
            }
        })
        .collect_view();
    view! {
        <select
            id=id
            aria-label="Country"
            prop:value=move || region.get()
            prop:disabled=move || disabled.get()
            on:change=move |ev| {
                region.set(event_target_value(&ev));
                on_change();
            }
        >
            {options}
        </select>
    }
}

/// The server's verdict on the number as it is typed: checking, its kind and
/// international form when it can take texts, or why it could not be checked.
#[component]
fn LookupStatus(lookup: Signal<Lookup>) -> impl IntoView {
    move || match lookup.get() {
        Lookup::Checking => {
            Some(view! { <span class="muted">"Checking the number…"</span> }.into_any())
        }
        Lookup::Done(p) if p.valid && p.sms_capable => {
            let kind = p
                .number_type
                .map(number_type_words)
                .unwrap_or("Phone number");
            let shown = p.international.unwrap_or_default();
            Some(
                view! {
                    <span class="ok">
                        <span aria-hidden="true">"✓ "</span>
                        {kind}
                        ": "
                        {shown}
                    </span>
                }
                .into_any(),
            )
        }
        Lookup::Unavailable(message) if !message.is_empty() => {
            Some(view! { <span class="muted">{message}</span> }.into_any())
        }
        _ => None,
    }
}

/// The message a refused number gets next to the phone field: a 422 on `phone_number` or
/// `phone_region`, or texts to its range paused by the fraud guard (SPEC §9).
pub fn phone_error(e: &ApiError) -> Option<String> {
    let fields = e.field_errors();
    fields
        .get("phone_number")
        .or_else(|| fields.get("phone_region"))
        .and_then(|m| m.first())
        .map(|m| sentence(m))
        .or_else(|| e.is_range_paused().then(|| e.message()))
}

/// The country the picker should switch to after the server's verdict, if any. Only a
/// number typed with `+` names its country (the server then ignores the picker); a
/// national number was read in the picked country, so the picker stays (issue #13: a
/// Brazilian mobile typed as `(11) 96123-4567` with BR picked stays BR).
pub fn picker_follows(number: &str, picked: &str, parsed_country: Option<&str>) -> Option<String> {
    let country = parsed_country?;
    (number.trim_start().starts_with('+')
        && picked != country
        && COUNTRIES.iter().any(|(code, _, _)| *code == country))
    .then(|| country.to_owned())
}

/// `number_type` in words.
pub fn number_type_words(number_type: NumberType) -> &'static str {
    match number_type {
        NumberType::Mobile => "Mobile number",
        NumberType::FixedLine => "Landline",
        NumberType::FixedLineOrMobile => "Landline or mobile number",
        NumberType::Voip => "Internet (VoIP) number",
        NumberType::TollFree => "Toll-free number",
        NumberType::PremiumRate => "Premium-rate number",
        NumberType::SharedCost => "Shared-cost number",
        NumberType::PersonalNumber => "Personal number",
        NumberType::Pager => "Pager",
        NumberType::Uan => "Company number",
        NumberType::Voicemail => "Voicemail number",
        NumberType::Unknown => "Phone number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picker_follows_a_plus_number_only() {
        // A Brazilian mobile in national form with BR picked: the server read it in BR.
        assert_eq!(picker_follows("(11) 96123-4567", "BR", Some("BR")), None);
        // The same typed with +55 while the picker still says US: the picker moves.
        assert_eq!(
            picker_follows(" +55 11 96123-4567", "US", Some("BR")).as_deref(),
            Some("BR")
        );
        // A national number never moves the picker, whatever the answer says.
        assert_eq!(picker_follows("11 96123-4567", "US", Some("BR")), None);
        // Countries the picker does not list, and invalid answers, leave it alone.
        assert_eq!(
            picker_follows("+229 01 90 01 12 34", "US", Some("BJ")),
            None
        );
        assert_eq!(picker_follows("+55 11", "US", None), None);
    }

    #[test]
    fn the_default_country_is_offered() {
        assert!(COUNTRIES.iter().any(|(c, _, _)| *c == DEFAULT_COUNTRY));
    }

    #[test]
    fn countries_are_unique_upper_case_alpha_2() {
        for (i, (code, _, dial)) in COUNTRIES.iter().enumerate() {
            assert!(
                code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase()),
                "{code}"
            );
            assert!(dial.starts_with('+'), "{code} {dial}");
            assert!(
                !COUNTRIES[..i].iter().any(|(c, _, _)| c == code),
                "{code} twice"
            );
        }
    }
}
