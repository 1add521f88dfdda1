//! Start-up configuration: every setting is a flag and an environment variable.
//!
//! Long: every setting with its `--help` text, from which README's table is rendered
//! (configuration read once, documented once), and the start-up checks beside the
//! settings they check. Its value types (secrets, lists) could move out; not done yet.

use std::{fmt, net::IpAddr, net::SocketAddr, path::PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use ipnet::IpNet;

use crate::domain::phone_number;

/// What `SMS_ALLOWED_COUNTRIES` holds; defined with the numbers it judges.
pub use crate::domain::phone_number::Countries;

/// PhoneReg API configuration, read once at start-up (SPEC §3, §5, §7): every setting is a
/// flag and an environment variable, and each field's doc comment is both its `--help` text
/// and its row in README's configuration table, rendered by `cargo run -p phonereg-api
/// --bin config-docs -- --write README.md` (a test fails when they differ), so write the
/// meaning there and end it with `[default: …]` when clap cannot show the default. One
/// paragraph here: clap would print a longer doc as `--help`'s description.
#[derive(Clone, Parser)]
#[command(name = "phonereg-api", version, about = "PhoneReg JSON REST API")]
pub struct Config {
    /// `sqlite://relative.db`, `sqlite:///absolute.db`, a bare path, or `postgres://…`
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/phonereg.db"
    )]
    pub database_url: DatabaseUrl,
    /// database connections per process (SQLite adds one writer)
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=512))]
    pub db_pool_size: u32,
    /// listen address
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// `production` requires `JWT_SECRET` (≥ 32 bytes) and `https://` in `PUBLIC_URL` and
    /// `TWILIO_API_BASE`
    #[arg(long, env = "PHONEREG_ENV", value_enum, default_value_t = Environment::Development)]
    pub phonereg_env: Environment,
    /// HS256 key (UTF-8 bytes) for access tokens [default: generated into `DATA_DIR` in
    /// development]
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// where development mode keeps its generated secret
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// access-token lifetime, seconds
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub access_token_ttl: u64,
    /// refresh-token lifetime, seconds (30 days)
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value_t = 2_592_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub refresh_token_ttl: u64,
    /// seconds a rotated refresh token is only refused; after that, presenting it revokes
    /// its session
    #[arg(long, env = "REFRESH_REUSE_GRACE", default_value_t = 10)]
    pub refresh_reuse_grace: u64,
    /// external base URL (Twilio's status callbacks and their signatures, the WebOTP host
    /// in code texts); `https://` makes the refresh cookie `Secure`
    #[arg(long, env = "PUBLIC_URL", default_value = "http://127.0.0.1:8080", value_parser = parse_public_url)]
    pub public_url: String,
    /// region hint for numbers written without `+country`
    #[arg(long, env = "DEFAULT_REGION", default_value = "US", value_parser = parse_region)]
    pub default_region: String,
    /// comma-separated ISO alpha-2 codes that may receive SMS; empty means all
    #[arg(long, env = "SMS_ALLOWED_COUNTRIES", default_value = "", value_parser = parse_countries)]
    pub sms_allowed_countries: Countries,
    /// failed logins per email and client network per 15 min (UTC-aligned window)
    #[arg(long, env = "LOGIN_FAILURES_PER_EMAIL", default_value_t = 10)]
    pub login_failures_per_email: u32,
    /// login attempts per client IP per 15 min
    #[arg(long, env = "LOGIN_PER_IP", default_value_t = 100)]
    pub login_per_ip: u32,
    /// registrations per client IP per hour
    #[arg(long, env = "REGISTER_PER_IP_PER_HOUR", default_value_t = 20)]
    pub register_per_ip_per_hour: u32,
    /// `/phone-numbers/parse` calls per client IP per minute
    #[arg(long, env = "LOOKUP_PER_IP_PER_MINUTE", default_value_t = 120)]
    pub lookup_per_ip_per_minute: u32,
    /// comma-separated proxy addresses and CIDR ranges (`10.0.0.0/8`, `2001:db8::/32`)
    /// whose `X-Forwarded-For` is believed; the client is the rightmost hop outside them
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: IpList,
    /// Argon2id hashes in flight at once [default: number of cores]
    #[arg(long, env = "HASH_THREADS", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub hash_threads: Option<u32>,
    /// the built SPA, served at `/` with client-route fallback
    #[arg(long, env = "STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,
    /// database threads per HTTP worker [default: SQLite 2, PostgreSQL pool ÷ workers]
    #[arg(long, env = "BLOCKING_THREADS", value_parser = clap::value_parser!(u32).range(1..=512))]
    pub blocking_threads: Option<u32>,
    /// `console` (prints SMS to the log, keeps the last 50 at `/api/v1/dev/sms`; refused in
    /// production), `twilio` or `http` (the generic signed HTTP provider)
    #[arg(long, env = "SMS_PROVIDER", value_enum, default_value_t = SmsProvider::Console)]
    pub sms_provider: SmsProvider,
    /// the SMS providers in order (`twilio,http`); messages go to the first, receipts and
    /// look-ups reach each [default: `SMS_PROVIDER` alone]
    #[arg(long, env = "SMS_PROVIDERS", value_enum, value_delimiter = ',')]
    pub sms_providers: Vec<SmsProvider>,
    /// where the `http` provider posts messages (`GET …/messages/{id}` finds one again)
    #[arg(long, env = "SMS_HTTP_URL", value_parser = parse_public_url)]
    pub sms_http_url: Option<String>,
    /// the `http` provider's signing secret, `whsec_` + base64, as SPEC §12 webhooks
    #[arg(long, env = "SMS_HTTP_SECRET", hide_env_values = true)]
    pub sms_http_secret: Option<Secret>,
    /// retryable failures of one provider within 60 s, across every process, that open
    /// its circuit: messages go to the next provider until it is half-open, 120 s later
    #[arg(long, env = "SMS_CIRCUIT_FAILURES", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub sms_circuit_failures: u32,
    /// retryable failures of one message at its provider before it moves to the next
    #[arg(long, env = "SMS_FAILOVER_ATTEMPTS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub sms_failover_attempts: u32,
    /// provider-side refusals that send a message to the next provider while its code
    /// has a minute to live (never the number's own: 21211, 21610, 21614)
    #[arg(
        long,
        env = "SMS_FAILOVER_CODES",
        value_delimiter = ',',
        default_value = "20003,21408,30007,30008"
    )]
    pub sms_failover_codes: Vec<i64>,
    /// Twilio account SID (the credentials, with `TWILIO_AUTH_TOKEN`)
    #[arg(long, env = "TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,
    /// Twilio auth token; it also checks webhook signatures
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<Secret>,
    /// the sender as a number (`TWILIO_MESSAGING_SERVICE_SID` wins when both are set)
    #[arg(long, env = "TWILIO_FROM")]
    pub twilio_from: Option<String>,
    /// the sender as a Messaging Service (wins over `TWILIO_FROM` when both are set)
    #[arg(long, env = "TWILIO_MESSAGING_SERVICE_SID")]
    pub twilio_messaging_service_sid: Option<String>,
    /// Twilio's API base URL; tests point it at the fake Twilio
    #[arg(long, env = "TWILIO_API_BASE", default_value = "https://api.twilio.com", value_parser = parse_public_url)]
    pub twilio_api_base: String,
    /// seconds a code lives
    #[arg(long, env = "VERIFY_CODE_TTL", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub verify_code_ttl: u64,
    /// wrong tries before a code dies (then 410 until a new one)
    #[arg(long, env = "VERIFY_MAX_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub verify_max_attempts: u32,
    /// seconds between codes for one phone record and number
    #[arg(long, env = "VERIFY_RESEND_COOLDOWN", default_value_t = 30)]
    pub verify_resend_cooldown: u64,
    /// claims (codes to a number being added or changed) per E.164 number per UTC hour,
    /// across accounts
    #[arg(long, env = "SMS_PER_NUMBER_PER_HOUR", default_value_t = 5)]
    pub sms_per_number_per_hour: u32,
    /// claims per account per UTC day; owner SMS count toward it but are never refused by
    /// it
    #[arg(long, env = "SMS_PER_ACCOUNT_PER_DAY", default_value_t = 10)]
    pub sms_per_account_per_day: u32,
    /// claims per client IP per UTC hour
    #[arg(long, env = "SMS_PER_IP_PER_HOUR", default_value_t = 20)]
    pub sms_per_ip_per_hour: u32,
    /// SMS segments per UTC day that claims may spend; past it claims answer 503
    #[arg(long, env = "SMS_DAILY_BUDGET", default_value_t = 10_000)]
    pub sms_daily_budget: u32,
    /// codes may also be said by a phone call (Twilio Calls, SPEC §13): asked for with
    /// `channel: "voice"`
    #[arg(long, env = "VOICE_ENABLED", default_value_t = false, action = clap::ArgAction::Set)]
    pub voice_enabled: bool,
    /// comma-separated ISO alpha-2 codes whose numbers may get a code by call; empty means
    /// all
    #[arg(long, env = "VOICE_ALLOWED_COUNTRIES", default_value = "", value_parser = parse_countries)]
    pub voice_allowed_countries: Countries,
    /// fixed lines (refused otherwise: they cannot take SMS) may verify by call, when voice
    /// is on for their country
    #[arg(long, env = "VOICE_FOR_LANDLINES", default_value_t = false, action = clap::ArgAction::Set)]
    pub voice_for_landlines: bool,
    /// the caller id of code calls [default: `TWILIO_FROM`]
    #[arg(long, env = "VOICE_FROM")]
    pub voice_from: Option<String>,
    /// budget units (SMS segments) one code call spends, and what the fraud guard counts
    /// it as
    #[arg(long, env = "VOICE_BUDGET_WEIGHT", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub voice_budget_weight: u32,
    /// codes may also go by WhatsApp (a Twilio content template): asked for with
    /// `channel: "whatsapp"`
    #[arg(long, env = "WHATSAPP_ENABLED", default_value_t = false, action = clap::ArgAction::Set)]
    pub whatsapp_enabled: bool,
    /// comma-separated ISO alpha-2 codes whose numbers may get a code by WhatsApp; empty
    /// means all
    #[arg(long, env = "WHATSAPP_ALLOWED_COUNTRIES", default_value = "", value_parser = parse_countries)]
    pub whatsapp_allowed_countries: Countries,
    /// the approved WhatsApp template (`HX…`) whose variable `{{1}}` is the code; required
    /// with `WHATSAPP_ENABLED`
    #[arg(long, env = "WHATSAPP_CONTENT_SID")]
    pub whatsapp_content_sid: Option<String>,
    /// the WhatsApp sender [default: `whatsapp:` + `TWILIO_FROM`]
    #[arg(long, env = "WHATSAPP_FROM")]
    pub whatsapp_from: Option<String>,
    /// seconds after the first message of a code (or at once, when it failed) until
    /// another channel may carry the same code; this, not the resend cool-down, governs a
    /// change of channel
    #[arg(long, env = "CHANNEL_FALLBACK_AFTER", default_value_t = 30)]
    pub channel_fallback_after: u64,
    /// delivery tries (backoff 2 s doubling, ±20 % jitter) before a message without a code
    /// fails; a code's SMS is tried (at most 30 s apart) until its code expires, and never
    /// after
    #[arg(long, env = "SMS_MAX_ATTEMPTS", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub sms_max_attempts: u32,
    /// `+15005550100=123456,…`: fixed codes, nothing sent, no SMS caps or type/country
    /// checks (the guess limits still apply); `+E164=CODE;step,…` scripts what the
    /// number does, played through the outbox by the built-in `script` provider (README
    /// "Test numbers")
    #[arg(long, env = "SMS_TEST_NUMBERS", default_value = "", value_parser = parse_test_numbers)]
    pub sms_test_numbers: TestNumbers,
    /// number changes (add, replace) per account per UTC day, counted before the number is
    /// looked up
    #[arg(long, env = "PHONE_CHANGES_PER_ACCOUNT_PER_DAY", default_value_t = 10)]
    pub phone_changes_per_account_per_day: u32,
    /// `enforce`, `record` (decide, log and count, never refuse) or `off`
    #[arg(long, env = "SMS_FRAUD_GUARD", value_enum, default_value_t = FraudMode::Enforce)]
    pub sms_fraud_guard: FraudMode,
    /// national digits after the country code that make a destination range (`+44 740…`)
    #[arg(long, env = "SMS_FRAUD_PREFIX_DIGITS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub sms_fraud_prefix_digits: u32,
    /// seconds a paused range or country stays paused (12 h, as Twilio's Fraud Guard)
    #[arg(long, env = "SMS_FRAUD_PAUSE", default_value_t = 43_200, value_parser = clap::value_parser!(u64).range(1..))]
    pub sms_fraud_pause: u64,
    /// comma-separated E.164 prefixes (`+1415`) or alpha-2 countries the guard never
    /// pauses; a prefix needs digits past its calling code (`+1` alone would exempt every
    /// NANP country: write `US`)
    #[arg(long, env = "SMS_FRAUD_ALLOW", default_value = "", value_parser = parse_fraud_allow)]
    pub sms_fraud_allow: FraudAllow,
    /// unverified codes a range may have in 24 h, whatever it verified
    #[arg(long, env = "SMS_FRAUD_RANGE_FLOOR", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..))]
    pub sms_fraud_range_floor: u32,
    /// unverified codes a whole country may have in 24 h, whatever it verified
    #[arg(long, env = "SMS_FRAUD_COUNTRY_FLOOR", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub sms_fraud_country_floor: u32,
    /// unverified codes allowed per verified code, above the floors
    #[arg(long, env = "SMS_FRAUD_RATIO", default_value_t = 1.0, value_parser = parse_ratio)]
    pub sms_fraud_ratio: f64,
    /// paused ranges that pause their whole country
    #[arg(long, env = "SMS_FRAUD_COUNTRY_RANGES", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub sms_fraud_country_ranges: u32,
    /// unverified claims over all countries in 24 h; past it, claims to ranges that
    /// verified nothing in 24 h are refused like a pause [default: 20 % of
    /// `SMS_DAILY_BUDGET`]
    #[arg(long, env = "SMS_FRAUD_GLOBAL_UNVERIFIED")]
    pub sms_fraud_global_unverified: Option<u32>,
    /// bearer token (≥ 32 bytes) of `/api/v1/admin/sms/*`, the operator named `admin`;
    /// with neither this nor `ADMIN_TOKENS`, that API does not exist
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,
    /// named operators of `/api/v1/admin/sms/*` as `name:token,…` (each token ≥ 32 bytes,
    /// names unique); every lift records who did it
    #[arg(long, env = "ADMIN_TOKENS", hide_env_values = true)]
    pub admin_tokens: Option<Secret>,
    /// serve `/api/v1/admin` only on this address (e.g. `127.0.0.1:8081`), not on `BIND`
    #[arg(long, env = "ADMIN_BIND")]
    pub admin_bind: Option<SocketAddr>,
    /// send queued SMS and outbound webhooks from this process (tests turn it off and step
    /// the workers by hand)
    #[arg(long, env = "OUTBOX_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub outbox_worker: bool,
    /// failed logins per email per 15 min from all client networks together
    #[arg(
        long,
        env = "LOGIN_FAILURES_PER_EMAIL_ALL_NETWORKS",
        default_value_t = 100
    )]
    pub login_failures_per_email_all_networks: u32,
    /// password hashes that may wait for a hashing thread; past it login and register
    /// answer 503 with `Retry-After: 1` at once; a quarter as many more (at least
    /// `HASH_THREADS`) are reserved for logins of an email from a network it signed in from
    /// before [default: 32 × `HASH_THREADS`]
    #[arg(long, env = "HASH_QUEUE", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub hash_queue: Option<u32>,
    /// read `JWT_SECRET` from this file instead (a trailing newline is dropped); setting
    /// both forms stops start-up
    #[arg(long, env = "JWT_SECRET_FILE")]
    pub jwt_secret_file: Option<PathBuf>,
    /// read `TWILIO_AUTH_TOKEN` from this file instead (a trailing newline is dropped);
    /// setting both forms stops start-up
    #[arg(long, env = "TWILIO_AUTH_TOKEN_FILE")]
    pub twilio_auth_token_file: Option<PathBuf>,
    /// read `ADMIN_TOKEN` from this file instead (a trailing newline is dropped); setting
    /// both forms stops start-up
    #[arg(long, env = "ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// serve `/metrics` only on this address (e.g. `10.0.0.5:9100`), not on `BIND`
    #[arg(long, env = "METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// refresh tokens and event tickets that name nothing, per client network per minute
    /// (counted in each API process's memory); past it 429 before any lookup. Wrong admin
    /// tokens have an allowance of this size of their own (past it 429 before the compare)
    #[arg(long, env = "TOKEN_FAILURES_PER_IP_PER_MINUTE", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub token_failures_per_ip_per_minute: u32,
    /// seconds (7 days) that expired or revoked refresh tokens, events and the bodies of
    /// sent or failed messages are kept before the hourly prune removes them
    #[arg(long, env = "DATA_RETENTION", default_value_t = 604_800, value_parser = clap::value_parser!(u64).range(60..))]
    pub data_retention: u64,
    /// days the audit log (`security_events`, SPEC §12) is kept before the hourly prune
    /// removes older rows; 0 keeps every row
    #[arg(long, env = "AUDIT_RETENTION_DAYS", default_value_t = 90)]
    pub audit_retention_days: u32,
    /// also write each audit event, once committed, as one JSON line to stdout (for a log
    /// shipper); the database rows are written either way
    #[arg(long, env = "AUDIT_LOG_STDOUT", default_value_t = false, action = clap::ArgAction::Set)]
    pub audit_log_stdout: bool,
    /// let outbound webhooks (SPEC §12) reach loopback, private and link-local addresses,
    /// checked as each name resolves [default: `true` in development, `false` in
    /// production]; production takes only `https://` targets either way
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE", action = clap::ArgAction::Set)]
    pub webhook_allow_private: Option<bool>,
    /// live event streams one account holds open per API process; one more ends the
    /// account's oldest
    #[arg(long, env = "EVENT_STREAMS_PER_ACCOUNT", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub event_streams_per_account: u32,
    /// `/auth/sms/start` per number per UTC hour (both purposes, with or without an
    /// account)
    #[arg(long, env = "SMS_STARTS_PER_NUMBER_PER_HOUR", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub sms_starts_per_number_per_hour: u32,
    /// `/auth/sms/start` per client network per UTC hour
    #[arg(long, env = "SMS_STARTS_PER_IP_PER_HOUR", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub sms_starts_per_ip_per_hour: u32,
    /// segments past the budget kept for verified numbers: owner SMS may spend all of it,
    /// starts to an account's number half; past it every SMS answers 503 [default: 10 %
    /// of the budget]
    #[arg(long, env = "SMS_BUDGET_RESERVE")]
    pub sms_budget_reserve: Option<u32>,
    /// owner SMS (login and two-step codes, test messages) per account per UTC hour;
    /// notices are counted, never refused
    #[arg(long, env = "SMS_OWNER_PER_ACCOUNT_PER_HOUR", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub sms_owner_per_account_per_hour: u32,
    /// wrong codes per number per 15 min at sign-in by code and reset (and, counted apart,
    /// at the two-step code step); past it 429, the guess unchecked
    #[arg(long, env = "CODE_FAILURES_PER_NUMBER", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub code_failures_per_number: u32,
    /// wrong codes per client network per 15 min at those doors
    #[arg(long, env = "CODE_FAILURES_PER_IP", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub code_failures_per_ip: u32,
    /// with `PHONEREG_ENV=production`, `SMS_TEST_NUMBERS` stops start-up unless this is
    /// `true` (app-store review)
    #[arg(long, env = "SMS_TEST_NUMBERS_IN_PRODUCTION", default_value_t = false, action = clap::ArgAction::Set)]
    pub sms_test_numbers_in_production: bool,
    /// adds the documented scripted test numbers on `+1 206 555-01XX` (code `000000`,
    /// README "Test numbers") to `SMS_TEST_NUMBERS` [default: `true` in development,
    /// `false` in production]
    #[arg(long, env = "SMS_TEST_PRESETS", action = clap::ArgAction::Set)]
    pub sms_test_presets: Option<bool>,
    /// live event streams per API process in all; past it 503 with `Retry-After`
    #[arg(long, env = "EVENT_STREAMS_MAX", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub event_streams_max: u32,
    /// bot challenge asked on the requests that would send a claim or a start: `none`,
    /// `turnstile`, `hcaptcha` or `recaptcha` (v2); any but `none` needs
    /// `CAPTCHA_SITE_KEY` and `CAPTCHA_SECRET`
    #[arg(long, env = "CAPTCHA_PROVIDER", value_enum, default_value_t = CaptchaProviderSetting::None)]
    pub captcha_provider: CaptchaProviderSetting,
    /// the provider's public site key, sent to clients for its widget
    #[arg(long, env = "CAPTCHA_SITE_KEY")]
    pub captcha_site_key: Option<String>,
    /// the provider's secret key, sent to its siteverify with each token
    #[arg(long, env = "CAPTCHA_SECRET", hide_env_values = true)]
    pub captcha_secret: Option<Secret>,
    /// where tokens are checked [default: the provider's siteverify URL]
    #[arg(long, env = "CAPTCHA_VERIFY_URL", value_parser = parse_public_url)]
    pub captcha_verify_url: Option<String>,
    /// `risky` (a token only once the client network sent `CAPTCHA_FREE_SENDS_PER_HOUR`
    /// this hour, or the destination's range or country is past half its pause threshold)
    /// or `always`
    #[arg(long, env = "CAPTCHA_MODE", value_enum, default_value_t = CaptchaModeSetting::Risky)]
    pub captcha_mode: CaptchaModeSetting,
    /// codes (claims and starts) a client network gets per UTC hour before `risky` mode
    /// asks for a token
    #[arg(long, env = "CAPTCHA_FREE_SENDS_PER_HOUR", default_value_t = 3)]
    pub captcha_free_sends_per_hour: u32,
    /// when the provider cannot be reached or fails: `allow` the request (the SMS caps
    /// and the fraud guard still hold) or `deny` it (503)
    #[arg(long, env = "CAPTCHA_ON_ERROR", value_enum, default_value_t = CaptchaOnError::Allow)]
    pub captcha_on_error: CaptchaOnError,
    /// live event streams per client (IPv4 address or IPv6 /64) per API process, and 4×
    /// as many per IPv6 /56, 16× per /48, whatever accounts they belong to; past it 429
    /// with `Retry-After`. The default keeps one /48 below `EVENT_STREAMS_MAX`
    #[arg(long, env = "EVENT_STREAMS_PER_CLIENT", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub event_streams_per_client: u32,
    /// `text` (a readable line per event) or `json` (one JSON object per line, with the
    /// request's span fields, for a log collector)
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// OTLP/HTTP collector (`http://127.0.0.1:4318`): spans of every request and of each
    /// SMS's delivery are sent to its `/v1/traces`; unset, nothing is traced. The SDK also
    /// reads `OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT`, `OTEL_BSP_*`,
    /// `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_TRACES_SAMPLER`
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_parser = parse_public_url)]
    pub otel_exporter_otlp_endpoint: Option<String>,
    /// the traces URL itself, used as it is (wins over `OTEL_EXPORTER_OTLP_ENDPOINT`)
    #[arg(long, env = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", value_parser = parse_public_url)]
    pub otel_exporter_otlp_traces_endpoint: Option<String>,
    /// `http/protobuf`, the only OTLP transport built in (not gRPC)
    #[arg(long, env = "OTEL_EXPORTER_OTLP_PROTOCOL", default_value = "http/protobuf", value_parser = ["http/protobuf"])]
    pub otel_exporter_otlp_protocol: String,
    /// `service.name` of the exported spans
    #[arg(long, env = "OTEL_SERVICE_NAME", default_value = "phonereg-api")]
    pub otel_service_name: String,
    /// none serves the API; `migrate` only applies the database migrations
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the process does (`phonereg-api [COMMAND]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Apply the pending database migrations (under a lock, so replicas that start
    /// together do not race) and exit; needs only `DATABASE_URL`
    Migrate,
}

/// `LOG_FORMAT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Readable lines (colours on a terminal).
    Text,
    /// One JSON object per line.
    Json,
}

