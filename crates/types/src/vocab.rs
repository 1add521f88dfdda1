//! The words the API and the SPA share for states and kinds. Each is an enum here and
//! becomes text only where it is stored (with the `diesel` feature, the enum is the
//! column's Rust type: rows never hold a word this build does not know) or sent (serde).
//!
//! Long: every shared vocabulary, one macro call each, so a reader finds every word in
//! one place.

use serde::{Deserialize, Serialize};

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(
            feature = "diesel",
            derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow),
            diesel(sql_type = diesel::sql_types::Text)
        )]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every word, in the order they are declared.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word as stored and sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The word back; None for a word this build does not know.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[cfg(feature = "diesel")]
        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        #[cfg(feature = "diesel")]
        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                Self::parse(&text).ok_or_else(|| {
                    format!(concat!("unknown ", stringify!($name), " {:?}"), text).into()
                })
            }
        }
    };
}

vocabulary! {
    /// Verification state of a phone record.
    PhoneStatus {
        /// No code confirmed yet.
        Unverified => "unverified",
        /// Confirmed by a code.
        Verified => "verified",
    }
}

vocabulary! {
    /// What libphonenumber says a number is (SPEC §7 `number_type`).
    NumberType {
        Mobile => "mobile",
        FixedLine => "fixed_line",
        FixedLineOrMobile => "fixed_line_or_mobile",
        TollFree => "toll_free",
        PremiumRate => "premium_rate",
        SharedCost => "shared_cost",
        Voip => "voip",
        PersonalNumber => "personal_number",
        Pager => "pager",
        Uan => "uan",
        Voicemail => "voicemail",
        Unknown => "unknown",
    }
}

impl NumberType {
    /// Types that can receive SMS (SPEC §7).
    pub fn takes_sms(self) -> bool {
        matches!(
            self,
            NumberType::Mobile
                | NumberType::FixedLineOrMobile
                | NumberType::Voip
                | NumberType::PersonalNumber
        )
    }
}

vocabulary! {
    /// What a code proving possession of a number is good for (SPEC §8), stored with the
    /// code; never sent to clients. A code is bound to its purpose: a sign-in code cannot
    /// reset a password, nor the reverse.
    CodePurpose {
        SignIn => "sign_in",
        PasswordReset => "password_reset",
        /// Turning the second factor off (`POST /users/me/two-factor/code`).
        TwoFactor => "two_factor",
        /// The second factor of one password login, bound to its `mfa_token`.
        Login => "login",
    }
}

vocabulary! {
    /// Where an SMS is, in Twilio's status vocabulary (SPEC §7), plus `canceled`: a code
    /// message whose code died before it was sent.
    MessageStatus {
        Queued => "queued",
        Sending => "sending",
        Sent => "sent",
        Delivered => "delivered",
        Undelivered => "undelivered",
        Failed => "failed",
        Canceled => "canceled",
    }
}

impl MessageStatus {
    /// How far along a message is: statuses only move to a later stage, and the final
    /// ones share the last stage, so one final report never overwrites another.
    pub fn stage(self) -> u8 {
        match self {
            MessageStatus::Queued => 0,
            MessageStatus::Sending => 1,
            MessageStatus::Sent => 2,
            MessageStatus::Delivered
            | MessageStatus::Undelivered
            | MessageStatus::Failed
            | MessageStatus::Canceled => 3,
        }
    }

    /// Nothing more will happen to the message.
    pub fn is_final(self) -> bool {
        self.stage() == 3
    }
}

vocabulary! {
    /// Who carried an SMS (SPEC §13): stored with each message and shown in `last_message`
    /// and history. Each provider turns its own wire format into PhoneReg's statuses.
    SmsProviderName {
        /// Development: printed to the server log and kept at `/api/v1/dev/sms`.
        Console => "console",
        /// Twilio's Messages API.
        Twilio => "twilio",
        /// The generic signed HTTP provider (`SMS_HTTP_URL`).
        Http => "http",
        /// The built-in provider of scripted test numbers (`SMS_TEST_NUMBERS`): nothing
        /// leaves the machine.
        Script => "script",
    }
}

