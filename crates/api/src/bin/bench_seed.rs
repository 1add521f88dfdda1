//! Seeds accounts for `scripts/bench.sh` through the persistence layer (so the bench has
//! no copy of the schema of its own): COUNT accounts with the login account's password
//! hash, each with one phone record (+1 <area code> 555 dddd, parsed by the server's
//! parser), unverified or verified, in one transaction. Writes `phone_id user_id e164`
//! lines to RECORDS and, with `--tokens`, an access token per account signed with
//! `JWT_SECRET` exactly as the API signs them: `token phone_id` lines.
//!
//! usage: bench-seed --database-url URL --count N --prefix P --login-email E
//!        --area-codes "415 212 …" [--skip E164] [--verified] --records OUT [--tokens OUT]

use phonereg_types::PhoneStatus;
use std::{fmt::Write as _, path::PathBuf};

use anyhow::{Context as _, bail};
use clap::Parser;
use phonereg_api::{
    clock::Clock,
    config::DatabaseUrl,
    domain::PhoneNumber,
    persistence::{
        Db, events,
        models::{NewPhone, NewUser},
        phones, users,
    },
    services::tokens::Tokens,
};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    database_url: DatabaseUrl,
    #[arg(long)]
    count: usize,
    #[arg(long)]
    prefix: String,
    /// The account whose Argon2id hash every seeded account shares (one hash, not N).
    #[arg(long)]
    login_email: String,
    /// Area codes to take numbers from, 10 000 each, in order.
    #[arg(long)]
    area_codes: String,
    /// A number to leave out (one the bench already uses).
    #[arg(long)]
    skip: Option<String>,
    #[arg(long)]
    verified: bool,
    #[arg(long)]
    records: PathBuf,
    #[arg(long)]
    tokens: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let numbers: Vec<PhoneNumber> = args
        .area_codes
        .split_whitespace()
        .flat_map(|ac| (0..10_000).map(move |x| format!("+1{ac}555{x:04}")))
        .filter(|e164| Some(e164) != args.skip.as_ref())
        .take(args.count)
        .map(|e164| {
            PhoneNumber::parse(&e164, "US")
                .map_err(|m| anyhow::anyhow!("{e164} does not parse: {m}"))
        })
        .collect::<Result<_, _>>()?;
    if numbers.len() < args.count {
        bail!(
            "{} area codes give only {} numbers",
            args.area_codes,
            numbers.len()
        );
    }
    let now = chrono::Utc::now().timestamp();
    let db = Db::connect(&args.database_url, 1)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (prefix, login, verified) = (args.prefix.clone(), args.login_email.clone(), args.verified);
    let rows = rt.block_on(db.write(move |c| {
        let hash = users::find_by_email(c, &login)?
            .ok_or_else(|| anyhow::anyhow!("no account {login} to copy the password hash of"))?
            .password_hash;
        let mut rows = Vec::with_capacity(numbers.len());
        for (n, number) in numbers.iter().enumerate() {
            let email = format!("sms-{prefix}-{n}@example.com");
            let user = users::insert(
                c,
                &NewUser {
                    email: &email,
                    password_hash: &hash,
                    full_name: "Bench",
                    created_at: now,
                },
            )?;
            let phone = phones::insert(
                c,
                &NewPhone {
                    user_id: user.id,
                    e164: &number.e164,
                    national: &number.national,
                    international: &number.international,
                    country: &number.country,
                    number_type: number.number_type,
                    status: PhoneStatus::Unverified,
                    created_at: now,
                    updated_at: now,
                },
            )?;
            // The live events a registration writes, so the events table grows as it
            // would.
            events::phone_changed(c, user.id, phone.id, now)?;
            if verified {
                phones::mark_verified(c, phone.id, now)?;
                events::phone_changed(c, user.id, phone.id, now)?;
            }
            rows.push((phone.id, user.id, number.e164.clone()));
        }
        Ok(rows)
    }))?;
    let mut records = String::new();
    for (phone_id, user_id, e164) in &rows {
        writeln!(records, "{phone_id} {user_id} {e164}")?;
    }
    std::fs::write(&args.records, records).context("write records")?;
    if let Some(path) = args.tokens {
        let secret = std::env::var("JWT_SECRET").context("--tokens needs JWT_SECRET")?;
        let tokens = Tokens::new(secret.as_bytes(), 86_400, Clock::default());
        let mut out = String::new();
        for (phone_id, user_id, _) in &rows {
            let token = tokens.issue_access(*user_id, now, None)?;
            writeln!(out, "{token} {phone_id}")?;
        }
        std::fs::write(path, out).context("write tokens")?;
    }
    Ok(())
}
