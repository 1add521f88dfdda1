//! The built SPA from `STATIC_DIR`: files as they are, client routes (paths without a
//! file extension outside `/api`) as `index.html`.
//!
//! scripts/build-spa.sh leaves a brotli (`.br`) and a gzip (`.gz`) copy beside each file;
//! the one sent is chosen by `Accept-Encoding` (its q-values, then brotli over gzip), with
//! the file itself for clients that accept neither. Compressing at build time costs the
//! server nothing per request and lets brotli use its slowest, smallest setting.
//!
//! Trunk puts a content hash in asset names, so those may be cached for a year; any other
//! file (`index.html`, `robots.txt`) must be revalidated to pick up a new build.

use std::path::{Component, Path, PathBuf};

use actix_files::NamedFile;
use actix_web::{
    HttpRequest, HttpResponse,
    http::{
        Method,
        header::{self, AcceptEncoding, ContentEncoding, Encoding, Header as _, HeaderValue},
    },
    web,
};

use crate::{error::ApiError, state::AppState};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// The precompressed copies build-spa.sh makes, by file suffix.
const VARIANTS: [(ContentEncoding, &str); 2] = [
    (ContentEncoding::Brotli, "br"),
    (ContentEncoding::Gzip, "gz"),
];

/// The app's default service: API paths that matched nothing are 404 problem+json,
/// everything else is the SPA.
pub async fn spa_or_not_found(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let path = req.path();
    if path == "/api" || path.starts_with("/api/") {
        return Err(ApiError::NotFound);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(ApiError::NotFound);
    }
    let dir = &state.config.static_dir;
    let index = dir.join("index.html");
    if let Some(file) = safe_join(dir, path).filter(|f| *f != index) {
        if file.is_file() {
            return serve(&req, &file).await;
        }
        // A missing file (an old build's wasm, `/favicon.ico`) is not a client route:
        // index.html in its place would reach the browser as wasm or script.
        if file.extension().is_some() {
            return Err(ApiError::NotFound);
        }
    }
    if !index.is_file() {
        return Err(ApiError::NotFound);
    }
    serve(&req, &index).await
}

/// `file` in the best encoding the client accepts among the copies on disk.
async fn serve(req: &HttpRequest, file: &Path) -> Result<HttpResponse, ApiError> {
    let available: Vec<(ContentEncoding, PathBuf)> = VARIANTS
        .iter()
        .map(|(encoding, suffix)| (*encoding, with_suffix(file, suffix)))
        .filter(|(_, path)| path.is_file())
        .collect();
    let offered: Vec<ContentEncoding> = available.iter().map(|(e, _)| *e).collect();
    let chosen = preferred_encoding(req, &offered)
        .and_then(|encoding| available.iter().find(|(e, _)| *e == encoding));

    let content_type = actix_files::file_extension_to_mime(
        file.extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default(),
    );
    let opened = match chosen {
        Some((encoding, path)) => open(path).await?.set_content_encoding(*encoding),
        None => open(file).await?,
    };
    let mut res = opened
        .set_content_type(content_type)
        .disable_content_disposition()
        .use_etag(true)
        .use_last_modified(true)
        .into_response(req);
    let headers = res.headers_mut();
    let cache = if is_fingerprinted(file) {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if !available.is_empty() {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    Ok(res)
}

/// The encoding among `offered` that the request's `Accept-Encoding` prefers (its
/// q-values, then the order of `offered`), or None when it prefers the file as it is.
pub(crate) fn preferred_encoding(
    req: &HttpRequest,
    offered: &[ContentEncoding],
) -> Option<ContentEncoding> {
    // A malformed header counts as no preference.
    let accepted = AcceptEncoding::parse(req).unwrap_or_else(|_| AcceptEncoding(Vec::new()));
    let offered = offered
        .iter()
        .map(|encoding| Encoding::Known(*encoding))
        .chain([Encoding::identity()])
        .collect::<Vec<_>>();
    match accepted.negotiate(offered.iter())? {
        Encoding::Known(encoding) if encoding != ContentEncoding::Identity => Some(encoding),
        _ => None,
    }
}

async fn open(path: &Path) -> Result<NamedFile, ApiError> {
    NamedFile::open_async(path)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("open {}: {e}", path.display())))
}

/// `app.wasm` -> `app.wasm.br`.
fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Whether the name carries Trunk's content hash: `style-ef443a772eee4498.css`,
/// `phonereg-frontend-822529d48e79724a_bg.wasm` (a u64 in hex, so 16 digits or fewer;
/// fewer than 8 is too short to tell from a word and costs only a revalidation).
fn is_fingerprinted(file: &Path) -> bool {
    let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (8..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// `dir` + the URL path, or None if the path tries to leave `dir`.
fn safe_join(dir: &Path, url_path: &str) -> Option<PathBuf> {
    let rel = Path::new(url_path.trim_start_matches('/'));
    if rel.as_os_str().is_empty() {
        return None;
    }
    rel.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| dir.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_escape_the_static_dir() {
        let dir = Path::new("/srv/dist");
        assert_eq!(
            safe_join(dir, "/app-1a2b.wasm"),
            Some(PathBuf::from("/srv/dist/app-1a2b.wasm"))
        );
        assert_eq!(safe_join(dir, "/../etc/passwd"), None);
        assert_eq!(safe_join(dir, "/a/../../etc/passwd"), None);
        assert_eq!(safe_join(dir, "/"), None);
    }

    #[test]
    fn only_names_with_a_content_hash_are_immutable() {
        for name in [
            "style-ef443a772eee4498.css",
            "phonereg-frontend-822529d48e79724a_bg.wasm",
            "phonereg-frontend-fda71b9c8bf84f5.js",
        ] {
            assert!(is_fingerprinted(Path::new(name)), "{name}");
        }
        for name in ["index.html", "robots.txt", "my-logo.png", "app-1a2b.js"] {
            assert!(!is_fingerprinted(Path::new(name)), "{name}");
        }
    }
}