/// `CAPTCHA_PROVIDER` (SPEC §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CaptchaProviderSetting {
    /// No bot challenge.
    None,
    /// Cloudflare Turnstile.
    Turnstile,
    /// hCaptcha.
    Hcaptcha,
    /// Google reCAPTCHA v2.
    Recaptcha,
}

/// `CAPTCHA_MODE` (SPEC §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CaptchaModeSetting {
    /// Ask only when the client or the destination looks risky.
    Risky,
    /// Ask on every claim and start.
    Always,
}

/// `CAPTCHA_ON_ERROR` (SPEC §11): what a provider failure means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CaptchaOnError {
    /// Let the request through; the caps and the guard still hold.
    Allow,
    /// Refuse it with 503.
    Deny,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SmsProvider {
    /// Prints messages to the log and keeps the last ones for `GET /api/v1/dev/sms`.
    Console,
    /// Twilio's Messages API.
    Twilio,
    /// The generic signed HTTP provider (SPEC §13).
    Http,
}

/// `SMS_TEST_NUMBERS`: E.164 number -> what follows its `=`: the fixed code it accepts,
/// then, after `;`, the steps of its script (SPEC §13, `domain::test_script`). No limit applies
/// to them (CI, app-store review); an entry without steps is sent nothing, a scripted
/// one goes through the outbox to the built-in `script` provider.
#[derive(Clone, Debug, Default)]
pub struct TestNumbers(pub Vec<(String, String)>);