vocabulary! {
    /// Where an SMS provider's circuit stands (SPEC §13, `GET /admin/sms/providers`).
    SmsCircuitState {
        /// In use.
        Closed => "closed",
        /// Skipped by every process after `SMS_CIRCUIT_FAILURES` failures in a minute.
        Open => "open",
        /// Open for two minutes: tried again; a success closes it, a failure opens it.
        HalfOpen => "half_open",
        /// Switched off by an operator: skipped until switched on.
        Disabled => "disabled",
    }
}

vocabulary! {
    /// How a message reaches the handset (SPEC §13).
    Channel {
        /// A text message.
        Sms => "sms",
        /// A phone call that says the code (Twilio Calls); the only way to a fixed line.
        Voice => "voice",
        /// A WhatsApp message from an approved template (Twilio Messages, `whatsapp:`).
        Whatsapp => "whatsapp",
    }
}

/// A code goes by SMS unless something says otherwise (an old client's answer has no
/// `channel`).
impl Default for Channel {
    fn default() -> Self {
        Channel::Sms
    }
}

vocabulary! {
    /// What happened to a phone record (`GET …/history`).
    HistoryKind {
        Added => "added",
        CodeSent => "code_sent",
        Delivered => "delivered",
        Failed => "failed",
        Verified => "verified",
        Changed => "changed",
        Deleted => "deleted",
        TestSent => "test_sent",
        SignInCodeSent => "sign_in_code_sent",
        PasswordResetCodeSent => "password_reset_code_sent",
        PasswordReset => "password_reset",
        TwoFactorCodeSent => "two_factor_code_sent",
        TwoFactorOn => "two_factor_on",
        TwoFactorOff => "two_factor_off",
        RecoveryCodeUsed => "recovery_code_used",
        RecoveryCodesRenewed => "recovery_codes_renewed",
    }
}

vocabulary! {
    /// The `event:` of the live stream.
    EventKind {
        /// `data:` is the phone object.
        Phone => "phone",
        /// `data:` is a [`crate::MessageEvent`].
        Message => "message",
    }
}

vocabulary! {
    /// What an SMS is for (stored with it; never sent to clients).
    MessageKind {
        /// A phone record's verification code.
        Code => "code",
        SignInCode => "sign_in_code",
        PasswordResetCode => "password_reset_code",
        TwoFactorCode => "two_factor_code",
        LoginCode => "login_code",
        /// Change notices, password-changed notices.
        Notice => "notice",
        Test => "test",
    }
}

impl CodePurpose {
    /// The kind of the SMS that carries such a code.
    pub fn message_kind(self) -> MessageKind {
        match self {
            CodePurpose::SignIn => MessageKind::SignInCode,
            CodePurpose::PasswordReset => MessageKind::PasswordResetCode,
            CodePurpose::TwoFactor => MessageKind::TwoFactorCode,
            CodePurpose::Login => MessageKind::LoginCode,
        }
    }

    /// The phone history kind written when such a code is sent.
    pub fn history_kind(self) -> HistoryKind {
        match self {
            CodePurpose::SignIn => HistoryKind::SignInCodeSent,
            CodePurpose::PasswordReset => HistoryKind::PasswordResetCodeSent,
            CodePurpose::TwoFactor | CodePurpose::Login => HistoryKind::TwoFactorCodeSent,
        }
    }
}

impl From<crate::SmsCodePurpose> for CodePurpose {
    fn from(p: crate::SmsCodePurpose) -> Self {
        match p {
            crate::SmsCodePurpose::SignIn => CodePurpose::SignIn,
            crate::SmsCodePurpose::PasswordReset => CodePurpose::PasswordReset,
        }
    }
}

vocabulary! {
    /// What a fraud-guard pause or decision is about (SPEC §9, §11).
    FraudScope {
        /// A destination range: calling code and first national digits.
        Range => "range",
        /// A whole country.
        Country => "country",
        /// Every country together: the global ceiling (a refusal, never a pause).
        Global => "global",
    }
}

vocabulary! {
    /// The kinds of SMS the daily budget tells apart (SPEC §5, §10): each may spend up to
    /// its own ceiling of the one counter. Named in `sms.budget_exhausted`.
    SmsKind {
        /// Codes to a number the caller has not verified: `SMS_DAILY_BUDGET`.
        Claim => "claim",
        /// Sign-in and reset codes to verified numbers: the budget and half its reserve.
        Start => "start",
        /// Codes and notices for an account's owner: the budget and all its reserve.
        Owner => "owner",
    }
}

