//! Deleting an account (SPEC §12): by its holder (`DELETE /users/me`, the password asked
//! again) or by an operator (`DELETE /admin/users/{id}`, with a reason). Its sessions,
//! number, codes and messages go in one transaction with the audit rows that record it;
//! the audit log keeps the account's rows, which hold only ids.

use std::sync::Arc;

use phonereg_types::SecurityEventType;

use crate::{
    clock::Clock,
    domain::ClientNetworks,
    error::ApiError,
    persistence::{Db, accounts, phones, refresh_tokens, users},
    services::{
        audit::{self, Entry, Origin},
        reauth::Reauth,
        support::Action,
    },
    streams::Streams,
};

/// Removes accounts. Built in `startup` with exactly what it uses.
pub struct AccountRemoval {
    db: Db,
    clock: Clock,
    reauth: Reauth,
    /// To end this process's streams of the account; other processes' end at their
    /// poll (`streams::watch` reads the `account.deleted` rows).
    streams: Arc<Streams>,
}

impl AccountRemoval {
    pub fn new(db: Db, clock: Clock, reauth: Reauth, streams: Arc<Streams>) -> Self {
        Self {
            db,
            clock,
            reauth,
            streams,
        }
    }

    /// `DELETE /users/me`: the password first (a stolen access token alone cannot delete
    /// the account; wrong guesses count as login failures), then the account goes.
    pub async fn delete_own(
        &self,
        user_id: i64,
        current_password: String,
        client_ip: &ClientNetworks,
        origin: Origin,
    ) -> Result<(), ApiError> {
        self.reauth
            .check(user_id, current_password, client_ip)
            .await?;
        let entries = vec![Entry::user(
            SecurityEventType::AccountDeleted,
            Some(user_id),
        )];
        self.remove(user_id, origin, entries).await
    }

    /// `DELETE /admin/users/{id}`: 404 when there is no such account.
    pub async fn delete_by_operator(&self, action: Action) -> Result<(), ApiError> {
        let entries = [
            SecurityEventType::AccountDeleted,
            SecurityEventType::AdminUserDeleted,
        ]
        .map(|kind| action.entry(kind, None))
        .to_vec();
        self.remove(action.user_id(), action.origin().clone(), entries)
            .await
    }

    async fn remove(
        &self,
        user_id: i64,
        origin: Origin,
        entries: Vec<Entry>,
    ) -> Result<(), ApiError> {
        let clock = self.clock.clone();
        let families = self
            .db
            .write(move |c| {
                let now = clock.now();
                let (_, phone) = users::find_with_phone(c, user_id)?.ok_or(ApiError::NotFound)?;
                let phone_id = phone.map(|p| p.id);
                if let Some(id) = phone_id {
                    // Under the record's lock, like PATCH, verify and the courier's
                    // updates: a message being sent right now finds its row gone and
                    // records nothing (its claim no longer holds).
                    phones::find_owned_with_code(c, user_id, id)?;
                }
                // Revoked before the rows go, so the families can be ended below.
                let families = refresh_tokens::revoke_all_of_user(c, user_id, now)?;
                for entry in entries {
                    let entry = match phone_id {
                        Some(id) => entry.phone(id),
                        None => entry,
                    };
                    audit::record(c, &origin, &entry, now)?;
                }
                accounts::remove(c, user_id, phone_id)?;
                Ok(families)
            })
            .await?;
        for family in &families {
            self.streams.end_session(family);
        }
        self.streams.end_account(user_id);
        tracing::info!(user.id = user_id, "account deleted");
        Ok(())
    }
}
