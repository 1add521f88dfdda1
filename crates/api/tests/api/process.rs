//! The API as a real process (the `phonereg-api` binary cargo built for these tests), for
//! the tests that kill it with SIGKILL: no in-process server can die half way.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use phonereg_api::config::DatabaseUrl;

use crate::helpers::{JWT_SECRET, TWILIO_SID, TWILIO_TOKEN};

pub struct ApiProcess {
    child: Child,
    pub address: String,
    pub log: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl ApiProcess {
    /// Starts the binary on `database` (already migrated by a test app), sending through
    /// the fake Twilio at `twilio` with its own outbox worker, and waits until it
    /// answers. `env` adds or overrides settings.
    pub async fn start(database: &DatabaseUrl, twilio: &str, env: &[(&str, &str)]) -> Self {
        let url = match database {
            DatabaseUrl::Sqlite(path) => path.to_string_lossy().into_owned(),
            DatabaseUrl::Postgres(url) => url.clone(),
        };
        let port = free_port();
        let address = format!("http://127.0.0.1:{port}");
        let data = std::env::temp_dir().join(format!("phonereg-proc-{port}"));
        let log = data.with_extension("log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_phonereg-api"));
        cmd.env_clear()
            .env("DATABASE_URL", url)
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("PUBLIC_URL", &address)
            .env("JWT_SECRET", JWT_SECRET)
            .env("DATA_DIR", &data)
            .env("STATIC_DIR", data.join("no-spa"))
            .env("DB_POOL_SIZE", "4")
            .env("HASH_THREADS", "1")
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .env("SMS_PROVIDER", "twilio")
            .env("TWILIO_API_BASE", twilio)
            .env("TWILIO_ACCOUNT_SID", TWILIO_SID)
            .env("TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
            .env("TWILIO_FROM", "+15005550006")
            .env("OUTBOX_WORKER", "true");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = std::fs::File::create(&log).expect("log file");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("start phonereg-api");
        let process = Self {
            child,
            address,
            log,
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        for _ in 0..300 {
            let up = client
                .get(format!("{}/healthz", process.address))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "phonereg-api did not start: {}",
            std::fs::read_to_string(&process.log).unwrap_or_default()
        );
    }

    /// SIGKILL: no shutdown, no last write.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// What it logged (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