vocabulary! {
    /// What the fraud guard or an operator decided (SPEC §9).
    FraudAction {
        /// A pause taken in `enforce` mode.
        Pause => "pause",
        /// A pause taken in `record` mode: logged and listed, never applied.
        Record => "record",
        /// A send refused by a pause or the global ceiling (metrics and logs only).
        Refuse => "refuse",
        /// An operator lifted a pause.
        Lift => "lift",
    }
}

vocabulary! {
    /// The kinds of problem (RFC 9457 `type`, as `https://phonereg.dev/problems/{word}`)
    /// the API answers with (SPEC §4).
    ProblemType {
        ValidationError => "validation-error",
        MalformedRequest => "malformed-request",
        Unauthorized => "unauthorized",
        PasswordRequired => "password-required",
        WrongPassword => "wrong-password",
        RecoveryCodeRequired => "recovery-code-required",
        PhoneTaken => "phone-taken",
        Forbidden => "forbidden",
        NotFound => "not-found",
        MethodNotAllowed => "method-not-allowed",
        Conflict => "conflict",
        CodeGone => "code-gone",
        PayloadTooLarge => "payload-too-large",
        UnsupportedMediaType => "unsupported-media-type",
        WrongCode => "wrong-code",
        RateLimited => "rate-limited",
        SmsRangePaused => "sms-range-paused",
        Unavailable => "unavailable",
        Internal => "internal",
        /// The bot challenge is needed (SPEC §11); the body says how to show it.
        CaptchaRequired => "captcha-required",
        /// The asked-for channel (voice, WhatsApp) is off, not offered for this number's
        /// country or type, or already used for the live code (SPEC §13).
        ChannelUnavailable => "channel-unavailable",
        /// The asked-for channel opens later: `Retry-After` and the code's `channels`
        /// say when (SPEC §13: once the first message is `CHANNEL_FALLBACK_AFTER` old or
        /// failed).
        ChannelNotYet => "channel-not-yet",
    }
}

impl ProblemType {
    /// Where every problem type lives; the word follows.
    pub const BASE: &'static str = "https://phonereg.dev/problems/";

    /// The `type` URI of the problem.
    pub fn uri(self) -> String {
        format!("{}{}", Self::BASE, self.as_str())
    }

