//! `cargo xtask <command>`: PhoneReg's developer commands that need more than a shell.
//!
//! - `precompress <dir>`: writes `<file>.br` and `<file>.gz` beside every text, script,
//!   style and wasm file in `<dir>` (the built SPA), so the API can send the smallest
//!   copy a browser accepts without compressing per request (`routes/spa.rs`). Both at
//!   their slowest, smallest settings: it runs once per build. A copy that would not be
//!   smaller than its file is not written, and the file then goes out as it is.
//! - `dist [--debug] [--reuse-spa]`: the release tarball in `target/dist/` (`dist.rs`).
//! - `sizes`: Rust files over 400 lines and functions over 80 lines in `crates/` and
//!   `frontend/`, each listed (`sizes.rs`; docs/ARCHITECTURE.md keeps its output).

mod dist;
mod sizes;

use std::{
    fs,
    io::Write as _,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context as _, bail};
use flate2::{Compression, write::GzEncoder};

/// Files worth compressing (images and fonts are compressed already).
const EXTENSIONS: [&str; 8] = ["html", "js", "mjs", "css", "wasm", "txt", "svg", "json"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["precompress", dir] => precompress(Path::new(dir)),
        ["dist", ref options @ ..] => dist::Options::parse(options)
            .and_then(|options| dist::run(&workspace_root(), &options))
            .map(|tarball| println!("{}", tarball.display())),
        ["sizes"] => sizes::report(&workspace_root()).map(|report| print!("{report}")),
        _ => {
            eprintln!(
                "usage: cargo xtask precompress <dir> | cargo xtask dist [--debug] [--reuse-spa] | cargo xtask sizes"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn precompress(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    for file in files(dir)? {
        let data = fs::read(&file).with_context(|| format!("read {}", file.display()))?;
        let brotli = brotli(&data)?;
        let gzip = gzip(&data)?;
        for (suffix, compressed) in [("br", brotli), ("gz", gzip)] {
            let target = with_suffix(&file, suffix);
            if compressed.len() < data.len() {
                fs::write(&target, &compressed)
                    .with_context(|| format!("write {}", target.display()))?;
            }
        }
    }
    Ok(())
}

/// The files to compress under `dir`, subdirectories included.
fn files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = walk(dir)?;
    found.retain(|path| {
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
    });
    Ok(found)
}

/// Every file under `dir`, subdirectories included, sorted.
fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("list {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn brotli(data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        // The largest window the format allows without the "large window" extension
        // browsers do not speak.
        lgwin: 24,
        ..Default::default()
    };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &data[..], &mut out, &params).context("brotli")?;
    Ok(out)
}

fn gzip(data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).context("gzip")?;
    encoder.finish().context("gzip")
}

/// `app.wasm` -> `app.wasm.br`.
fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn copies_decompress_to_the_original_and_only_smaller_ones_are_kept() {
        let dir = std::env::temp_dir().join(format!("xtask-{}", std::process::id()));
        fs::create_dir_all(dir.join("nested")).expect("dir");
        let text = "PhoneReg ".repeat(500);
        fs::write(dir.join("app.js"), &text).expect("write");
        fs::write(dir.join("nested/tiny.css"), "a{}").expect("write");
        fs::write(dir.join("photo.png"), &text).expect("write");
        precompress(&dir).expect("precompress");

        let mut unbrotli = Vec::new();
        brotli::BrotliDecompress(
            &mut &fs::read(dir.join("app.js.br")).expect("br")[..],
            &mut unbrotli,
        )
        .expect("brotli");
        assert_eq!(unbrotli, text.as_bytes());
        let mut ungzip = String::new();
        flate2::read::GzDecoder::new(&fs::read(dir.join("app.js.gz")).expect("gz")[..])
            .read_to_string(&mut ungzip)
            .expect("gzip");
        assert_eq!(ungzip, text);

        assert!(
            !dir.join("nested/tiny.css.br").exists(),
            "3 bytes do not shrink"
        );
        assert!(!dir.join("photo.png.br").exists(), "images are left alone");
        fs::remove_dir_all(&dir).expect("clean up");
    }
}
