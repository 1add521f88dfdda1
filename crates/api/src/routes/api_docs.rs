//! The API reference at `/api/docs`: Swagger UI reading `/api/openapi.yaml`, every byte
//! compiled into the binary (`crates/api-docs`), so it works offline and loads nothing
//! from a CDN.
//!
//! The page gets its own Content-Security-Policy, stricter than the SPA's where it can be:
//! scripts and styles only from this origin (the viewer is two files and ours are two more,
//! no inline code), no WebAssembly, requests only to this origin ("Try it out" calls the
//! API here, and Swagger UI's validator badge, which would send the spec away, is off).
//! Assets carry a hash of their bytes in their name: cached for a year; the page itself is
//! revalidated so a new build's names are picked up.

use actix_web::{
    HttpRequest, HttpResponse,
    http::header::{self, ContentEncoding},
    web,
};
use phonereg_api_docs::Asset;

use crate::{error::ApiError, routes::spa::preferred_encoding};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

pub async fn api_docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(phonereg_api_docs::PAGE)
}

pub async fn api_docs_asset(
    req: HttpRequest,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let asset = phonereg_api_docs::asset(&file).ok_or(ApiError::NotFound)?;
    let copies = compressed_copies(asset);
    let offered: Vec<ContentEncoding> = copies.iter().map(|(e, _)| *e).collect();
    let (encoding, body) = preferred_encoding(&req, &offered)
        .and_then(|chosen| copies.into_iter().find(|(e, _)| *e == chosen))
        .map_or((None, asset.identity), |(e, bytes)| (Some(e), bytes));
    let mut res = HttpResponse::Ok();
    res.content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP));
    if !offered.is_empty() {
        res.insert_header((header::VARY, "accept-encoding"));
    }
    if let Some(encoding) = encoding {
        res.insert_header((header::CONTENT_ENCODING, encoding.as_str()));
    }
    Ok(res.body(body))
}

/// Brotli first: the smaller, when the client weighs both the same.
fn compressed_copies(asset: &Asset) -> Vec<(ContentEncoding, &'static [u8])> {
    [
        (ContentEncoding::Brotli, asset.brotli),
        (ContentEncoding::Gzip, asset.gzip),
    ]
    .into_iter()
    .filter_map(|(encoding, bytes)| Some((encoding, bytes?)))
    .collect()
}