    /// The problem type a `type` URI names, if this build knows it.
    pub fn from_uri(uri: &str) -> Option<Self> {
        uri.strip_prefix(Self::BASE).and_then(Self::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_round_trips_through_text_and_json() {
        for s in MessageStatus::ALL {
            assert_eq!(MessageStatus::parse(s.as_str()), Some(*s));
            let json = serde_json::to_string(s).expect("json");
            assert_eq!(json, format!("\"{s}\""));
        }
        for k in HistoryKind::ALL {
            assert_eq!(HistoryKind::parse(k.as_str()), Some(*k));
        }
        for k in MessageKind::ALL {
            assert_eq!(MessageKind::parse(k.as_str()), Some(*k));
        }
        for k in NumberType::ALL {
            assert_eq!(NumberType::parse(k.as_str()), Some(*k));
            let json = serde_json::to_string(k).expect("json");
            assert_eq!(json, format!("\"{k}\""));
        }
        for p in CodePurpose::ALL {
            assert_eq!(CodePurpose::parse(p.as_str()), Some(*p));
        }
        assert_eq!(
            serde_json::to_string(&PhoneStatus::Verified).expect("json"),
            "\"verified\""
        );
        assert_eq!(EventKind::parse("phone"), Some(EventKind::Phone));
        assert_eq!(MessageStatus::parse("read"), None);
        for p in SmsProviderName::ALL {
            assert_eq!(SmsProviderName::parse(p.as_str()), Some(*p));
        }
        assert_eq!(Channel::parse("sms"), Some(Channel::Sms));
    }

    #[test]
    fn the_sms_types_are_spec_s_four() {
        let takes: Vec<&str> = NumberType::ALL
            .iter()
            .filter(|t| t.takes_sms())
            .map(|t| t.as_str())
            .collect();
        assert_eq!(
            takes,
            ["mobile", "fixed_line_or_mobile", "voip", "personal_number"]
        );
        assert_eq!(NumberType::ALL.len(), 12, "SPEC §7 names twelve types");
    }

    #[test]
    fn problem_types_are_uris_under_one_base() {
        for t in ProblemType::ALL {
            assert_eq!(ProblemType::from_uri(&t.uri()), Some(*t));
        }
        assert_eq!(ProblemType::from_uri("about:blank"), None);
        assert_eq!(
            ProblemType::from_uri("https://phonereg.dev/problems/password-required-x"),
            None
        );
    }

    #[test]
    fn stages_only_move_forward_and_finals_tie() {
        use MessageStatus::*;
        assert!(Queued.stage() < Sending.stage() && Sending.stage() < Sent.stage());
        assert!(Sent.stage() < Delivered.stage());
        assert_eq!(Delivered.stage(), Failed.stage());
        assert!(Canceled.is_final() && !Sent.is_final());
    }
}

vocabulary! {
    /// The bot-challenge provider whose widget the SPA shows (SPEC §11).
    CaptchaProvider {
        Turnstile => "turnstile",
        Hcaptcha => "hcaptcha",
        Recaptcha => "recaptcha",
    }
}

vocabulary! {
    /// When the API asks for a bot-challenge token (SPEC §11).
    CaptchaMode {
        /// Only when the client or the destination looks risky.
        Risky => "risky",
        /// On every request that would send a claim or a start.
        Always => "always",
    }
}

vocabulary! {
    /// What an audit event records (SPEC §12 `type`). Token refreshes and reads by users
    /// are not recorded; every admin call is (`admin.*`).
    SecurityEventType {
        /// An account was created.
        Registered => "auth.registered",
        /// A right password (a session, or the code step of two-step sign-in).
        LoginSucceeded => "auth.login.succeeded",
        /// A wrong password or an unknown email.
        LoginFailed => "auth.login.failed",
        /// Signed in with a code sent to the verified number.
        SmsSignInSucceeded => "auth.sms_sign_in.succeeded",
        /// A wrong code at sign-in by code.
        SmsSignInFailed => "auth.sms_sign_in.failed",
        /// A password-reset code was asked for a number with an account.
        PasswordResetRequested => "auth.password_reset.requested",
        /// The password was reset with a code.
        PasswordResetCompleted => "auth.password_reset.completed",
        /// A session was ended by its holder.
        Logout => "auth.logout",
        /// A rotated refresh token came back: its session was revoked.
        RefreshReuseDetected => "auth.refresh_reuse_detected",
        /// Two-step sign-in was turned on.
        TwoFactorEnabled => "two_factor.enabled",
        /// Two-step sign-in was turned off (by the owner or an operator).
        TwoFactorDisabled => "two_factor.disabled",
        /// A wrong code or recovery code at the login's code step.
        TwoFactorChallengeFailed => "two_factor.challenge_failed",
        /// A new set of recovery codes was made.
        RecoveryCodesCreated => "recovery_codes.created",
        /// A recovery code was used up.
        RecoveryCodeUsed => "recovery_codes.used",
        /// A phone number was added to the account.
        PhoneAdded => "phone.added",
        /// A number was verified with its code.
        PhoneVerified => "phone.verified",
        /// A wrong verification code.
        PhoneVerifyFailed => "phone.verify_failed",
        /// A new number waits for its code in place of the verified one.
        PhoneChangeRequested => "phone.change_requested",
        /// The new number replaced the old one.
        PhoneChanged => "phone.changed",
        /// The number was removed (by the owner or an operator).
        PhoneRemoved => "phone.removed",
        /// The number replied STOP (the provider's opt-out callback).
        PhoneOptedOut => "phone.opted_out",
        /// The fraud guard paused a destination range or country.
        FraudPause => "fraud.pause",
        /// A fraud-guard pause was lifted.
        FraudLift => "fraud.lift",
        /// The account was deleted (by its owner or an operator).
        AccountDeleted => "account.deleted",
        /// An operator read the audit log.
        AdminAuditRead => "admin.audit_events.read",
        /// An operator read the fraud guard's pauses or decisions, or the SMS providers.
        AdminFraudRead => "admin.sms.read",
        /// An operator lifted a fraud-guard pause.
        AdminPauseLifted => "admin.sms.pause_lifted",
        /// An operator switched an SMS provider off.
        AdminProviderDisabled => "admin.sms.provider_disabled",
        /// An operator switched an SMS provider on again.
        AdminProviderEnabled => "admin.sms.provider_enabled",
        /// An operator looked accounts up or read one.
        AdminUserRead => "admin.users.read",
        /// An operator freed an account's number.
        AdminPhoneReleased => "admin.users.phone_released",
        /// An operator turned an account's two-step sign-in off.
        AdminTwoFactorDisabled => "admin.users.two_factor_disabled",
        /// An operator revoked an account's sessions.
        AdminSessionsRevoked => "admin.users.sessions_revoked",
        /// An operator cleared an account's login lock.
        AdminUserUnlocked => "admin.users.unlocked",
        /// An operator deleted an account.
        AdminUserDeleted => "admin.users.deleted",
        /// An operator listed or read outbound webhooks or their deliveries.
        AdminWebhooksRead => "admin.webhooks.read",
        /// An operator registered an outbound webhook endpoint.
        AdminWebhookCreated => "admin.webhooks.created",
        /// An operator changed an endpoint (its URL, types, description or status).
        AdminWebhookUpdated => "admin.webhooks.updated",
        /// An operator deleted an endpoint.
        AdminWebhookDeleted => "admin.webhooks.deleted",
        /// An operator rotated an endpoint's signing secret.
        AdminWebhookSecretRotated => "admin.webhooks.secret_rotated",
        /// An operator sent an endpoint a test event.
        AdminWebhookTested => "admin.webhooks.tested",
        /// An operator queued an event again for an endpoint.
        AdminWebhookRedelivered => "admin.webhooks.redelivered",
    }
}

impl SecurityEventType {
    /// The types `pattern` names: one exact type, or every type under `prefix.*`.
    pub fn matching(pattern: &str) -> Vec<SecurityEventType> {
        match pattern.strip_suffix(".*") {
            Some(prefix) => Self::ALL
                .iter()
                .copied()
                .filter(|t| {
                    t.as_str()
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('.'))
                })
                .collect(),
            None => Self::parse(pattern).into_iter().collect(),
        }
    }
}

vocabulary! {
    /// Who caused an audit event (SPEC §12 `actor`).
    AuditActor {
        /// The account's holder (or someone presenting its credentials).
        User => "user",
        /// An operator, by their token's name.
        Admin => "admin",
        /// PhoneReg itself: the fraud guard, a provider's callback.
        System => "system",
    }
}

vocabulary! {
    /// How the recorded attempt ended (SPEC §12 `outcome`).
    AuditOutcome {
        Success => "success",
        Failure => "failure",
    }
}

vocabulary! {
    /// Whether an outbound webhook endpoint receives events (SPEC §12).
    WebhookStatus {
        Enabled => "enabled",
        Disabled => "disabled",
    }
}

vocabulary! {
    /// How one attempt to post a webhook ended.
    WebhookDeliveryResult {
        /// A 2xx within 15 s.
        Delivered => "delivered",
        /// Any other answer, a timeout or a refused connection: retried on schedule.
        Failed => "failed",
        /// The receiver answered 410: the endpoint is disabled.
        Gone => "gone",
        /// The target resolved to an address the SSRF rule forbids: retried on schedule.
        Refused => "refused",
    }
}

vocabulary! {
    /// What an outbound webhook tells (SPEC §12 "Event types"): the audit types that
    /// concern accounts and numbers, and the SMS and fraud-guard facts.
    WebhookEventType {
        Registered => "auth.registered",
        LoginSucceeded => "auth.login.succeeded",
        LoginFailed => "auth.login.failed",
        SmsSignInSucceeded => "auth.sms_sign_in.succeeded",
        SmsSignInFailed => "auth.sms_sign_in.failed",
        PasswordResetRequested => "auth.password_reset.requested",
        PasswordResetCompleted => "auth.password_reset.completed",
        Logout => "auth.logout",
        RefreshReuseDetected => "auth.refresh_reuse_detected",
        TwoFactorEnabled => "two_factor.enabled",
        TwoFactorDisabled => "two_factor.disabled",
        TwoFactorChallengeFailed => "two_factor.challenge_failed",
        RecoveryCodesCreated => "recovery_codes.created",
        RecoveryCodeUsed => "recovery_codes.used",
        PhoneAdded => "phone.added",
        PhoneVerified => "phone.verified",
        PhoneVerifyFailed => "phone.verify_failed",
        PhoneChangeRequested => "phone.change_requested",
        PhoneChanged => "phone.changed",
        PhoneRemoved => "phone.removed",
        PhoneOptedOut => "phone.opted_out",
        AccountDeleted => "account.deleted",
        /// A message reached the handset (the provider's receipt).
        SmsDelivered => "sms.delivered",
        /// A message failed or was undeliverable (the provider's receipt).
        SmsFailed => "sms.failed",
        /// The fraud guard paused a destination range or country.
        FraudRangePaused => "fraud.range_paused",
        /// A fraud-guard pause was lifted.
        FraudPauseLifted => "fraud.pause_lifted",
        /// The day's SMS budget was spent: texts wait for the next day (UTC).
        SmsBudgetExhausted => "sms.budget_exhausted",
        /// `POST /admin/webhooks/{id}/test`: sent to that endpoint only.
        Test => "webhook.test",
    }
}

impl WebhookEventType {
    /// The webhook an audit event becomes, if any: admin reads and acts are for the
    /// audit log only; the fraud guard's pause and lift take their webhook names.
    pub fn of_audit(kind: SecurityEventType) -> Option<Self> {
        use SecurityEventType as A;
        Some(match kind {
            A::FraudPause => Self::FraudRangePaused,
            A::FraudLift => Self::FraudPauseLifted,
            other if other.as_str().starts_with("admin.") => return None,
            other => return Self::parse(other.as_str()),
        })
    }

