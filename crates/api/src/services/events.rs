//! Live events: tickets for EventSource, and batches of the caller's events.

use std::sync::Arc;

use crate::{
    clock::Clock,
    domain::ClientNetworks,
    error::ApiError,
    persistence::{
        Db,
        events::{self, Cursor, Fact, TicketGrant},
        models::PhoneRow,
        phones,
    },
    services::{
        token_strikes::TokenStrikes,
        tokens::{Access, hash_refresh, random_token},
    },
};

pub const TICKET_TTL: i64 = 60;
/// Live tickets an account may hold (SPEC §11 bounded storage): one more replaces the
/// oldest, as a sixth stream replaces the oldest stream, so tickets never pile up and a
/// user opening tabs is never refused.
const TICKETS_PER_USER: usize = 5;

const BAD_TICKET: ApiError =
    ApiError::Unauthorized("The event ticket is invalid, used or expired.");

/// The caller's live events and the tickets that open their stream. Built in `startup`
/// with exactly what it uses.
pub struct Events {
    db: Db,
    clock: Clock,
    /// Made-up tickets, per client.
    token_strikes: Arc<TokenStrikes>,
}

impl Events {
    pub fn new(db: Db, clock: Clock, token_strikes: Arc<TokenStrikes>) -> Self {
        Self {
            db,
            clock,
            token_strikes,
        }
    }

    /// A single-use ticket standing in for the bearer token on `?ticket=`; the stream it
    /// opens ends with the bearer's session and token.
    pub async fn issue_ticket(&self, access: &Access) -> Result<String, ApiError> {
        let ticket = random_token(32);
        let hash = hash_refresh(&ticket);
        let expires_at = self.clock.now() + TICKET_TTL;
        let grant = TicketGrant {
            user_id: access.user_id,
            session: access.session.clone(),
            token_expires_at: Some(access.expires_at),
        };
        self.db
            .write(move |c| events::insert_ticket(c, &hash, &grant, expires_at, TICKETS_PER_USER))
            .await?;
        Ok(ticket)
    }

    /// Uses up a ticket. It is looked up on the read side first, so a made-up or dead
    /// ticket queues no write (and is a strike for the client).
    pub async fn redeem_ticket(
        &self,
        ticket: &str,
        client: &ClientNetworks,
    ) -> Result<TicketGrant, ApiError> {
        let clock = self.clock.clone();
        self.token_strikes.check(client, clock.now())?;
        let hash = hash_refresh(ticket);
        let live = {
            let (hash, now) = (hash.clone(), clock.now());
            self.db
                .read(move |c| events::ticket_is_live(c, &hash, now))
                .await?
        };
        if !live {
            self.token_strikes.strike(client, clock.now());
            return Err(BAD_TICKET);
        }
        self.db
            .write(move |c| events::redeem_ticket(c, &hash, clock.now()))
            .await?
            .ok_or(BAD_TICKET)
    }

    /// Where a fresh stream starts: after the caller's newest event.
    pub async fn latest(&self, user_id: i64) -> Result<Cursor, ApiError> {
        self.db.read(move |c| events::latest(c, user_id)).await
    }

    /// Where a stream resumes after the client's last event id.
    pub async fn resume_at(&self, user_id: i64, id: i64) -> Result<Cursor, ApiError> {
        self.db
            .read(move |c| events::resume_at(c, user_id, id))
            .await
    }

    pub async fn batch(&self, user_id: i64, after: Cursor) -> Result<Batch, ApiError> {
        self.db
            .read(move |c| {
                let rows = events::after(c, user_id, after, 100)?;
                let unsettled = rows.is_empty() && events::unsettled_after(c, user_id, after)?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let cursor = row.cursor();
                    let happened = match row.fact() {
                        Some(Fact::Phone { phone_id }) => {
                            Happened::Phone(phones::find_owned(c, user_id, phone_id).ok())
                        }
                        Some(Fact::Message(message)) => Happened::Message {
                            message,
                            at: row.created_at,
                        },
                        None => Happened::Unreadable,
                    };
                    out.push(Event {
                        id: row.id,
                        cursor,
                        happened,
                    });
                }
                Ok(Batch {
                    events: out,
                    unsettled,
                })
            })
            .await
    }
}

/// One event as the stream sends it.
pub struct Event {
    /// The `id:` a client resumes after.
    pub id: i64,
    pub cursor: Cursor,
    pub happened: Happened,
}

/// An event's fact with what rendering it needs.
pub enum Happened {
    /// The record's current state; None when it has been deleted since.
    Phone(Option<PhoneRow>),
    /// A message's new status, and when it changed.
    Message {
        message: events::MessageFact,
        at: i64,
    },
    /// Written by a newer build: skipped.
    Unreadable,
}

/// Events after `after`, for one write to the client.
pub struct Batch {
    /// Up to 100 events.
    pub events: Vec<Event>,
    /// More events are committed but not readable yet (see `events::Cursor`): look
    /// again shortly rather than wait for the next wake-up.
    pub unsettled: bool,
}
