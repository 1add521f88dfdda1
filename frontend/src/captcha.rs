//! The bot challenge (SPEC §11): when the API answers 422 `captcha-required`, a dialog
//! shows the provider's widget and hands back its token, which the request is sent again
//! with. Turnstile, hCaptcha and reCAPTCHA share one JavaScript surface,
//! `<global>.render(element, {sitekey, callback})`, so one path serves all three; their
//! script is loaded only when a challenge is asked for, so visitors who never meet one
//! never download it.
//!
//! Built with the DOM rather than a component: the dialog belongs to no page (any
//! request that sends a code may be asked) and lives only until the token comes back.

use js_sys::{Function, Object, Promise, Reflect};
use phonereg_types::{CaptchaChallenge, CaptchaProvider};
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Document, Element, HtmlElement};

/// Each provider's script (explicit rendering: the widget appears where we put it) and
/// the global it defines.
fn script(provider: CaptchaProvider) -> (&'static str, &'static str) {
    match provider {
        CaptchaProvider::Turnstile => (
            "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit",
            "turnstile",
        ),
        CaptchaProvider::Hcaptcha => (
            "https://js.hcaptcha.com/1/api.js?render=explicit",
            "hcaptcha",
        ),
        CaptchaProvider::Recaptcha => (
            "https://www.google.com/recaptcha/api.js?render=explicit",
            "grecaptcha",
        ),
    }
}

/// Shows the challenge and waits for its token; None when the visitor closes the dialog
/// or the provider's script cannot load.
pub async fn solve(challenge: &CaptchaChallenge) -> Option<String> {
    let document = web_sys::window()?.document()?;
    let (src, global) = script(challenge.provider);
    let api = load(&document, src, global).await?;
    let dialog = Dialog::open(&document)?;
    let token = dialog.token(&api, &challenge.site_key).await;
    dialog.close();
    token
}

/// The provider's global object, loading its script first when it is not there yet.
async fn load(document: &Document, src: &str, global: &str) -> Option<JsValue> {
    let lookup = || {
        Reflect::get(&js_sys::global(), &global.into())
            .ok()
            .filter(|v| v.is_object())
    };
    if let Some(api) = lookup() {
        return Some(api);
    }
    let element = document.create_element("script").ok()?;
    element.set_attribute("src", src).ok()?;
    element.set_attribute("async", "").ok()?;
    let element: HtmlElement = element.dyn_into().ok()?;
    let loaded = Promise::new(&mut |resolve, reject| {
        element.set_onload(Some(&resolve));
        element.set_onerror(Some(&reject));
    });
    document.body()?.append_child(&element).ok()?;
    JsFuture::from(loaded).await.ok()?;
    lookup()
}

/// The modal dialog that holds the widget.
struct Dialog {
    overlay: Element,
    widget: Element,
    cancel: HtmlElement,
}

impl Dialog {
    fn open(document: &Document) -> Option<Self> {
        let overlay = document.create_element("div").ok()?;
        overlay.set_class_name("captcha-overlay");
        let panel = document.create_element("div").ok()?;
        panel.set_class_name("captcha-dialog");
        for (name, value) in [
            ("role", "dialog"),
            ("aria-modal", "true"),
            ("aria-labelledby", "captcha-title"),
            ("aria-describedby", "captcha-help"),
        ] {
            panel.set_attribute(name, value).ok()?;
        }
        let title = document.create_element("h2").ok()?;
        title.set_id("captcha-title");
        title.set_text_content(Some("One more step"));
        let help = document.create_element("p").ok()?;
        help.set_id("captcha-help");
        help.set_text_content(Some(
            "To keep text messages from being abused, please confirm you're a person. We'll send your code right after.",
        ));
        let widget = document.create_element("div").ok()?;
        widget.set_class_name("captcha-widget");
        let cancel: HtmlElement = document.create_element("button").ok()?.dyn_into().ok()?;
        cancel.set_attribute("type", "button").ok()?;
        cancel.set_class_name("btn");
        cancel.set_text_content(Some("Cancel"));
        for child in [&title, &help, &widget, cancel.as_ref()] {
            panel.append_child(child).ok()?;
        }
        overlay.append_child(&panel).ok()?;
        document.body()?.append_child(&overlay).ok()?;
        let _ = cancel.focus();
        Some(Self {
            overlay,
            widget,
            cancel,
        })
    }

    /// Renders the widget and waits for its callback (a token) or Cancel (None).
    async fn token(&self, api: &JsValue, site_key: &str) -> Option<String> {
        let render: Function = Reflect::get(api, &"render".into()).ok()?.dyn_into().ok()?;
        let mut settle: Option<Function> = None;
        let answered = Promise::new(&mut |resolve, _| settle = Some(resolve));
        let settle = settle?;
        // Handed to the JS garbage collector: a provider may call back late (a refreshed
        // token) and must find a live function, not a dropped closure.
        let on_token = {
            let settle = settle.clone();
            Closure::<dyn Fn(JsValue)>::new(move |token: JsValue| {
                let _ = settle.call1(&JsValue::NULL, &token);
            })
            .into_js_value()
        };
        let on_cancel = Closure::<dyn Fn()>::new(move || {
            let _ = settle.call1(&JsValue::NULL, &JsValue::NULL);
        })
        .into_js_value();
        self.cancel.set_onclick(Some(on_cancel.unchecked_ref()));
        let options = Object::new();
        Reflect::set(&options, &"sitekey".into(), &site_key.into()).ok()?;
        Reflect::set(&options, &"callback".into(), &on_token).ok()?;
        let id = render.call2(api, &self.widget, &options).ok()?;
        let token = JsFuture::from(answered).await.ok()?.as_string();
        // Turnstile and hCaptcha stop the widget's timers on `remove`; reCAPTCHA has none.
        if let Some(remove) = Reflect::get(api, &"remove".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
        {
            let _ = remove.call1(api, &id);
        }
        token.filter(|t| !t.is_empty())
    }

    fn close(self) {
        self.overlay.remove();
    }
}