impl TestNumbers {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn code_for(&self, e164: &str) -> Option<&str> {
        self.entry(e164)
            .map(|rest| rest.split_once(';').map_or(rest, |(code, _)| code))
    }

    /// The script of a scripted test number; None for other numbers (entries without
    /// steps included). The steps were checked when the setting was read.
    pub fn script_for(&self, e164: &str) -> Option<crate::domain::test_script::Script> {
        let (_, steps) = self.entry(e164)?.split_once(';')?;
        crate::domain::test_script::Script::parse(&steps.split(',').collect::<Vec<_>>()).ok()
    }

    /// Adds the documented presets (`SMS_TEST_PRESETS`) that no entry overrides.
    pub fn with_presets(mut self) -> Self {
        use crate::domain::test_script::{PRESET_CODE, PRESETS};
        for (number, steps) in PRESETS {
            if self.entry(number).is_none() {
                self.0
                    .push(((*number).to_owned(), format!("{PRESET_CODE};{steps}")));
            }
        }
        self
    }

    fn entry(&self, e164: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == e164)
            .map(|(_, c)| c.as_str())
    }
}

/// `+E164=CODE[;step,step…],…`: entries and steps share the comma, and an entry starts
/// with `+`, which no step does.
fn parse_test_numbers(s: &str) -> Result<TestNumbers, String> {
    let mut entries: Vec<String> = Vec::new();
    for part in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match entries.last_mut() {
            Some(entry) if !part.starts_with('+') && entry.contains(';') => {
                entry.push(',');
                entry.push_str(part);
            }
            _ => entries.push(part.to_owned()),
        }
    }
    entries
        .iter()
        .map(|entry| {
            let (number, rest) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry}: expected +E164=CODE[;step,…]"))?;
            let digits = number.strip_prefix('+').unwrap_or("");
            if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{number} is not an E.164 number"));
            }
            let (code, steps) = rest.split_once(';').unwrap_or((rest, ""));
            phonereg_types::validation::check_code(code)
                .map_err(|_| format!("the code for {number} must be 6 digits"))?;
            crate::domain::test_script::Script::parse(&steps.split(',').collect::<Vec<_>>())
                .map_err(|e| format!("{number}: {e}"))?;
            Ok((number.to_owned(), rest.to_owned()))
        })
        .collect::<Result<_, _>>()
        .map(TestNumbers)
}

