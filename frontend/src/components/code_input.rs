//! The six-box verification code input: typing moves to the next box, Backspace to the
//! previous, and a pasted or auto-filled code (`autocomplete="one-time-code"`, or the
//! WebOTP API where the browser has it) is spread over the boxes. The boxes form one group
//! labelled "Verification code"; every box has `inputmode="numeric"`.

use leptos::{html, prelude::*};
use phonereg_types::validation::CODE_DIGITS;
use wasm_bindgen::JsCast;
use web_sys::AbortController;

use crate::webotp;

/// The digits typed so far; `None` is an empty box.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CodeDigits([Option<u8>; CODE_DIGITS]);

impl CodeDigits {
    /// The digits typed so far, empty boxes skipped.
    pub fn typed(&self) -> String {
        self.0
            .iter()
            .flatten()
            .map(|d| char::from(b'0' + d))
            .collect()
    }

    /// The digit in box `i`, as text for the input.
    pub fn text(&self, i: usize) -> String {
        self.0
            .get(i)
            .copied()
            .flatten()
            .map(|d| char::from(b'0' + d).to_string())
            .unwrap_or_default()
    }

    /// Box `i` now reads `text` (one typed key, or a whole code from paste/autofill);
    /// non-digits are dropped. Returns the box to focus next.
    pub fn enter(&mut self, i: usize, text: &str) -> usize {
        let digits: Vec<u8> = text
            .chars()
            .filter_map(|c| c.to_digit(10).and_then(|d| u8::try_from(d).ok()))
            .collect();
        match digits.as_slice() {
            [] => {
                if let Some(slot) = self.0.get_mut(i) {
                    *slot = None;
                }
                i
            }
            // One key typed into a box that already held a digit: the box keeps the new one.
            [.., last] if digits.len() == 2 && self.0.get(i).copied().flatten().is_some() => {
                self.put(i, *last)
            }
            [d] => self.put(i, *d),
            many => {
                // A whole code fills the boxes from the first one.
                let start = if many.len() >= CODE_DIGITS { 0 } else { i };
                let mut next = start;
                for (offset, d) in many
                    .iter()
                    .enumerate()
                    .take(CODE_DIGITS - start.min(CODE_DIGITS))
                {
                    next = self.put(start + offset, *d);
                }
                next
            }
        }
    }

    fn put(&mut self, i: usize, digit: u8) -> usize {
        if let Some(slot) = self.0.get_mut(i) {
            *slot = Some(digit);
        }
        (i + 1).min(CODE_DIGITS - 1)
    }

    /// Backspace in box `i`: clears it, or the previous box when it was already empty.
    /// Returns the box to focus.
    pub fn backspace(&mut self, i: usize) -> usize {
        match self.0.get(i).copied().flatten() {
            Some(_) => {
                self.0[i] = None;
                i
            }
            None if i > 0 => {
                self.0[i - 1] = None;
                i - 1
            }
            None => 0,
        }
    }
}

/// Six single-digit inputs. `focus_first` moves focus to the first box whenever it changes.
#[component]
pub fn CodeInput(
    digits: RwSignal<CodeDigits>,
    #[prop(into)] disabled: Signal<bool>,
    #[prop(into)] invalid: Signal<bool>,
    /// Id of the element that explains the code's state (attempts, errors).
    described_by: &'static str,
    #[prop(optional, into)] focus_first: Signal<u32>,
    /// Focus the first box as soon as it is on screen.
    #[prop(optional)]
    autofocus: bool,
    /// Submit the form when WebOTP fills the code (when nothing else in it needs typing).
    #[prop(optional)]
    autosubmit: bool,
) -> impl IntoView {
    let boxes: Boxes = std::array::from_fn(|_| NodeRef::new());
    fill_from_the_sms(digits, boxes[0], autosubmit, disabled);
    // Returns the request last acted on; `None` until the first box exists.
    Effect::new(move |applied: Option<Option<u32>>| {
        let n = focus_first.get();
        let applied = applied.flatten();
        boxes[0].get()?;
        if applied.map_or(autofocus, |a| a != n) {
            focus_box(boxes, 0);
        }
        Some(n)
    });

    let inputs = (0..CODE_DIGITS)
        .map(|i| view! { <CodeBox i digits boxes disabled invalid described_by /> })
        .collect_view();

    view! {
        <fieldset class="code-input">
            <legend>"Verification code"</legend>
            <div class="code-boxes">{inputs}</div>
        </fieldset>
    }
}

/// The boxes' inputs, first to last.
type Boxes = [NodeRef<html::Input>; CODE_DIGITS];

fn focus_box(boxes: Boxes, i: usize) {
    if let Some(input) = boxes.get(i).and_then(|b| b.get()) {
        let _ = input.focus();
        input.select();
    }
}

