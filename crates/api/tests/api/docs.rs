//! The documents stay true: README's configuration table is what `phonereg-api --help`
//! says.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

#[test]
fn readme_configuration_table_is_rendered_from_the_help_text() {
    let readme = repo().join("README.md");
    let out = Command::new(env!("CARGO_BIN_EXE_config-docs"))
        .arg("--check")
        .arg(&readme)
        .output()
        .expect("run config-docs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
