//! The API reference page served at `/api/docs`: Swagger UI rendering this build's
//! openapi.yaml, compiled into the binary so it works with no network and no `dist/`.
//! `build.rs` says where the bytes come from; `crates/api/src/routes/api_docs.rs` serves
//! them.

/// One file the page loads. Its name carries a hash of its bytes, so it never changes
/// under the same URL.
pub struct Asset {
    /// The name under `/api/docs/`, e.g. `swagger-ui-bundle-0123456789abcdef.js`.
    pub name: &'static str,
    pub content_type: &'static str,
    pub identity: &'static [u8],
    /// The copy scripts/api-docs.sh compressed with brotli, when it is smaller.
    pub brotli: Option<&'static [u8]>,
    /// The gzip copy, when it is smaller.
    pub gzip: Option<&'static [u8]>,
}

// `ASSETS` and `BUNDLED` (whether Swagger UI is compiled in).
include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The HTML page: Swagger UI, or without it a page that links to the YAML.
pub const PAGE: &str = include_str!(concat!(env!("OUT_DIR"), "/page.html"));

/// The asset named `name`, if the page uses one by that name.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_asset_and_only_assets_that_exist() {
        for asset in ASSETS {
            assert!(
                PAGE.contains(&format!("\"/api/docs/{}\"", asset.name)),
                "{}",
                asset.name
            );
        }
        assert!(!PAGE.contains("{"), "a placeholder was left in the page");
        assert_eq!(ASSETS.len(), if BUNDLED { 4 } else { 0 });
    }
}