    /// Whether an endpoint's `event_types` entry takes this type: the exact name, `*`,
    /// or `prefix.*` for every type under `prefix.`.
    pub fn matches(self, pattern: &str) -> bool {
        if pattern == "*" {
            return true;
        }
        match pattern.strip_suffix(".*") {
            Some(prefix) => self
                .as_str()
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('.')),
            None => self.as_str() == pattern,
        }
    }

    /// Whether `pattern` names at least one type (so a typo is refused, not silent).
    pub fn is_pattern(pattern: &str) -> bool {
        Self::ALL.iter().any(|t| t.matches(pattern))
    }
}

#[cfg(test)]
mod webhook_vocabulary_tests {
    use super::*;

    #[test]
    fn every_audit_type_but_admin_ones_is_a_webhook() {
        for kind in SecurityEventType::ALL {
            let hook = WebhookEventType::of_audit(*kind);
            assert_eq!(
                hook.is_none(),
                kind.as_str().starts_with("admin."),
                "{kind}"
            );
        }
        assert_eq!(
            WebhookEventType::of_audit(SecurityEventType::FraudPause),
            Some(WebhookEventType::FraudRangePaused)
        );
    }

    #[test]
    fn patterns_match_exact_names_or_whole_prefixes() {
        let t = WebhookEventType::LoginFailed;
        assert!(t.matches("auth.login.failed") && t.matches("auth.*") && t.matches("*"));
        assert!(t.matches("auth.login.*"));
        assert!(!t.matches("auth.log.*") && !t.matches("auth.login") && !t.matches("phone.*"));
        assert!(WebhookEventType::is_pattern("sms.*"));
        assert!(!WebhookEventType::is_pattern("smss.*"));
    }
}

