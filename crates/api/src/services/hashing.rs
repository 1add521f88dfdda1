//! Argon2id password hashing on a small pool of dedicated, low-priority threads.
//!
//! Long: 280 lines of pool and lanes, the rest unit tests of the lanes' order.
//!
//! Each hash holds 19 MiB for ~20 ms of CPU. Running them on tokio's blocking pool would
//! let a login flood start hundreds at once (memory) and crowd out diesel work. Here at
//! most `threads` hashes run at a time, the rest queue, and the threads run at a lower
//! scheduling priority so cheap requests still get the CPU during a flood.
//!
//! The queue has two lanes. Logins of an email from a client network that signed in
//! successfully before go in a small lane of their own, which the threads serve first:
//! a flood of logins from hundreds of other addresses fills the common lane and is
//! answered 503 at once, but cannot take the owner's place.

use std::{
    collections::VecDeque,
    sync::{Arc, Condvar, Mutex, PoisonError},
};

use anyhow::{Context as _, anyhow};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use base64::{Engine as _, engine::general_purpose::STANDARD_NO_PAD};
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;
use tokio::sync::oneshot;

use crate::{domain::Password, error::ApiError};

/// Work for a hashing thread, which lends its reusable Argon2 memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

#[derive(Clone)]
pub struct Hasher {
    jobs: Arc<Handle>,
    /// Verified against when the email is unknown, so timing doesn't reveal accounts.
    dummy_hash: Arc<str>,
}

/// Which lane a job waits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Everyone.
    Common,
    /// A login of an email from a network that signed in with it before.
    Known,
}

#[derive(Default)]
struct Lanes {
    common: VecDeque<Job>,
    known: VecDeque<Job>,
    /// Set when the last `Hasher` is dropped: the threads finish the queue and exit.
    closed: bool,
}

struct Queue {
    lanes: Mutex<Lanes>,
    ready: Condvar,
    common_cap: usize,
    known_cap: usize,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Lanes> {
        // Pushes and pops are single statements; a poisoned lock holds a usable queue.
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next job, known lane first; None once closed and drained.
    fn next(&self) -> Option<Job> {
        let mut lanes = self.lock();
        loop {
            if let Some(job) = lanes.known.pop_front().or_else(|| lanes.common.pop_front()) {
                return Some(job);
            }
            if lanes.closed {
                return None;
            }
            lanes = self
                .ready
                .wait(lanes)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Queues `job`, or hands it back when there is no room for it. A known pair whose
    /// reserved places are taken may still wait in the common lane: the reservation adds
    /// places for it, it never takes any away (an owner signing in from many tabs at once
    /// would otherwise be refused sooner than a stranger).
    fn push(&self, lane: Lane, job: Job) -> Result<(), Job> {
        let mut lanes = self.lock();
        if matches!(lane, Lane::Known) && lanes.known.len() < self.known_cap {
            lanes.known.push_back(job);
        } else if lanes.common.len() < self.common_cap {
            lanes.common.push_back(job);
        } else {
            return Err(job);
        }
        drop(lanes);
        self.ready.notify_one();
        Ok(())
    }
}

/// Closes the queue when the last `Hasher` clone goes, so the threads end.
struct Handle(Arc<Queue>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.ready.notify_all();
    }
}

/// OWASP's Argon2id baseline: m = 19 MiB, t = 2, p = 1.
const M_COST: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

fn params() -> Params {
    #[expect(clippy::unwrap_used, reason = "constant, valid parameters")]
    Params::new(M_COST, T_COST, P_COST, Some(HASH_LEN)).unwrap()
}

/// Memory for one Argon2 run with our parameters. Each hashing thread keeps one, so a
/// flood of logins does not allocate and fault in 19 MiB per request.
pub fn new_memory() -> Vec<Block> {
    vec![Block::default(); params().block_count()]
}

/// Hashes into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), reusing `memory`.
pub fn hash_with(password: &str, memory: &mut Vec<Block>) -> anyhow::Result<String> {
    let mut salt = [0u8; SALT_LEN];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let mut out = [0u8; HASH_LEN];
    let params = params();
    memory.resize(params.block_count(), Block::default());
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, &mut memory[..])
        .map_err(|e| anyhow!("argon2 hash: {e}"))?;
    Ok(format!(
        "$argon2id$v=19$m={M_COST},t={T_COST},p={P_COST}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

/// Hashes with fresh memory; the benchmark uses it to measure the machine's ceiling.
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    hash_with(password, &mut new_memory())
}

/// Checks `password` against a PHC string with whatever parameters it was made with,
/// comparing in constant time.
fn verify_with(password: &str, hash: &str, memory: &mut Vec<Block>) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(hash).map_err(|e| anyhow!("stored hash unreadable: {e}"))?;
    let expected = parsed.hash.context("stored hash has no output")?;
    let mut salt = [0u8; 64];
    let salt = parsed
        .salt
        .context("stored hash has no salt")?
        .decode_b64(&mut salt)
        .map_err(|e| anyhow!("stored salt unreadable: {e}"))?;
    let stored = Params::try_from(&parsed).map_err(|e| anyhow!("stored params: {e}"))?;
    let params = Params::new(
        stored.m_cost(),
        stored.t_cost(),
        stored.p_cost(),
        Some(expected.len()),
    )
    .map_err(|e| anyhow!("stored params: {e}"))?;
    memory.resize(params.block_count(), Block::default());
    let mut out = vec![0u8; expected.len()];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..])
        .map_err(|e| anyhow!("argon2 verify: {e}"))?;
    Ok(out.ct_eq(expected.as_bytes()).into())
}

