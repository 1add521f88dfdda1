//! `cargo xtask dist`: the release tarball `phonereg-<version>-<target>.tar.gz` (SPEC §14).
//!
//! It holds one folder, `phonereg-<version>-<target>/`, with the `phonereg-api` binary, the
//! built SPA in `dist/` beside it (with its brotli and gzip copies), README, CHANGELOG,
//! SECURITY, both LICENSE files, `deploy/` (the systemd unit and its env file) and
//! `docs/DEPLOY.md`. Unpacked, `cd` into the folder and `./phonereg-api` starts it on the
//! embedded default (SQLite under `./data`, console SMS, the SPA from `./dist`).
//!
//! The SPA ships beside the binary rather than inside it: the API then serves the
//! precompressed copies with their file dates and ETags exactly as in every other layout
//! (`routes/spa.rs`), the API builds and tests without a wasm toolchain, and an operator can
//! replace the SPA without rebuilding the server.
//!
//! Writes `<tarball>.sha256` beside it and prints the tarball's path as the last line.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, bail, ensure};
use flate2::{Compression, write::GzEncoder};
use sha2::{Digest as _, Sha256};

/// Files from the repository root copied as they are.
const DOCUMENTS: [&str; 8] = [
    "README.md",
    "CHANGELOG.md",
    "SECURITY.md",
    "LICENSE-MIT",
    "LICENSE-APACHE",
    "deploy/phonereg.service",
    "deploy/env.example",
    "docs/DEPLOY.md",
];

/// The workspace version (every crate takes it from the workspace): the release's.
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// A debug build of the API (fast to build; for the smoke test only).
    pub debug: bool,
    /// Package the `dist/` already built instead of running scripts/build-spa.sh.
    pub reuse_spa: bool,
}

impl Options {
    pub fn parse(args: &[&str]) -> anyhow::Result<Self> {
        let mut options = Options::default();
        for arg in args {
            match *arg {
                "--debug" => options.debug = true,
                "--reuse-spa" => options.reuse_spa = true,
                other => bail!("dist: unknown option {other}"),
            }
        }
        Ok(options)
    }
}

/// Builds what is asked, packs it, and returns the tarball's path.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<PathBuf> {
    if !options.reuse_spa {
        status(Command::new(root.join("scripts/build-spa.sh")).current_dir(root))?;
    }
    ensure!(
        root.join("dist/index.html").is_file(),
        "dist/index.html is missing: build the SPA (scripts/build-spa.sh) first"
    );
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build
        .args([
            "build",
            "--locked",
            "-p",
            "phonereg-api",
            "--bin",
            "phonereg-api",
        ])
        .current_dir(root);
    if !options.debug {
        build.arg("--release");
    }
    status(&mut build)?;
    let profile = if options.debug { "debug" } else { "release" };
    let target_dir = target_dir(root);
    let binary = target_dir.join(profile).join("phonereg-api");
    check_version(&binary)?;

    let name = format!("phonereg-{VERSION}-{}", host_triple()?);
    let out_dir = target_dir.join("dist");
    fs::create_dir_all(&out_dir).with_context(|| format!("create {}", out_dir.display()))?;
    let tarball = out_dir.join(format!("{name}.tar.gz"));
    pack(root, &binary, &name, &tarball)?;
    let digest = hex(&Sha256::digest(fs::read(&tarball)?));
    let file_name = format!("{name}.tar.gz");
    fs::write(
        out_dir.join(format!("{file_name}.sha256")),
        format!("{digest}  {file_name}\n"),
    )?;
    Ok(tarball)
}

