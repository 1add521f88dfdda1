//! Migrations under a lock (SPEC §14 "Operations"): replicas that start together on one
//! fresh database, and `phonereg-api migrate`, each apply every migration exactly once.

use std::process::Command;

use phonereg_api::{config::DatabaseUrl, persistence::Db};

use crate::helpers::{Backend, on_both_databases, test_config};

on_both_databases!(replicas_that_start_together_all_start);

/// Four processes' start-ups at once on a database none has migrated: without a lock
/// each reads "nothing applied" and the later ones fail on tables that now exist.
async fn replicas_that_start_together_all_start(b: Backend) {
    let url = test_config(b).database_url;
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Db::connect(&url, 1).map(|_| ()))
        })
        .collect();
    for start in starts {
        let result = start.join().expect("no panic");
        assert!(result.is_ok(), "a replica failed to start: {result:?}");
    }
}

on_both_databases!(migrate_applies_every_migration_and_exits);

/// `phonereg-api migrate`, run by four at once (say, a deploy job on every host), then
/// once more: every run exits 0, and the last finds nothing left to do.
async fn migrate_applies_every_migration_and_exits(b: Backend) {
    let url = match test_config(b).database_url {
        DatabaseUrl::Sqlite(path) => path.to_string_lossy().into_owned(),
        DatabaseUrl::Postgres(url) => url,
    };
    let migrate = || {
        Command::new(env!("CARGO_BIN_EXE_phonereg-api"))
            .arg("migrate")
            .env_clear()
            .env("DATABASE_URL", &url)
            .env("NO_COLOR", "1")
            .output()
            .expect("run phonereg-api migrate")
    };
    let outputs: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..4).map(|_| scope.spawn(migrate)).collect();
        runs.into_iter()
            .map(|run| run.join().expect("no panic"))
            .collect()
    });
    let mut applied = 0;
    for out in outputs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "migrate failed: {stderr}");
        let said = String::from_utf8_lossy(&out.stdout);
        applied += said.lines().filter(|l| l.starts_with("applied ")).count();
    }
    // Each backend's own: PostgreSQL has functions SQLite has no use for, and SQLite
    // tunings PostgreSQL does not need.
    let dir = match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let migrations = std::fs::read_dir(format!(
        "{}/../../migrations/{dir}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("migrations")
    .count();
    assert_eq!(applied, migrations, "each migration applied once in all");
    let again = migrate();
    assert!(again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        "the database is up to date"
    );
}
