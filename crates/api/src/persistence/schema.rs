//! Hand-written diesel schema shared by both backends (see `migrations/{sqlite,postgres}`).

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        password_hash -> Text,
        full_name -> Text,
        created_at -> BigInt,
        two_factor -> Bool,
        recovery_codes_left -> Integer,
    }
}

diesel::table! {
    phone_numbers (id) {
        id -> BigInt,
        user_id -> BigInt,
        e164 -> Text,
        national -> Text,
        international -> Text,
        country -> Text,
        number_type -> Text,
        status -> Text,
        verified_at -> Nullable<BigInt>,
        pending_e164 -> Nullable<Text>,
        sms_opted_out -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        last_message_id -> Nullable<BigInt>,
        last_message_status -> Nullable<Text>,
        last_message_error -> Nullable<BigInt>,
        last_message_at -> Nullable<BigInt>,
        last_message_provider -> Nullable<Text>,
        last_message_channel -> Nullable<Text>,
    }
}

diesel::table! {
    phone_history (id) {
        id -> BigInt,
        phone_id -> BigInt,
        at -> BigInt,
        kind -> Text,
        detail -> Nullable<Text>,
        provider -> Nullable<Text>,
        channel -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        family -> Text,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        rotated_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    rate_counters (key, window_start) {
        key -> Text,
        window_start -> BigInt,
        count -> BigInt,
    }
}

diesel::joinable!(phone_numbers -> users (user_id));
diesel::joinable!(phone_history -> phone_numbers (phone_id));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::table! {
    verification_codes (phone_id) {
        phone_id -> BigInt,
        e164 -> Text,
        code_hash -> Text,
        attempts_left -> Integer,
        expires_at -> BigInt,
        resend_after -> BigInt,
        sent -> Bool,
        created_at -> BigInt,
        code_sealed -> Nullable<Text>,
        channels -> Text,
    }
}

diesel::table! {
    sms_messages (id) {
        id -> BigInt,
        phone_id -> Nullable<BigInt>,
        to_e164 -> Text,
        body -> Text,
        kind -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_ms -> BigInt,
        claimed_until -> Nullable<BigInt>,
        provider_sid -> Nullable<Text>,
        error_code -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        locale -> Text,
        fingerprint -> Nullable<Text>,
        code_expires_at -> Nullable<BigInt>,
        trace_context -> Nullable<Text>,
        provider -> Nullable<Text>,
        channel -> Text,
        provider_tries -> Integer,
    }
}

diesel::table! {
    /// One circuit per SMS provider, shared by every process (SPEC §13).
    sms_circuits (provider) {
        provider -> Text,
        window_start -> BigInt,
        failures -> Integer,
        opened_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        updated_at -> BigInt,
        disabled_at -> Nullable<BigInt>,
        closed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Tries per SMS provider and minute that did not hand a message over.
    sms_provider_failures (provider, minute) {
        provider -> Text,
        minute -> BigInt,
        failures -> Integer,
    }
}

diesel::table! {
    sms_early_statuses (provider, sid) {
        provider -> Text,
        sid -> Text,
        status -> Text,
        error_code -> Nullable<BigInt>,
        received_at -> BigInt,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        data -> Text,
        created_at -> BigInt,
        txid -> BigInt,
    }
}

diesel::table! {
    event_tickets (ticket_hash) {
        ticket_hash -> Text,
        user_id -> BigInt,
        expires_at -> BigInt,
        session -> Nullable<Text>,
        token_expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sms_fraud_pauses (id) {
        id -> BigInt,
        scope -> Text,
        key -> Text,
        country -> Text,
        since -> BigInt,
        until -> BigInt,
        sent -> BigInt,
        verified -> BigInt,
        enforced -> Bool,
        lifted_at -> Nullable<BigInt>,
        lifted_by -> Nullable<Text>,
    }
}

diesel::table! {
    sms_fraud_decisions (id) {
        id -> BigInt,
        at -> BigInt,
        action -> Text,
        scope -> Text,
        key -> Text,
        country -> Text,
        sent -> BigInt,
        verified -> BigInt,
        pause_id -> Nullable<BigInt>,
        operator -> Nullable<Text>,
    }
}

diesel::joinable!(verification_codes -> phone_numbers (phone_id));
diesel::joinable!(sms_messages -> phone_numbers (phone_id));
diesel::table! {
    known_sign_ins (pair) {
        pair -> Text,
        last_at -> BigInt,
    }
}

diesel::table! {
    auth_codes (e164, purpose) {
        e164 -> Text,
        purpose -> Text,
        user_id -> Nullable<BigInt>,
        code_hash -> Text,
        challenge -> Nullable<Text>,
        attempts_left -> Integer,
        expires_at -> BigInt,
        resend_after -> BigInt,
        sent -> Bool,
        created_at -> BigInt,
        code_sealed -> Nullable<Text>,
        channels -> Text,
    }
}

diesel::table! {
    mfa_challenges (token_hash) {
        token_hash -> Text,
        user_id -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::joinable!(mfa_challenges -> users (user_id));

diesel::table! {
    recovery_codes (user_id, code_hash) {
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::joinable!(recovery_codes -> users (user_id));

diesel::table! {
    captcha_tokens (token_hash) {
        token_hash -> Text,
        expires_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    captcha_tokens,
    auth_codes,
    mfa_challenges,
    recovery_codes,
    users,
    phone_numbers,
    phone_history,
    refresh_tokens,
    rate_counters,
    verification_codes,
    sms_messages,
    sms_early_statuses,
    events,
    event_tickets,
    sms_fraud_pauses,
    sms_fraud_decisions,
    known_sign_ins
);

diesel::table! {
    /// The audit log (SPEC §12): append-only, no foreign keys (a deleted account's rows
    /// keep only its ids).
    security_events (id) {
        id -> BigInt,
        at -> BigInt,
        #[sql_name = "type"]
        event_type -> Text,
        actor -> Text,
        actor_name -> Nullable<Text>,
        user_id -> Nullable<BigInt>,
        phone_id -> Nullable<BigInt>,
        client -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        request_id -> Nullable<Text>,
        outcome -> Text,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    /// Outbound webhook endpoints (SPEC §12), each with its place in `webhook_events`.
    webhook_endpoints (id) {
        id -> BigInt,
        url -> Text,
        description -> Nullable<Text>,
        event_types -> Text,
        status -> Text,
        disabled_reason -> Nullable<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        cursor_txid -> BigInt,
        cursor_id -> BigInt,
        attempts -> Integer,
        failing_since -> Nullable<BigInt>,
        next_attempt_ms -> BigInt,
        lease_until_ms -> BigInt,
        lease_token -> Nullable<Text>,
    }
}

diesel::table! {
    /// Events for outbound webhooks: one row per event, fanned out by the worker.
    webhook_events (id) {
        id -> BigInt,
        txid -> BigInt,
        #[sql_name = "type"]
        event_type -> Text,
        at_ms -> BigInt,
        user_id -> Nullable<BigInt>,
        phone_id -> Nullable<BigInt>,
        e164 -> Nullable<Text>,
        data -> Text,
        endpoint_id -> Nullable<BigInt>,
        replay_of -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Every attempt to post a webhook.
    webhook_deliveries (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        event_id -> BigInt,
        webhook_id -> Text,
        #[sql_name = "type"]
        event_type -> Text,
        attempt -> Integer,
        result -> Text,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        duration_ms -> BigInt,
        at -> BigInt,
    }
}
