//! Scripted test numbers (SPEC §13): the built-in `script` provider plays what a number
//! does once it is sent to, so client developers can build every error screen without
//! real phones. Its messages go through the outbox, retries, receipts, guidance, events
//! and history like any other; nothing leaves the machine.
//!
//! An `SMS_TEST_NUMBERS` entry is `E164=CODE[;step,…]`; an entry without steps sends
//! nothing (SPEC §5). Steps:
//! - outcome (the last one given counts; `deliver` by default): `deliver` (sent after
//!   1 s, delivered after 2 s), `deliver_after=40s`, `undelivered=30003` (sent, then
//!   undelivered), `failed=30007`;
//! - `reject=21610|21614|21408`: the send itself is refused with that code;
//! - `provider_down=N`: the first N tries fail as an unreachable provider would;
//! - receipts: `no_callback` (none), `early_callback` (they arrive before the answer is
//!   recorded), `out_of_order` (the final one before `sent`), `duplicate_callback` (the
//!   final one twice).
//!
//! Receipts are kept in memory and applied by the courier when due (the injected clock),
//! so a receipt still due when the process dies is lost, as a real provider's callback
//! to a dead server would be until it retried.

use std::{
    collections::VecDeque,
    sync::{Mutex, PoisonError},
};

use phonereg_types::{MessageStatus, SmsProviderName};

use super::{
    Accepted, ListFuture, Listed, OutgoingSms, Provider, Receipt, ScriptedNumbers, SendError,
    SendFuture,
};
use crate::{
    clock::Clock,
    config::TestNumbers,
    domain::test_script::{Outcome, Receipts, Script},
};

/// The receipts one accepted message gets, as (milliseconds after the send, receipt).
fn receipts(script: &Script, id: &str) -> Vec<(i64, Receipt)> {
    let receipt = |status, error_code| Receipt {
        id: id.to_owned(),
        status,
        error_code,
    };
    let (last, after) = match script.outcome {
        Outcome::Deliver { after } => (receipt(MessageStatus::Delivered, None), after),
        Outcome::Undelivered(c) => (receipt(MessageStatus::Undelivered, Some(c)), 2),
        Outcome::Failed(c) => (receipt(MessageStatus::Failed, Some(c)), 1),
    };
    let final_at = i64::from(after) * 1000;
    let mut due = Vec::new();
    if !matches!(script.outcome, Outcome::Failed(_)) {
        due.push((1000.min(final_at), receipt(MessageStatus::Sent, None)));
    }
    due.push((final_at, last.clone()));
    if script.out_of_order {
        // The final report first, `sent` a second after it.
        for (at, r) in &mut due {
            *at = if r.status == MessageStatus::Sent {
                final_at + 1000
            } else {
                final_at.min(1000)
            };
        }
    }
    if script.duplicate {
        let last_at = due.iter().map(|(at, _)| *at).max().unwrap_or(final_at);
        due.push((last_at + 1000, last));
    }
    match script.receipts {
        Receipts::OnTime => due,
        Receipts::None => Vec::new(),
        Receipts::Early => due.into_iter().map(|(_, r)| (0, r)).collect(),
    }
}

/// Messages and receipts kept at most (a safety net: only test numbers reach here).
const KEPT: usize = 1000;

pub struct ScriptProvider {
    numbers: TestNumbers,
    clock: Clock,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Accepted messages, newest last: what a lookup finds.
    accepted: VecDeque<(String, Listed)>,
    /// Receipts not yet due, by due time (ms).
    pending: Vec<(i64, Receipt)>,
}

impl ScriptProvider {
    /// None when no configured test number has a script.
    pub fn new(numbers: &TestNumbers, clock: Clock) -> Option<Self> {
        let any = numbers
            .0
            .iter()
            .any(|(n, _)| numbers.script_for(n).is_some());
        any.then(|| Self {
            numbers: numbers.clone(),
            clock,
            state: Mutex::default(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn play(&self, sms: &OutgoingSms) -> Result<Accepted, SendError> {
        let script = self.numbers.script_for(&sms.to).unwrap_or_default();
        if sms.attempt <= script.provider_down {
            return Err(SendError::Unavailable(format!(
                "script: provider down (try {} of {})",
                sms.attempt, script.provider_down
            )));
        }
        if let Some(code) = script.reject {
            return Err(SendError::Rejected {
                code: Some(code),
                message: format!("script: rejected with {code}"),
            });
        }
        let id = format!("script-{}-{}", sms.id, sms.attempt);
        let now = self.clock.now_ms();
        let mut state = self.state();
        if state.accepted.len() == KEPT {
            state.accepted.pop_front();
        }
        let listed = Listed {
            id: id.clone(),
            status: MessageStatus::Queued,
            body: Some(sms.body.clone()),
        };
        state.accepted.push_back((sms.to.clone(), listed));
        for (after, receipt) in receipts(&script, &id) {
            if state.pending.len() < KEPT {
                state.pending.push((now + after, receipt));
            }
        }
        Ok(Accepted {
            id,
            status: MessageStatus::Queued,
        })
    }
}

impl Provider for ScriptProvider {
    fn name(&self) -> SmsProviderName {
        SmsProviderName::Script
    }

    fn send<'a>(&'a self, sms: &'a OutgoingSms) -> SendFuture<'a> {
        Box::pin(async move { self.play(sms) })
    }

    fn lookup<'a>(&'a self, sms: &'a OutgoingSms) -> ListFuture<'a> {
        Box::pin(async move {
            Ok(self
                .state()
                .accepted
                .iter()
                .rev()
                .filter(|(to, _)| *to == sms.to)
                .map(|(_, m)| m.clone())
                .collect())
        })
    }

    fn due_receipts(&self, now_ms: i64) -> Vec<Receipt> {
        let mut state = self.state();
        if state.pending.is_empty() {
            return Vec::new();
        }
        let (mut due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut state.pending)
            .into_iter()
            .partition(|(at, _)| *at <= now_ms);
        state.pending = later;
        // Stable: receipts due at the same moment keep the order the script gave them.
        due.sort_by_key(|(at, _)| *at);
        due.into_iter().map(|(_, r)| r).collect()
    }
}

impl ScriptedNumbers for ScriptProvider {
    fn plays(&self, to: &str) -> bool {
        self.numbers.script_for(to).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_follow_the_script() {
        let statuses = |steps: &str| -> Vec<(i64, MessageStatus)> {
            let script = Script::parse(&steps.split(',').collect::<Vec<_>>()).expect("parses");
            let mut r: Vec<_> = receipts(&script, "x")
                .into_iter()
                .map(|(at, r)| (at, r.status))
                .collect();
            r.sort_by_key(|(at, _)| *at);
            r
        };
        use MessageStatus::*;
        assert_eq!(statuses("deliver"), [(1000, Sent), (2000, Delivered)]);
        assert_eq!(statuses("out_of_order"), [(1000, Delivered), (3000, Sent)]);
        assert_eq!(
            statuses("duplicate_callback"),
            [(1000, Sent), (2000, Delivered), (3000, Delivered)]
        );
        assert_eq!(statuses("failed=30007"), [(1000, Failed)]);
        assert_eq!(statuses("no_callback"), []);
        assert_eq!(statuses("early_callback"), [(0, Sent), (0, Delivered)]);
        assert_eq!(statuses("deliver_after=40s")[1], (40_000, Delivered));
    }
}