/// Writes the tarball: every entry under `name/`, owned by root, with its own date (the
/// API's `Last-Modified` for the SPA's files: a fixed date would tell browsers that a new
/// release's `index.html` is the one they have).
fn pack(root: &Path, binary: &Path, name: &str, tarball: &Path) -> anyhow::Result<()> {
    let file =
        fs::File::create(tarball).with_context(|| format!("create {}", tarball.display()))?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::default()));
    let mut entries = vec![(binary.to_path_buf(), "phonereg-api".to_owned())];
    for file in crate::walk(&root.join("dist"))? {
        let relative = file.strip_prefix(root)?.to_string_lossy().into_owned();
        entries.push((file, relative));
    }
    entries.extend(DOCUMENTS.map(|doc| (root.join(doc), doc.to_owned())));
    for (path, relative) in entries {
        let metadata = fs::metadata(&path).with_context(|| format!("read {}", path.display()))?;
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&metadata, tar::HeaderMode::Deterministic);
        header.set_mtime(
            metadata
                .modified()?
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs(),
        );
        tar.append_data(
            &mut header,
            format!("{name}/{relative}"),
            fs::File::open(&path)?,
        )
        .with_context(|| format!("add {relative}"))?;
    }
    tar.into_inner()?.finish()?.sync_all()?;
    Ok(())
}

/// The binary must call itself this release's version (`--version` is what users quote).
fn check_version(binary: &Path) -> anyhow::Result<()> {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .with_context(|| format!("run {} --version", binary.display()))?;
    let said = String::from_utf8_lossy(&out.stdout);
    ensure!(
        said.trim() == format!("phonereg-api {VERSION}"),
        "{} --version says {said:?}, not {VERSION}",
        binary.display()
    );
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"))
}

/// The target the binary was built for: the host's, as rustc names it.
fn host_triple() -> anyhow::Result<String> {
    let out = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("-vV")
        .output()
        .context("run rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV names no host")
}

fn status(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("run {command:?}"))?;
    ensure!(status.success(), "{command:?} failed ({status})");
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_release_and_a_fresh_spa_by_default() {
        assert_eq!(Options::parse(&[]).expect("parse"), Options::default());
        let both = Options::parse(&["--debug", "--reuse-spa"]).expect("parse");
        assert!(both.debug && both.reuse_spa);
        assert!(Options::parse(&["--fast"]).is_err());
    }

    #[test]
    fn the_tarball_holds_one_folder_with_the_binary_the_spa_and_the_documents() {
        let root = std::env::temp_dir().join(format!("xtask-dist-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("dist/assets")).expect("dir");
        fs::create_dir_all(root.join("deploy")).expect("dir");
        fs::create_dir_all(root.join("docs")).expect("dir");
        fs::write(root.join("dist/index.html"), "<html>").expect("write");
        fs::write(root.join("dist/assets/app.wasm"), "wasm").expect("write");
        for doc in DOCUMENTS {
            fs::write(root.join(doc), doc).expect("write");
        }
        let binary = root.join("phonereg-api");
        fs::write(&binary, "#!/bin/sh\n").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let tarball = root.join("out.tar.gz");
        pack(&root, &binary, "phonereg-9.9.9-test", &tarball).expect("pack");

        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
            fs::File::open(&tarball).expect("open"),
        ));
        let mut entries: Vec<(String, u32)> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                let path = e.path().expect("path").to_string_lossy().into_owned();
                (path, e.header().mode().expect("mode"))
            })
            .collect();
        entries.sort();
        let names: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
        assert!(names.iter().all(|n| n.starts_with("phonereg-9.9.9-test/")));
        for want in [
            "phonereg-9.9.9-test/phonereg-api",
            "phonereg-9.9.9-test/dist/index.html",
            "phonereg-9.9.9-test/dist/assets/app.wasm",
            "phonereg-9.9.9-test/LICENSE-APACHE",
            "phonereg-9.9.9-test/deploy/phonereg.service",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let binary_mode = entries
            .iter()
            .find(|(p, _)| p.ends_with("/phonereg-api"))
            .map(|(_, m)| *m)
            .expect("binary");
        assert_eq!(binary_mode & 0o111, 0o111, "the binary stays executable");
        fs::remove_dir_all(&root).expect("clean up");
    }
}