/// `SMS_FRAUD_GUARD` (SPEC §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FraudMode {
    /// Pause ranges and countries that look pumped, and refuse sends to them.
    Enforce,
    /// Decide as `enforce` would, but only log and count: every SMS goes out.
    Record,
    /// No guard.
    Off,
}

/// `SMS_FRAUD_ALLOW`: destinations the fraud guard never pauses.
#[derive(Clone, Debug, Default)]
pub struct FraudAllow(pub Vec<AllowEntry>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowEntry {
    /// An E.164 prefix such as `+1415`.
    Prefix(String),
    /// An ISO alpha-2 country.
    Country(String),
}

impl FraudAllow {
    pub fn allows(&self, e164: &str, country: &str) -> bool {
        self.0.iter().any(|entry| match entry {
            AllowEntry::Prefix(p) => e164.starts_with(p.as_str()),
            AllowEntry::Country(c) => c == country,
        })
    }
}

fn parse_fraud_allow(s: &str) -> Result<FraudAllow, String> {
    s.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| match entry.strip_prefix('+') {
            Some(digits)
                if (1..=15).contains(&digits.len())
                    && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                // A bare calling code exempts every country behind it: `+1` is all of
                // NANP, the Caribbean premium ranges included (SPEC §11).
                match phone_number::leading_calling_code(digits) {
                    Some((code, _)) if code.len() < digits.len() => {
                        Ok(AllowEntry::Prefix(entry.to_owned()))
                    }
                    Some((_, Some(country))) => Err(format!(
                        "{entry} is a whole calling code and would exempt every country under it; add national digits (as in +1415) or name a country such as {country}"
                    )),
                    Some((_, None)) => Err(format!(
                        "{entry} is a whole calling code; add national digits (as in +1415)"
                    )),
                    None => Err(format!(
                        "{entry} does not begin with a country calling code and national digits, as +1415 does"
                    )),
                }
            }
            Some(_) => Err(format!("{entry} is not an E.164 prefix such as +1415")),
            None => parse_region(entry).map(AllowEntry::Country),
        })
        .collect::<Result<_, _>>()
        .map(FraudAllow)
}