#[cfg(test)]
mod audit_vocabulary_tests {
    use super::*;

    #[test]
    fn patterns_name_exact_types_or_a_whole_prefix() {
        assert_eq!(
            SecurityEventType::matching("auth.login.failed"),
            [SecurityEventType::LoginFailed]
        );
        let logins = SecurityEventType::matching("auth.login.*");
        assert_eq!(
            logins,
            [
                SecurityEventType::LoginSucceeded,
                SecurityEventType::LoginFailed
            ]
        );
        assert!(
            SecurityEventType::matching("admin.*")
                .iter()
                .all(|t| t.as_str().starts_with("admin."))
        );
        // Every admin type, those a level deeper (`admin.sms.…`, `admin.webhooks.…`) too.
        let admin: Vec<SecurityEventType> = SecurityEventType::ALL
            .iter()
            .copied()
            .filter(|t| t.as_str().starts_with("admin."))
            .collect();
        assert_eq!(SecurityEventType::matching("admin.*"), admin);
        assert!(admin.contains(&SecurityEventType::AdminProviderDisabled));
        assert!(admin.contains(&SecurityEventType::AdminWebhookCreated));
        // `auth.log.*` must not match `auth.login.*` by a bare string prefix.
        assert!(SecurityEventType::matching("auth.log.*").is_empty());
        assert!(SecurityEventType::matching("nope").is_empty());
    }
}
