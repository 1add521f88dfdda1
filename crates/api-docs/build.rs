//! Writes `$OUT_DIR/assets.rs`: the page and the files of /api/docs, each named by a hash
//! of its bytes so the API can let browsers cache them for a year.
//!
//! Swagger UI is fetched code, so it is never committed: scripts/api-docs.sh installs it
//! from npm (the version in package-lock.json) and leaves the two files the page needs in
//! `vendor/`, each beside a brotli and a gzip copy. When `vendor/` has them, they are
//! compiled in; when it does not, the page is `page/fallback.html`, which says so and links
//! to /api/openapi.yaml, so a plain `cargo build` needs no npm. With
//! `PHONEREG_REQUIRE_API_DOCS=1` (scripts/test.sh, the release and container builds) a
//! missing viewer fails the build instead.

use std::{
    env,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use sha2::{Digest as _, Sha256};

/// From swagger-ui-dist, with brotli and gzip copies beside them in `vendor/`.
const VENDOR: [&str; 2] = ["swagger-ui-bundle.js", "swagger-ui.css"];
/// Ours, in `page/`: small, so sent as they are.
const OWN: [&str; 2] = ["init.js", "docs.css"];

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let vendor = root.join("vendor");
    let page = root.join("page");
    println!("cargo::rerun-if-changed=page");
    // A directory: cargo looks at every file in it (and reruns each build while it is
    // missing, which costs nothing here).
    println!("cargo::rerun-if-changed=vendor");
    println!("cargo::rerun-if-env-changed=PHONEREG_REQUIRE_API_DOCS");

    let bundled = VENDOR.iter().all(|name| vendor.join(name).is_file());
    let required = env::var("PHONEREG_REQUIRE_API_DOCS").is_ok_and(|v| !v.is_empty() && v != "0");
    if required && !bundled {
        panic!(
            "PHONEREG_REQUIRE_API_DOCS is set but {} lacks Swagger UI: run scripts/api-docs.sh",
            vendor.display()
        );
    }

    let mut code = String::from("pub static ASSETS: &[Asset] = &[\n");
    let mut html = if bundled {
        read(&page.join("index.html"))
    } else {
        read(&page.join("fallback.html"))
    };
    if bundled {
        let files = VENDOR
            .iter()
            .map(|name| (*name, vendor.join(name), true))
            .chain(OWN.iter().map(|name| (*name, page.join(name), false)));
        for (name, path, compressed) in files {
            let served = fingerprinted(
                name,
                &fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())),
            );
            let copy = |suffix: &str| {
                let copy = with_suffix(&path, suffix);
                if compressed && copy.is_file() {
                    format!("Some(include_bytes!({:?}))", copy.display().to_string())
                } else {
                    "None".to_owned()
                }
            };
            writeln!(
                code,
                "    Asset {{ name: {served:?}, content_type: {:?}, identity: include_bytes!({:?}), brotli: {}, gzip: {} }},",
                content_type(name),
                path.display().to_string(),
                copy("br"),
                copy("gz"),
            )
            .expect("write to a String");
            html = html.replace(&format!("{{{name}}}"), &format!("/api/docs/{served}"));
        }
    }
    code.push_str("];\n");
    writeln!(code, "pub static BUNDLED: bool = {bundled};").expect("write to a String");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    fs::write(out.join("page.html"), html).expect("write page.html");
    fs::write(out.join("assets.rs"), code).expect("write assets.rs");
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `swagger-ui.css` -> `swagger-ui-0123456789abcdef.css` (the first 64 bits of its SHA-256).
fn fingerprinted(name: &str, bytes: &[u8]) -> String {
    let hash: String = Sha256::digest(bytes)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (stem, ext) = name
        .rsplit_once('.')
        .expect("asset names have an extension");
    format!("{stem}-{hash}.{ext}")
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        _ => panic!("no content type for {name}"),
    }
}

/// `a.js` -> `a.js.br`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}
