//! The development provider: prints each SMS to the log (the one place a code may
//! appear) and keeps the last 50 for `GET /api/v1/dev/sms`.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use phonereg_types::{MessageStatus, SmsProviderName};

use super::{Accepted, ListFuture, Listed, OutgoingSms, Provider, SendFuture};
use crate::{clock::Clock, domain::phone_number::mask_numbers};

pub const INBOX_SIZE: usize = 50;

#[derive(Clone, Debug)]
pub struct InboxItem {
    pub sid: String,
    pub to: String,
    pub body: String,
    pub created_at: i64,
}

/// The dev inbox: the one piece of state held in memory (SPEC §7).
#[derive(Clone, Default)]
pub struct Inbox(Arc<Mutex<VecDeque<InboxItem>>>);

impl Inbox {
    /// Newest first.
    pub fn items(&self) -> Vec<InboxItem> {
        self.0
            .lock()
            .map(|q| q.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    fn push(&self, item: InboxItem) {
        if let Ok(mut q) = self.0.lock() {
            if q.len() == INBOX_SIZE {
                q.pop_front();
            }
            q.push_back(item);
        }
    }
}

pub struct ConsoleSender {
    pub inbox: Inbox,
    /// Stamps the inbox, so its times agree with the records' when tests move time.
    pub clock: Clock,
}

impl Provider for ConsoleSender {
    fn name(&self) -> SmsProviderName {
        SmsProviderName::Console
    }

    fn send<'a>(&'a self, sms: &'a OutgoingSms) -> SendFuture<'a> {
        Box::pin(async move {
            let sid = format!("console-{}", sms.id);
            // The inbox keeps the full number; the log, which outlives it, does not.
            let to = mask_numbers(&sms.to);
            tracing::info!(%to, body = %sms.body, "console SMS (development only)");
            self.inbox.push(InboxItem {
                sid: sid.clone(),
                to: sms.to.clone(),
                body: sms.body.clone(),
                created_at: self.clock.now(),
            });
            Ok(Accepted {
                id: sid,
                status: MessageStatus::Delivered,
            })
        })
    }

    /// What this process printed, from its inbox. The inbox dies with the process, so a
    /// message whose sender was killed between printing it and recording that is
    /// printed again: acceptable for a development log, which costs nothing to repeat.
    fn lookup<'a>(&'a self, sms: &'a OutgoingSms) -> ListFuture<'a> {
        Box::pin(async move {
            Ok(self
                .inbox
                .items()
                .into_iter()
                .filter(|m| m.to == sms.to)
                .map(|m| Listed {
                    id: m.sid,
                    status: MessageStatus::Delivered,
                    body: Some(m.body),
                })
                .collect())
        })
    }
}
