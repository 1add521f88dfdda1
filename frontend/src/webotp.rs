//! The WebOTP API: where the browser has it (`OTPCredential`), a code step asks it for the
//! code of the SMS that arrives (the text's last line is `@host #code`, SPEC §8) and the
//! boxes fill themselves. Elsewhere nothing happens and `autocomplete="one-time-code"`
//! (keyboard suggestions on iOS and Android) is the way in.

use js_sys::{Array, Object, Reflect};
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, CredentialRequestOptions};

/// Whether this browser has the WebOTP API (feature detection, as the spec advises).
fn supported() -> bool {
    Reflect::has(&js_sys::global(), &JsValue::from_str("OTPCredential")).unwrap_or(false)
}

/// Asks the browser for SMS codes until the returned controller is aborted, handing each
/// one to `on_code`. `None` where the browser has no WebOTP. The caller aborts when its
/// code step goes, so no request outlives the screen it would fill.
pub fn listen(on_code: impl Fn(String) + 'static) -> Option<AbortController> {
    if !supported() {
        return None;
    }
    let controller = AbortController::new().ok()?;
    let signal = controller.signal();
    spawn_local(async move {
        // One request brings one code; a resend brings another, so ask again after each.
        // A refusal (aborted, denied, no SMS support on this device) ends the loop.
        while !signal.aborted() {
            match request(&signal).await {
                Some(code) => on_code(code),
                None => break,
            }
        }
    });
    Some(controller)
}

/// `navigator.credentials.get({otp: {transport: ["sms"]}, signal})` and the code it gives.
async fn request(signal: &AbortSignal) -> Option<String> {
    let otp = Object::new();
    Reflect::set(&otp, &"transport".into(), &Array::of1(&"sms".into())).ok()?;
    let options = Object::new();
    Reflect::set(&options, &"otp".into(), &otp).ok()?;
    Reflect::set(&options, &"signal".into(), signal).ok()?;
    let promise = web_sys::window()?
        .navigator()
        .credentials()
        .get_with_options(options.unchecked_ref::<CredentialRequestOptions>())
        .ok()?;
    let credential = JsFuture::from(promise).await.ok()?;
    Reflect::get(&credential, &"code".into()).ok()?.as_string()
}