fn parse_ratio(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
        _ => Err("must be a number ≥ 0 such as 1.0".into()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

/// Where the data lives; the scheme picks the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Self::Postgres(s.to_owned()));
        }
        // sqlite://rel.db is relative, sqlite:///abs.db absolute, anything else a path.
        let path = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
            .unwrap_or(s);
        if path.is_empty() || path.contains("://") {
            return Err("expected sqlite://file.db, a file path or postgres://…".into());
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }
}

/// A secret string whose `Debug` never shows the value.
#[derive(Clone)]
pub struct Secret(String);

/// One operator of the admin API: a name that goes on what they change, and their token.
pub struct Operator<'a> {
    pub name: &'a str,
    pub token: &'a str,
}

impl Secret {
    pub fn new(s: String) -> Self {
        Self(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        Ok(Self(s.to_owned()))
    }
}

/// `TRUSTED_PROXIES`: addresses and CIDR ranges, IPv4 and IPv6. A bare address is its
/// own /32 or /128.
#[derive(Clone, Debug, Default)]
pub struct IpList(Vec<IpNet>);

impl IpList {
    /// Whether `ip`, or the IPv4 address an IPv4-mapped IPv6 `ip` wraps, is listed.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let mapped = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.0
            .iter()
            .any(|net| net.contains(&ip) || mapped.is_some_and(|v4| net.contains(&v4)))
    }
}

