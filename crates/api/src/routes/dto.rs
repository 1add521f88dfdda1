//! Rows to response bodies. Timestamps leave the server as RFC 3339 UTC.

use phonereg_types::{HistoryItem, LastMessage, Phone, User, Verification};

use crate::{
    domain::CodeState,
    persistence::models::{HistoryRow, PhoneRow, UserRow},
    sms,
};

pub use crate::domain::rfc3339;

pub fn phone(row: PhoneRow) -> Phone {
    let last_status = row.last_message_status;
    Phone {
        id: row.id,
        e164: row.e164,
        national: row.national,
        international: row.international,
        country: row.country,
        number_type: row.number_type,
        status: row.status,
        verified_at: row.verified_at.map(rfc3339),
        pending_e164: row.pending_e164,
        sms_opted_out: row.sms_opted_out,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        last_message: last_status.map(|status| LastMessage {
            guidance: sms::guidance_by(row.last_message_channel, status, row.last_message_error)
                .map(str::to_owned),
            error_code: row.last_message_error,
            updated_at: rfc3339(row.last_message_at.unwrap_or(row.updated_at)),
            status,
            provider: row.last_message_provider,
            channel: row.last_message_channel,
        }),
        verification: None,
    }
}

/// A phone together with the code just sent for it (POST and PATCH).
pub fn phone_with_code(row: PhoneRow, code: Option<&CodeState>) -> Phone {
    Phone {
        verification: code.map(Verification::from),
        ..phone(row)
    }
}

pub fn user(row: UserRow, phone_row: Option<PhoneRow>) -> User {
    User {
        id: row.id,
        email: row.email,
        full_name: row.full_name,
        created_at: rfc3339(row.created_at),
        phone: phone_row.map(phone),
        two_factor: row.two_factor,
        recovery_codes_left: i64::from(row.recovery_codes_left),
    }
}

pub fn history_item(row: HistoryRow) -> HistoryItem {
    HistoryItem {
        at: rfc3339(row.at),
        kind: row.kind,
        detail: row.detail,
        provider: row.provider,
        channel: row.channel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_064_800), "2025-11-25T10:00:00Z");
    }
}
