//! Security headers on every response (issue #9).

use std::path::Path;

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{self, HeaderValue},
    middleware::{DefaultHeaders, Next},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use phonereg_types::CaptchaProvider;
use sha2::{Digest as _, Sha256};

/// The headers every response carries unless the handler set its own: a CSP that lets
/// the wasm SPA run and nothing else, no framing, no MIME sniffing, no referrer.
pub fn default_headers(csp: &str) -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, csp.to_owned()))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
}

/// `script-src` allows our own files, WebAssembly compilation, and by hash the inline
/// module script with which Trunk's `index.html` loads the wasm (read once at start-up:
/// a new SPA build needs a restart, as its hashed file names do anyway).
pub fn content_security_policy(static_dir: &Path, captcha: Option<CaptchaProvider>) -> String {
    let index = std::fs::read_to_string(static_dir.join("index.html")).unwrap_or_default();
    let hashes: String = inline_scripts(&index)
        .map(|body| {
            format!(
                " 'sha256-{}'",
                STANDARD.encode(Sha256::digest(body.as_bytes()))
            )
        })
        .collect();
    // The bot challenge's widget is the provider's script and frame (SPEC §11), from the
    // origins each provider documents for a CSP.
    let (scripts, frames, styles) = match captcha {
        None => ("", "", ""),
        Some(CaptchaProvider::Turnstile) => (
            " https://challenges.cloudflare.com",
            " https://challenges.cloudflare.com",
            "",
        ),
        Some(CaptchaProvider::Hcaptcha) => (
            " https://hcaptcha.com https://*.hcaptcha.com",
            " https://hcaptcha.com https://*.hcaptcha.com",
            " https://hcaptcha.com https://*.hcaptcha.com",
        ),
        Some(CaptchaProvider::Recaptcha) => (
            " https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/",
            " https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/",
            "",
        ),
    };
    let frame_src = if frames.is_empty() {
        String::new()
    } else {
        format!(" frame-src{frames};")
    };
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}{scripts}; \
         style-src 'self'{styles}; img-src 'self' data:; connect-src 'self'{styles};{frame_src} \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The bodies of `<script>` elements without a `src`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attrs, rest) = rest.split_once('>')?;
        let (body, _) = rest.split_once("</script>")?;
        (!attrs.contains("src=") && !body.trim().is_empty()).then_some(body)
    })
}

/// The account's data must not sit in shared or browser caches: `Cache-Control:
/// no-store` on `/api/v1/users/me*` (token responses set it themselves).
pub async fn no_store_for_account_data(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let private = req.path().starts_with("/api/v1/users/me");
    let mut res = next.call(req).await?;
    if private && !res.headers().contains_key(header::CACHE_CONTROL) {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_inline_scripts_only() {
        let html = r#"<head><script src="/a.js"></script><script type="module">
import init from '/x.js'; await init();
</script></head>"#;
        let bodies: Vec<_> = inline_scripts(html).collect();
        assert_eq!(bodies, ["\nimport init from '/x.js'; await init();\n"]);
    }
}