impl std::str::FromStr for IpList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("{entry} is not an IP address or a CIDR range such as 10.0.0.0/8")
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

fn parse_region(s: &str) -> Result<String, String> {
    let region = phonereg_types::validation::parse_region(s).map_err(str::to_owned)?;
    if !phone_number::is_known_region(&region) {
        return Err(format!("unknown region {region}"));
    }
    Ok(region)
}

fn parse_countries(s: &str) -> Result<Countries, String> {
    s.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(parse_region)
        .collect::<Result<_, _>>()
        .map(Countries)
}

fn parse_public_url(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    if s.starts_with("http://") || s.starts_with("https://") {
        Ok(s.to_owned())
    } else {
        Err("must start with http:// or https://".into())
    }
}

/// Clap names the flag (`'--bind <BIND>'`); most people set the environment variable,
/// so name both: `BIND (--bind)`.
fn name_env_var(line: &str) -> String {
    let Some(start) = line.find("'--") else {
        return line.to_owned();
    };
    let Some(len) = line[start + 1..].find('\'') else {
        return line.to_owned();
    };
    let arg = &line[start + 1..start + 1 + len];
    match arg.split_once(" <") {
        Some((flag, var)) => {
            let var = var.trim_end_matches('>');
            format!(
                "{}{var} ({flag}){}",
                &line[..start],
                &line[start + 2 + len..]
            )
        }
        None => line.to_owned(),
    }
}

impl Config {
    /// Parses flags and environment; a bad value prints one line naming it and exits 2.
    pub fn from_env_and_args() -> Self {
        let config = Self::try_parse().unwrap_or_else(|e| {
            use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
            if matches!(e.kind(), DisplayHelp | DisplayVersion) {
                e.exit();
            }
            let rendered = e.to_string();
            let line = rendered.lines().next().unwrap_or("invalid configuration");
            eprintln!(
                "phonereg-api: {}",
                name_env_var(line.trim_start_matches("error: "))
            );
            std::process::exit(2);
        });
        let mut config = config;
        // `migrate` touches the database only: a migration job need not hold the secrets.
        if config.command == Some(Command::Migrate) {
            return config;
        }
        if let Err(line) = config.read_secret_files().and_then(|()| config.check()) {
            eprintln!("phonereg-api: {line}");
            std::process::exit(2);
        }
        config
    }