/// The code of the SMS, read by the browser: fill the boxes, and send it when the form
/// needs nothing more. The request ends with the input.
fn fill_from_the_sms(
    digits: RwSignal<CodeDigits>,
    first_box: NodeRef<html::Input>,
    autosubmit: bool,
    disabled: Signal<bool>,
) {
    let otp = StoredValue::new_local(None::<AbortController>);
    otp.set_value(webotp::listen(move |code| {
        digits.update(|d| {
            d.enter(0, &code);
        });
        let form = first_box.get_untracked().and_then(|b| b.form());
        if autosubmit
            && !disabled.get_untracked()
            && let Some(form) = form
        {
            let _ = form.request_submit();
        }
    }));
    on_cleanup(move || {
        if let Some(controller) = otp.try_update_value(Option::take).flatten() {
            controller.abort();
        }
    });
}

/// Box `i`: a typed digit moves on, Backspace and the arrows move back and forth, a
/// paste spreads over the boxes.
#[component]
fn CodeBox(
    i: usize,
    digits: RwSignal<CodeDigits>,
    boxes: Boxes,
    disabled: Signal<bool>,
    invalid: Signal<bool>,
    described_by: &'static str,
) -> impl IntoView {
    let label = if i == 0 {
        format!("Verification code digit 1 of {CODE_DIGITS}")
    } else {
        format!("Digit {} of {CODE_DIGITS}", i + 1)
    };
    let focus = move |n: usize| focus_box(boxes, n);
    let on_paste = move |ev: web_sys::ClipboardEvent| {
        let text = ev
            .clipboard_data()
            .and_then(|d| d.get_data("text").ok())
            .unwrap_or_default();
        ev.prevent_default();
        let mut next = i;
        digits.update(|d| next = d.enter(i, &text));
        focus(next);
    };
    view! {
        <input
            class="code-box"
            type="text"
            inputmode="numeric"
            pattern="[0-9]*"
            maxlength=if i == 0 { CODE_DIGITS } else { 2 }
            autocomplete=if i == 0 { "one-time-code" } else { "off" }
            aria-label=label
            aria-describedby=described_by
            aria-invalid=move || if invalid.get() { "true" } else { "false" }
            prop:value=move || digits.with(|d| d.text(i))
            prop:disabled=move || disabled.get()
            on:input=move |ev| {
                let text = event_target_value(&ev);
                let mut next = i;
                digits.update(|d| next = d.enter(i, &text));
                // Keep the box showing what the state holds (e.g. a letter was dropped).
                if let Some(target) = input_of(&ev) {
                    target.set_value(&digits.with_untracked(|d| d.text(i)));
                }
                if next != i {
                    focus(next);
                }
            }
            on:keydown=move |ev| match ev.key().as_str() {
                "Backspace" => {
                    ev.prevent_default();
                    let mut next = i;
                    digits.update(|d| next = d.backspace(i));
                    focus(next);
                }
                "ArrowLeft" if i > 0 => {
                    ev.prevent_default();
                    focus(i - 1);
                }
                "ArrowRight" if i + 1 < CODE_DIGITS => {
                    ev.prevent_default();
                    focus(i + 1);
                }
                _ => {}
            }
            on:paste=on_paste
            on:focus=move |ev| {
                if let Some(target) = input_of(&ev) {
                    target.select();
                }
            }
            node_ref=boxes[i]
        />
    }
}

/// The input an event happened on.
fn input_of(ev: &web_sys::Event) -> Option<web_sys::HtmlInputElement> {
    ev.target().and_then(|t| t.dyn_into().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(keys: &str) -> CodeDigits {
        let mut d = CodeDigits::default();
        let mut at = 0;
        for k in keys.chars() {
            at = d.enter(at, &k.to_string());
        }
        d
    }

    #[test]
    fn typing_advances_box_by_box() {
        assert_eq!(typed("123456").typed(), "123456");
        assert_eq!(
            typed("1234567").typed(),
            "123457",
            "the last box takes the last key"
        );
    }

    #[test]
    fn an_incomplete_code_reads_as_what_was_typed() {
        let d = typed("12");
        assert_eq!(d.typed(), "12");
    }

    #[test]
    fn letters_are_ignored() {
        let mut d = CodeDigits::default();
        assert_eq!(d.enter(0, "a"), 0);
        assert_eq!(d.text(0), "");
    }

    #[test]
    fn a_pasted_code_fills_every_box_from_the_first() {
        let mut d = CodeDigits::default();
        assert_eq!(d.enter(3, "98 76 54"), CODE_DIGITS - 1);
        assert_eq!(d.typed(), "987654");
    }

    #[test]
    fn a_partial_paste_fills_from_the_box_it_landed_in() {
        let mut d = typed("12");
        assert_eq!(d.enter(2, "345"), 5);
        assert_eq!(d.text(4), "5");
        assert_eq!(d.typed(), "12345");
    }

    #[test]
    fn typing_over_a_digit_replaces_it() {
        let mut d = typed("123456");
        d.enter(2, "37");
        assert_eq!(d.typed(), "127456");
    }

    #[test]
    fn backspace_clears_then_moves_back() {
        let mut d = typed("12");
        assert_eq!(d.backspace(2), 1, "empty box: clear the previous one");
        assert_eq!(d.text(1), "");
        assert_eq!(d.backspace(0), 0);
        assert_eq!(d.text(0), "");
    }
}