impl Hasher {
    /// `threads` hashing threads and room for `queue` waiting jobs, plus a quarter as
    /// many (at least `threads`) reserved for logins of known email and network pairs.
    pub fn start(threads: usize, queue: usize) -> anyhow::Result<Self> {
        // The dummy hash's buffer becomes the first thread's: a third 19 MiB buffer, live
        // while the threads allocated theirs, made start-up the process's memory peak.
        let mut first = new_memory();
        let dummy_hash = hash_with("dummy password for unknown accounts", &mut first)?.into();
        let mut spare = Some(first);
        let threads = threads.max(1);
        let queue = Arc::new(Queue {
            lanes: Mutex::new(Lanes::default()),
            ready: Condvar::new(),
            common_cap: queue.max(1),
            known_cap: (queue / 4).max(threads),
        });
        for i in 0..threads {
            let queue = Arc::clone(&queue);
            let memory = spare.take();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    let mut memory = memory.unwrap_or_else(new_memory);
                    while let Some(job) = queue.next() {
                        job(&mut memory);
                    }
                })
                .context("start hashing thread")?;
        }
        Ok(Self {
            jobs: Arc::new(Handle(queue)),
            dummy_hash,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        lane: Lane,
        f: impl FnOnce(&mut Vec<Block>) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |memory| {
            // The caller has gone: nobody is waiting for this hash.
            if tx.is_closed() {
                crate::telemetry::hash_job_skipped();
                return;
            }
            let _ = tx.send(span.in_scope(|| f(memory)));
        });
        if self.jobs.0.push(lane, job).is_err() {
            crate::telemetry::rate_limited(match lane {
                Lane::Common => "hash_queue",
                Lane::Known => "hash_queue_known",
            });
            return Err(ApiError::Unavailable {
                detail: "The server is busy checking passwords; try again in a moment.".into(),
                retry_after: 1,
            });
        }
        Ok(rx.await.context("hashing job dropped")??)
    }

    /// Hashes waiting for a thread, in both lanes, for the `/metrics` gauge.
    pub fn waiting(&self) -> usize {
        let lanes = self.jobs.0.lock();
        lanes.common.len() + lanes.known.len()
    }

    pub async fn hash(&self, password: Password) -> Result<String, ApiError> {
        self.run(Lane::Common, move |memory| {
            hash_with(password.expose(), memory)
        })
        .await
    }

    /// Checks `password` against `hash`, or against a dummy hash when there is no
    /// account, so both paths cost one Argon2id run.
    pub async fn verify(
        &self,
        password: Password,
        hash: Option<String>,
        lane: Lane,
    ) -> Result<bool, ApiError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let ok = self
            .run(lane, move |memory| {
                verify_with(password.expose(), &hash, memory)
            })
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
        let hasher = Hasher::start(1, 4).expect("start");
        let hash = hasher
            .hash(Password::unchecked("correct horse".into()))
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let ok = |p: &str, h: Option<String>| {
            hasher.verify(Password::unchecked(p.into()), h, Lane::Common)
        };
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

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_jobs_of_gone_callers_are_skipped() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hasher = Hasher::start(1, 2).expect("start");
        // Hold the only thread until released.
        let (started, on_thread) = oneshot::channel::<()>();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let busy = {
            let hasher = hasher.clone();
            tokio::spawn(async move {
                hasher
                    .run(Lane::Common, move |_| {
                        let _ = started.send(());
                        let _ = hold.recv();
                        Ok(())
                    })
                    .await
            })
        };
        on_thread.await.expect("the thread took the holding job");
        let ran = Arc::new(AtomicUsize::new(0));
        let job = |ran: Arc<AtomicUsize>| {
            hasher.run(Lane::Common, move |_| {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        };
        // A job whose caller gives up, and one that waits: the queue of 2 is full.
        let gone = tokio::time::timeout(std::time::Duration::from_millis(10), job(ran.clone()));
        assert!(gone.await.is_err(), "the caller gave up");
        let waiting = {
            let (hasher, ran) = (hasher.clone(), ran.clone());
            tokio::spawn(async move {
                hasher
                    .run(Lane::Common, move |_| {
                        ran.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
            })
        };
        // On this single-threaded runtime, the yield lets the spawned job queue itself.
        tokio::task::yield_now().await;
        assert_eq!(hasher.waiting(), 2, "the gauge counts both waiting jobs");
        match job(ran.clone()).await {
            Err(ApiError::Unavailable { retry_after, .. }) => assert_eq!(retry_after, 1),
            other => panic!("expected 503, got {:?}", other.map(|_| ())),
        }
        release.send(()).expect("release");
        busy.await.expect("join").expect("busy job");
        waiting.await.expect("join").expect("waiting job");
        assert_eq!(
            ran.load(Ordering::SeqCst),
            1,
            "the gone caller's job was skipped"
        );
        assert_eq!(hasher.waiting(), 0);
    }

    #[test]
    fn a_known_pair_waits_in_the_common_lane_when_its_own_is_full() {
        let queue = Queue {
            lanes: Mutex::new(Lanes::default()),
            ready: Condvar::new(),
            common_cap: 2,
            known_cap: 1,
        };
        let job = || -> Job { Box::new(|_| {}) };
        assert!(queue.push(Lane::Known, job()).is_ok(), "its reserved place");
        assert!(
            queue.push(Lane::Known, job()).is_ok(),
            "then the common lane"
        );
        assert!(queue.push(Lane::Known, job()).is_ok());
        assert!(queue.push(Lane::Known, job()).is_err(), "both lanes full");
        assert!(queue.push(Lane::Common, job()).is_err());
        let lanes = queue.lock();
        assert_eq!((lanes.known.len(), lanes.common.len()), (1, 2));
    }

    #[test]
    fn verifies_hashes_made_by_the_reference_implementation() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _, password_hash::SaltString};
        let salt = SaltString::encode_b64(b"sixteen byte salt").expect("salt");
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
            .hash_password(b"hunter2 hunter2", &salt)
            .expect("hash")
            .to_string();
        let mut memory = new_memory();
        assert!(verify_with("hunter2 hunter2", &reference, &mut memory).expect("verify"));
        assert!(!verify_with("hunter3 hunter3", &reference, &mut memory).expect("verify"));
        // And the reference implementation accepts ours.
        let ours = hash_with("hunter2 hunter2", &mut memory).expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        assert!(
            Argon2::default()
                .verify_password(b"hunter2 hunter2", &parsed)
                .is_ok()
        );
    }
}
