//! The built SPA from `STATIC_DIR`: files as they are, client routes (anything else
//! outside `/api`) as `index.html`. Trunk names assets by content hash, so they may be
//! cached for a year; `index.html` must always be revalidated to pick up a new build.

use std::path::{Component, Path, PathBuf};

use actix_files::NamedFile;
use actix_web::{
    HttpRequest, HttpResponse,
    http::{Method, header},
    web,
};

use crate::{error::ApiError, state::AppState};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

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
    if let Some(file) = safe_join(dir, path).filter(|f| f.is_file() && *f != index) {
        return serve(&req, &file, IMMUTABLE).await;
    }
    if !index.is_file() {
        return Err(ApiError::NotFound);
    }
    serve(&req, &index, REVALIDATE).await
}

async fn serve(
    req: &HttpRequest,
    file: &Path,
    cache: &'static str,
) -> Result<HttpResponse, ApiError> {
    let file = NamedFile::open_async(file)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("open {}: {e}", file.display())))?
        .use_etag(true)
        .use_last_modified(true);
    let mut res = file.into_response(req);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static(cache),
    );
    Ok(res)
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
}
