//! The JWT signing secret: from `JWT_SECRET`, or in development one generated once and
//! kept in `DATA_DIR` (written 0600, never seen half-written).

use std::path::Path;

use anyhow::Context as _;

use crate::{
    config::{Config, Environment},
    services::tokens::random_token,
};

/// In development without `JWT_SECRET`, a random secret is generated once and kept in
/// `DATA_DIR`, so sessions survive restarts.
pub(super) fn jwt_secret(config: &Config) -> anyhow::Result<String> {
    if let Some(secret) = &config.jwt_secret {
        return Ok(secret.expose().to_owned());
    }
    anyhow::ensure!(
        config.phonereg_env == Environment::Development,
        "JWT_SECRET is required in production"
    );
    let path = config.data_dir.join("jwt-secret");
    let secret = match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => s.trim().to_owned(),
        _ => write_new_secret(&path)?,
    };
    tracing::warn!(
        path = %path.display(),
        "development mode: JWT_SECRET is not set, using the generated secret in this file"
    );
    Ok(secret)
}

/// Writes a new secret readable by this user only: created 0600 under a temporary name
/// and renamed into place, so it is never readable by others nor seen half-written.
/// The data directory is made 0700.
fn write_new_secret(path: &Path) -> anyhow::Result<String> {
    use std::io::Write as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
            builder.mode(0o700);
            builder
                .create(dir)
                .with_context(|| format!("create {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("restrict {}", dir.display()))?;
        }
        #[cfg(not(unix))]
        builder
            .create(dir)
            .with_context(|| format!("create {}", dir.display()))?;
    }
    let secret = random_token(48);
    let tmp = path.with_extension(format!("tmp-{}", random_token(6)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("create {}", tmp.display()))?;
    file.write_all(secret.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("write {}", path.display()))?;
    Ok(secret)
}