    /// Fills each secret from its `*_FILE` variant (Docker and Kubernetes secrets are
    /// files; environment variables leak into `/proc`, crash reports and child processes).
    pub fn read_secret_files(&mut self) -> Result<(), String> {
        let read = |var: &str, path: &PathBuf| -> Result<Secret, String> {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("{var}: cannot read {}: {e}", path.display()))?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            text.parse().map_err(|e| format!("{var}: {e}"))
        };
        if let Some(path) = &self.jwt_secret_file {
            if self.jwt_secret.is_some() {
                return Err("set JWT_SECRET or JWT_SECRET_FILE, not both".into());
            }
            self.jwt_secret = Some(read("JWT_SECRET_FILE", path)?);
        }
        if let Some(path) = &self.twilio_auth_token_file {
            if self.twilio_auth_token.is_some() {
                return Err("set TWILIO_AUTH_TOKEN or TWILIO_AUTH_TOKEN_FILE, not both".into());
            }
            self.twilio_auth_token = Some(read("TWILIO_AUTH_TOKEN_FILE", path)?);
        }
        if let Some(path) = &self.admin_token_file {
            if self.admin_token.is_some() {
                return Err("set ADMIN_TOKEN or ADMIN_TOKEN_FILE, not both".into());
            }
            self.admin_token = Some(read("ADMIN_TOKEN_FILE", path)?);
        }
        Ok(())
    }

    /// Rules that span settings (SPEC §7 "Tokens and sessions").
    pub fn check(&self) -> Result<(), String> {
        if self.phonereg_env == Environment::Production {
            // Tokens, cookies and Twilio credentials must not cross the network in clear.
            if !self.public_url.starts_with("https://") {
                return Err("PUBLIC_URL must be https:// when PHONEREG_ENV=production".into());
            }
            if !self.twilio_api_base.starts_with("https://") {
                return Err("TWILIO_API_BASE must be https:// when PHONEREG_ENV=production".into());
            }
            match &self.jwt_secret {
                None => return Err("JWT_SECRET is required when PHONEREG_ENV=production".into()),
                Some(s) if s.expose().len() < 32 => {
                    return Err("JWT_SECRET must be at least 32 bytes in production".into());
                }
                Some(_) => {}
            }
        }
        // Fixed codes on a production server are a door anyone who reads the docs can
        // walk through; app-store review is the one reason to open it, on purpose.
        if self.phonereg_env == Environment::Production
            && (!self.sms_test_numbers.is_empty() || self.sms_test_presets == Some(true))
            && !self.sms_test_numbers_in_production
        {
            return Err("SMS_TEST_NUMBERS is refused when PHONEREG_ENV=production unless SMS_TEST_NUMBERS_IN_PRODUCTION=true".into());
        }
        self.admin_operators()?;
        if self.captcha_provider != CaptchaProviderSetting::None
            && (self.captcha_site_key.as_deref().is_none_or(str::is_empty)
                || self
                    .captcha_secret
                    .as_ref()
                    .is_none_or(|s| s.expose().is_empty()))
        {
            return Err("CAPTCHA_PROVIDER needs CAPTCHA_SITE_KEY and CAPTCHA_SECRET".into());
        }
        if self.phonereg_env == Environment::Production
            && self
                .captcha_verify_url
                .as_deref()
                .is_some_and(|u| !u.starts_with("https://"))
        {
            // The secret travels with every token.
            return Err("CAPTCHA_VERIFY_URL must be https:// when PHONEREG_ENV=production".into());
        }
        for provider in self.sms_provider_list() {
            self.check_provider(provider)?;
        }
        Ok(())
    }

    /// `SMS_PROVIDERS`, or `SMS_PROVIDER` alone.
    pub fn sms_provider_list(&self) -> Vec<SmsProvider> {
        if self.sms_providers.is_empty() {
            vec![self.sms_provider]
        } else {
            self.sms_providers.clone()
        }
    }

    fn check_provider(&self, provider: SmsProvider) -> Result<(), String> {
        match provider {
            SmsProvider::Http => {
                let (Some(url), Some(secret)) = (&self.sms_http_url, &self.sms_http_secret) else {
                    return Err("SMS provider http needs SMS_HTTP_URL and SMS_HTTP_SECRET".into());
                };
                if self.phonereg_env == Environment::Production && !url.starts_with("https://") {
                    return Err("SMS_HTTP_URL must be https:// when PHONEREG_ENV=production".into());
                }
                standardwebhooks::Webhook::new(secret.expose())
                    .map_err(|_| "SMS_HTTP_SECRET must be whsec_ followed by base64".to_owned())?;
            }
            SmsProvider::Console if self.phonereg_env == Environment::Production => {
                return Err(
                    "SMS_PROVIDER=console is for development; use twilio in production".into(),
                );
            }
            SmsProvider::Twilio => {
                if self.twilio_account_sid.is_none() || self.twilio_auth_token.is_none() {
                    return Err(
                        "SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN".into(),
                    );
                }
                if self.twilio_from.is_none() && self.twilio_messaging_service_sid.is_none() {
                    return Err(
                        "SMS_PROVIDER=twilio needs TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID"
                            .into(),
                    );
                }
                // A Messaging Service has no number of its own to call or write from.
                if self.voice_enabled && self.voice_from().is_none() {
                    return Err("VOICE_ENABLED with Twilio needs VOICE_FROM or TWILIO_FROM".into());
                }
                if self.whatsapp_enabled && self.whatsapp_from().is_none() {
                    return Err(
                        "WHATSAPP_ENABLED with Twilio needs WHATSAPP_FROM or TWILIO_FROM".into(),
                    );
                }
                if self.whatsapp_enabled && self.whatsapp_content_sid.is_none() {
                    return Err("WHATSAPP_ENABLED with Twilio needs WHATSAPP_CONTENT_SID".into());
                }
            }
            SmsProvider::Console => {}
        }
        Ok(())
    }

    /// `VOICE_FROM` with its default.
    pub fn voice_from(&self) -> Option<String> {
        self.voice_from.clone().or_else(|| self.twilio_from.clone())
    }

    /// `WHATSAPP_FROM` with its default.
    pub fn whatsapp_from(&self) -> Option<String> {
        self.whatsapp_from
            .clone()
            .or_else(|| self.twilio_from.as_ref().map(|f| format!("whatsapp:{f}")))
    }

    /// `SMS_TEST_NUMBERS` with the presets added when `SMS_TEST_PRESETS` says so.
    pub fn with_test_presets(mut self) -> Self {
        let presets = self
            .sms_test_presets
            .unwrap_or(self.phonereg_env == Environment::Development);
        if presets {
            self.sms_test_numbers = std::mem::take(&mut self.sms_test_numbers).with_presets();
        }
        self
    }

    /// `WEBHOOK_ALLOW_PRIVATE` with its default: allowed in development only.
    pub fn webhook_allow_private(&self) -> bool {
        self.webhook_allow_private
            .unwrap_or(self.phonereg_env != Environment::Production)
    }

    /// SMS per UTC day kept past the budget for verified numbers (SPEC §10).
    pub fn sms_budget_reserve(&self) -> u32 {
        self.sms_budget_reserve
            .unwrap_or_else(|| self.sms_daily_budget.div_ceil(10))
    }

    /// Unverified claims over all countries per 24 h (SPEC §11).
    pub fn sms_fraud_global_unverified(&self) -> u32 {
        self.sms_fraud_global_unverified
            .unwrap_or_else(|| self.sms_daily_budget.div_ceil(5))
    }

    /// The operators of the admin API (SPEC §11): `ADMIN_TOKEN` as `admin`, and every
    /// `name:token` of `ADMIN_TOKENS`. Errors name the setting, never a token.
    pub fn admin_operators(&self) -> Result<Vec<Operator<'_>>, String> {
        let mut operators = Vec::new();
        if let Some(token) = &self.admin_token {
            operators.push(Operator {
                name: "admin",
                token: token.expose(),
            });
        }
        let listed = self.admin_tokens.as_ref().map_or("", Secret::expose);
        for (i, entry) in listed.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let Some((name, token)) = entry.split_once(':') else {
                return Err(format!("ADMIN_TOKENS entry {} is not name:token", i + 1));
            };
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!("ADMIN_TOKENS entry {} needs a name", i + 1));
            }
            operators.push(Operator { name, token });
        }
        for (i, op) in operators.iter().enumerate() {
            if op.token.len() < 32 {
                return Err(match op.name {
                    "admin" if i == 0 && self.admin_token.is_some() => {
                        "ADMIN_TOKEN must be at least 32 bytes".into()
                    }
                    name => format!("ADMIN_TOKENS: the token of {name} must be at least 32 bytes"),
                });
            }
            if operators[..i].iter().any(|o| o.name == op.name) {
                return Err(format!("ADMIN_TOKENS names {} twice", op.name));
            }
            if operators[..i].iter().any(|o| o.token == op.token) {
                return Err(format!(
                    "ADMIN_TOKENS: {} shares a token with another operator",
                    op.name
                ));
            }
        }
        Ok(operators)
    }

    /// Whether cookies get the `Secure` attribute.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Room for 64 waiting hashes on 2 cores: a 64-connection login benchmark is never
    /// refused, and the last in line waits about 64 / 100 hashes per second.
    pub fn hash_queue(&self) -> usize {
        self.hash_queue
            .map_or_else(|| 32 * self.hash_threads(), |n| n as usize)
    }

    /// Where spans go, if anywhere: the traces URL, or the collector's `/v1/traces`.
    pub fn otlp_traces_endpoint(&self) -> Option<String> {
        self.otel_exporter_otlp_traces_endpoint.clone().or_else(|| {
            self.otel_exporter_otlp_endpoint
                .as_ref()
                .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
        })
    }

    pub fn hash_threads(&self) -> usize {
        self.hash_threads.map_or_else(
            || std::thread::available_parallelism().map_or(2, usize::from),
            |n| n as usize,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_forms() {
        let sqlite = |p: &str| DatabaseUrl::Sqlite(PathBuf::from(p));
        assert_eq!("sqlite://data/x.db".parse(), Ok(sqlite("data/x.db")));
        assert_eq!("sqlite:///tmp/x.db".parse(), Ok(sqlite("/tmp/x.db")));
        assert_eq!("x.db".parse(), Ok(sqlite("x.db")));
        assert_eq!(
            "postgres://u:p@h/db".parse(),
            Ok(DatabaseUrl::Postgres("postgres://u:p@h/db".into()))
        );
        assert!("mysql://h/db".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn error_lines_name_the_environment_variable() {
        assert_eq!(
            name_env_var("invalid value 'foo' for '--bind <BIND>': invalid socket address syntax"),
            "invalid value 'foo' for BIND (--bind): invalid socket address syntax"
        );
        assert_eq!(name_env_var("something else"), "something else");
    }

    #[test]
    fn production_requires_a_long_secret() {
        let mut c = Config::parse_from(["x", "--phonereg-env", "production"]);
        assert!(c.check().is_err());
        c.jwt_secret = Some(Secret::new("short".into()));
        assert!(c.check().is_err());
        c.jwt_secret = Some(Secret::new("x".repeat(32)));
        assert!(
            c.check().is_err(),
            "the console SMS provider is refused in production"
        );
        c.sms_provider = SmsProvider::Twilio;
        assert!(c.check().is_err(), "twilio needs credentials");
        c.twilio_account_sid = Some("AC123".into());
        c.twilio_auth_token = Some(Secret::new("token".into()));
        c.twilio_from = Some("+15005550006".into());
        assert!(
            c.check().is_err(),
            "http:// PUBLIC_URL is refused in production"
        );
        c.public_url = "https://phonereg.example".into();
        assert!(c.check().is_ok());
        c.twilio_api_base = "http://twilio.internal".into();
        assert!(
            c.check().is_err(),
            "http:// TWILIO_API_BASE is refused in production"
        );
    }

    #[test]
    fn test_numbers_need_an_explicit_flag_in_production() {
        let mut c = Config::parse_from([
            "x",
            "--phonereg-env",
            "production",
            "--sms-provider",
            "twilio",
            "--twilio-account-sid",
            "AC123",
            "--twilio-auth-token",
            "token",
            "--twilio-from",
            "+15005550006",
            "--public-url",
            "https://phonereg.example",
            "--sms-test-numbers",
            "+15005550100=123456",
        ]);
        c.jwt_secret = Some(Secret::new("x".repeat(32)));
        let refused = c.check().expect_err("fixed codes in production");
        assert!(refused.contains("SMS_TEST_NUMBERS"), "{refused}");
        c.sms_test_numbers_in_production = true;
        assert!(c.check().is_ok());
        c.phonereg_env = Environment::Development;
        c.sms_test_numbers_in_production = false;
        assert!(c.check().is_ok(), "development takes them as they are");
    }

    #[test]
    fn secrets_can_come_from_files() {
        let dir = std::env::temp_dir().join(format!("phonereg-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("jwt");
        std::fs::write(&file, "s".repeat(40) + "\n").expect("write");
        let mut c = Config::parse_from(["x", "--jwt-secret-file", file.to_str().expect("utf8")]);
        c.read_secret_files().expect("read");
        assert_eq!(
            c.jwt_secret.as_ref().map(Secret::expose),
            Some("s".repeat(40).as_str())
        );
        assert!(c.read_secret_files().is_err(), "both forms set");
        let mut c = Config::parse_from(["x", "--twilio-auth-token-file", "/nonexistent/x"]);
        assert!(c.read_secret_files().is_err());
        let admin = dir.join("admin");
        std::fs::write(&admin, "a".repeat(32) + "\n").expect("write");
        let mut c = Config::parse_from(["x", "--admin-token-file", admin.to_str().expect("utf8")]);
        c.read_secret_files().expect("read");
        assert_eq!(
            c.admin_token.as_ref().map(Secret::expose),
            Some("a".repeat(32).as_str())
        );
        assert!(c.check().is_ok());
    }

    #[test]
    fn fraud_allow_refuses_a_bare_calling_code() {
        // `+1` would exempt every NANP country, the Caribbean premium ranges included.
        for (bare, hint) in [("+1", "US"), ("+44", "GB"), ("+7", "RU"), ("+599", "CW")] {
            let err = Config::try_parse_from(["x", "--sms-fraud-allow", &format!("+4420,{bare}")])
                .err()
                .unwrap_or_else(|| panic!("{bare} alone is refused"))
                .to_string();
            let line = err.lines().next().unwrap_or_default();
            assert!(
                line.contains(bare) && line.contains(hint) && line.contains("SMS_FRAUD_ALLOW"),
                "{bare}: {line}"
            );
        }
        // Shorter than any calling code is wider still.
        assert!(parse_fraud_allow("+8").is_err());
        let allow = parse_fraud_allow("+1415, +4420, +5999, us").expect("longer prefixes");
        assert!(allow.allows("+14155552671", "US"));
        assert!(allow.allows("+12125550100", "US"), "US named as a country");
        assert!(!allow.allows("+18765550100", "JM"));
    }

    #[test]
    fn allowed_countries_are_parsed_and_upper_cased() {
        assert_eq!(
            parse_countries("us, gb").map(|c| c.0),
            Ok(vec!["US".into(), "GB".into()])
        );
        assert!(parse_countries("us,zz1").is_err());
        assert!(Countries::default().allows("FR"));
    }
}
