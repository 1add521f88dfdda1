//! Hand-written diesel schema shared by both backends (see `migrations/{sqlite,postgres}`).

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        password_hash -> Text,
        full_name -> Text,
        created_at -> BigInt,
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
    }
}

diesel::table! {
    phone_history (id) {
        id -> BigInt,
        phone_id -> BigInt,
        at -> BigInt,
        kind -> Text,
        detail -> Nullable<Text>,
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
diesel::allow_tables_to_appear_in_same_query!(
    users,
    phone_numbers,
    phone_history,
    refresh_tokens,
    rate_counters
);
