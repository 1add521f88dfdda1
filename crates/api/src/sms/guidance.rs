//! PhoneReg's delivery error codes and what they mean for the user (SPEC §5). The codes
//! are the numbers Twilio made familiar; every provider maps its refusals into them, so
//! a user reads the same sentence whoever carried the message.

use phonereg_types::{Channel, MessageStatus};

/// The number replied STOP: it is marked opted out (SPEC §7).
pub const OPTED_OUT: i64 = 21610;

/// [`guidance`] for a message that went by `channel`: a call that failed without an
/// error code was not answered (busy, no answer) or could not be placed, which is no
/// fault of the SMS service (SPEC §13).
pub fn guidance_by(
    channel: Option<Channel>,
    status: MessageStatus,
    error_code: Option<i64>,
) -> Option<&'static str> {
    match (channel, status, error_code) {
        (Some(Channel::Voice), MessageStatus::Failed, None) => Some(
            "The call was not answered or could not be placed. Try again, or ask for the code another way.",
        ),
        _ => guidance(status, error_code),
    }
}

/// Plain guidance for a delivery error, shown beside the message status.
pub fn guidance(status: MessageStatus, error_code: Option<i64>) -> Option<&'static str> {
    Some(match error_code {
        Some(21211) => "This doesn't look like a valid phone number. Check it and try again.",
        Some(21408) => "We can't send text messages to this country yet.",
        Some(OPTED_OUT) => {
            "This number replied STOP, so no more texts are sent to it. Text START to the sender, then verify again."
        }
        Some(21614) => "This number can't receive text messages. Use a mobile number.",
        Some(30003) => "The phone is switched off or out of coverage. Try again later.",
        Some(30004) => "The message was blocked by the recipient or the carrier.",
        Some(30005) => "The number doesn't exist or is no longer in service.",
        Some(30006) => "This number can't receive text messages (landline or unreachable carrier).",
        Some(30007) => "The carrier filtered the message. Try again later or use another number.",
        Some(30008) => "The message could not be delivered for an unknown reason. Try again later.",
        // Twilio's "channel could not find the To address" for WhatsApp (SPEC §13).
        Some(63003) => {
            "This number is not on WhatsApp. Ask for the code by text message or a call instead."
        }
        Some(_) => "The message could not be delivered. Try again later.",
        None if status == MessageStatus::Failed => {
            "The SMS service could not be reached. Try again in a few minutes."
        }
        None if status == MessageStatus::Undelivered => {
            "The message could not be delivered. Try again later."
        }
        None if status == MessageStatus::Canceled => {
            "The code expired or was replaced before the text could be sent; request a new code."
        }
        None => return None,
    })
}
