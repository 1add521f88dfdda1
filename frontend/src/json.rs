//! JSON to and from the `phonereg_types` DTOs through the browser's own `JSON`, field by
//! field. serde's generated visitors plus serde_json cost ~15 KB gzip in the wasm, and the
//! whole app must stay under 200 KB before its first screen. A missing or mistyped
//! required field makes the whole value `None` (the caller reports a broken answer).

use std::collections::BTreeMap;

use js_sys::{Array, JSON, Object, Reflect};
use phonereg_types::{
    HistoryItem, LastMessage, ParseResponse, Phone, PhoneStatus, Problem, TokenResponse, User,
    Verification,
};
use wasm_bindgen::JsValue;

/// A value that can be read from parsed JSON.
pub trait FromJs: Sized {
    fn from_js(value: &JsValue) -> Option<Self>;
}

/// Parses JSON text into `T`.
pub fn parse<T: FromJs>(text: &str) -> Option<T> {
    T::from_js(&JSON::parse(text).ok()?)
}

/// A JSON object of string members (absent ones left out), as request body text.
pub fn object(members: &[(&str, Option<&str>)]) -> String {
    let object = Object::new();
    for (key, value) in members {
        if let Some(value) = value {
            let _ = Reflect::set(&object, &(*key).into(), &(*value).into());
        }
    }
    JSON::stringify(&object).map_or_else(|_| "{}".to_owned(), String::from)
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn string(value: &JsValue, key: &str) -> Option<String> {
    get(value, key).as_string()
}

/// `Some(None)` for null or absent, `None` for a wrong type.
fn nullable<T>(
    value: &JsValue,
    key: &str,
    read: impl Fn(&JsValue) -> Option<T>,
) -> Option<Option<T>> {
    let member = get(value, key);
    if member.is_null() || member.is_undefined() {
        Some(None)
    } else {
        read(&member).map(Some)
    }
}

fn int(value: &JsValue) -> Option<i64> {
    value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15)
        .map(|n| n as i64)
}

fn int_at(value: &JsValue, key: &str) -> Option<i64> {
    int(&get(value, key))
}

fn bool_at(value: &JsValue, key: &str) -> Option<bool> {
    get(value, key).as_bool()
}

fn list<T>(value: &JsValue, key: &str, read: impl Fn(&JsValue) -> Option<T>) -> Option<Vec<T>> {
    let member = get(value, key);
    if !Array::is_array(&member) {
        return None;
    }
    Array::from(&member)
        .iter()
        .map(|item| read(&item))
        .collect()
}

impl FromJs for Verification {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(Verification {
            sent: bool_at(v, "sent")?,
            expires_at: string(v, "expires_at")?,
            resend_after: string(v, "resend_after")?,
            attempts_remaining: int_at(v, "attempts_remaining")?,
        })
    }
}

impl FromJs for LastMessage {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(LastMessage {
            status: string(v, "status")?,
            error_code: nullable(v, "error_code", int)?,
            guidance: nullable(v, "guidance", JsValue::as_string)?,
            updated_at: string(v, "updated_at")?,
        })
    }
}

impl FromJs for Phone {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(Phone {
            id: int_at(v, "id")?,
            e164: string(v, "e164")?,
            national: string(v, "national")?,
            international: string(v, "international")?,
            country: string(v, "country")?,
            number_type: string(v, "number_type")?,
            status: match string(v, "status")?.as_str() {
                "verified" => PhoneStatus::Verified,
                _ => PhoneStatus::Unverified,
            },
            verified_at: nullable(v, "verified_at", JsValue::as_string)?,
            pending_e164: nullable(v, "pending_e164", JsValue::as_string)?,
            sms_opted_out: bool_at(v, "sms_opted_out").unwrap_or(false),
            created_at: string(v, "created_at")?,
            updated_at: string(v, "updated_at")?,
            last_message: nullable(v, "last_message", LastMessage::from_js)?,
            verification: nullable(v, "verification", Verification::from_js)?,
        })
    }
}

impl FromJs for User {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(User {
            id: int_at(v, "id")?,
            email: string(v, "email")?,
            full_name: string(v, "full_name")?,
            created_at: string(v, "created_at")?,
            phone: nullable(v, "phone", Phone::from_js)?,
            two_factor: js_sys::Reflect::get(v, &"two_factor".into())
                .ok()
                .and_then(|b| b.as_bool())
                .unwrap_or(false),
        })
    }
}

impl FromJs for TokenResponse {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(TokenResponse {
            user: User::from_js(&get(v, "user"))?,
            access_token: string(v, "access_token")?,
            // The SPA never holds the refresh token: the HttpOnly cookie carries it.
            refresh_token: None,
            token_type: string(v, "token_type").unwrap_or_default(),
            expires_in: int_at(v, "expires_in")?,
            verification: nullable(v, "verification", Verification::from_js)?,
        })
    }
}

impl FromJs for ParseResponse {
    fn from_js(v: &JsValue) -> Option<Self> {
        let text = |key| nullable(v, key, JsValue::as_string);
        Some(ParseResponse {
            valid: bool_at(v, "valid")?,
            e164: text("e164")?,
            national: text("national")?,
            international: text("international")?,
            country: text("country")?,
            number_type: text("number_type")?,
            sms_capable: bool_at(v, "sms_capable")?,
            message: text("message")?,
        })
    }
}

impl FromJs for HistoryItem {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(HistoryItem {
            at: string(v, "at")?,
            kind: string(v, "kind")?,
            detail: nullable(v, "detail", JsValue::as_string)?,
        })
    }
}

/// `{items: [...]}` lists.
pub struct Items<T>(pub Vec<T>);

impl<T: FromJs> FromJs for Items<T> {
    fn from_js(v: &JsValue) -> Option<Self> {
        list(v, "items", T::from_js).map(Items)
    }
}

impl FromJs for Problem {
    fn from_js(v: &JsValue) -> Option<Self> {
        let errors = nullable(v, "errors", |errors| {
            let mut map = BTreeMap::new();
            for entry in Object::entries(&Object::from(errors.clone())).iter() {
                let entry = Array::from(&entry);
                let messages = Array::from(&entry.get(1))
                    .iter()
                    .filter_map(|m| m.as_string())
                    .collect();
                map.insert(entry.get(0).as_string()?, messages);
            }
            Some(map)
        })
        .flatten();
        Some(Problem {
            kind: string(v, "type").unwrap_or_default(),
            title: string(v, "title").unwrap_or_default(),
            status: u16::try_from(int_at(v, "status")?).ok()?,
            detail: string(v, "detail").unwrap_or_default(),
            errors,
            verification: nullable(v, "verification", Verification::from_js).flatten(),
        })
    }
}
