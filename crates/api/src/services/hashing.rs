//! Argon2id password hashing on a small pool of dedicated, low-priority threads.
//!
//! Each hash holds 19 MiB for ~20 ms of CPU. Running them on tokio's blocking pool would
//! let a login flood start hundreds at once (memory) and crowd out diesel work. Here at
//! most `threads` hashes run at a time, the rest queue, and the threads run at a lower
//! scheduling priority so cheap requests still get the CPU during a flood.

use std::sync::{Arc, Mutex, mpsc};

use anyhow::{Context as _, anyhow};
use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};
use tokio::sync::oneshot;

use crate::{domain::Password, error::ApiError};

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct Hasher {
    jobs: mpsc::Sender<Job>,
    /// Verified against when the email is unknown, so timing doesn't reveal accounts.
    dummy_hash: Arc<str>,
}

/// OWASP's Argon2id baseline: m = 19 MiB, t = 2, p = 1.
fn argon2() -> Argon2<'static> {
    #[expect(clippy::unwrap_used, reason = "constant, valid parameters")]
    let params = Params::new(19_456, 2, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes synchronously; also used by the benchmark to measure the ceiling.
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow!("argon2 hash: {e}"))
}

fn verify_blocking(password: &str, hash: &str) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(hash).map_err(|e| anyhow!("stored hash unreadable: {e}"))?;
    Ok(argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

impl Hasher {
    pub fn start(threads: usize) -> anyhow::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .context("start hashing thread")?;
        }
        let dummy_hash = hash_blocking("dummy password for unknown accounts")?.into();
        Ok(Self {
            jobs: tx,
            dummy_hash,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        let span = tracing::Span::current();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(span.in_scope(f));
            }))
            .map_err(|_| anyhow!("hashing threads stopped"))?;
        Ok(rx.await.context("hashing job dropped")??)
    }

    pub async fn hash(&self, password: Password) -> Result<String, ApiError> {
        self.run(move || hash_blocking(password.expose())).await
    }

    /// Checks `password` against `hash`, or against a dummy hash when there is no
    /// account, so both paths cost one Argon2id run.
    pub async fn verify(&self, password: Password, hash: Option<String>) -> Result<bool, ApiError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let ok = self
            .run(move || verify_blocking(password.expose(), &hash))
            .await?;
        Ok(known && ok)
    }
}

/// Nice 10 for the calling thread (Linux: per-thread). Best effort.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    #[expect(unsafe_code, reason = "plain libc calls on the current thread")]
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = Hasher::start(1).expect("start");
        let hash = hasher
            .hash(Password::unchecked("correct horse".into()))
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let ok = |p: &str, h: Option<String>| hasher.verify(Password::unchecked(p.into()), h);
        assert!(
            ok("correct horse", Some(hash.clone()))
                .await
                .expect("verify")
        );
        assert!(!ok("wrong horse", Some(hash)).await.expect("verify"));
        assert!(
            !ok("dummy password for unknown accounts", None)
                .await
                .expect("verify")
        );
    }
}
