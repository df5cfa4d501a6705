//! Request rate limits that every node shares: per key and one-second window, a count in
//! the store (`rate_windows`). Nodes take allowance in chunks (`rapport-api` keeps what
//! it took), so a busy key costs the store one write per chunk, not one per request, and
//! all the nodes together never let through more than the limit in a window.

use std::net::IpAddr;

use rapport_core::FieldErrors;
use rapport_store::SqlValue;

use crate::accounts::key_hash;
use crate::{Crm, CrmError, CrmResult};

impl Crm {
    /// Takes up to `wanted` of the `limit` requests `key` may make in the window that
    /// starts at `second` (since the epoch); returns how many were granted, 0 once the
    /// window is spent. The key is stored hashed (an API key is a secret).
    pub async fn take_rate_allowance(&self, key: &str, second: i64, wanted: u32, limit: u32) -> CrmResult<u32> {
        let out = self
            .db
            .execute_alone(
                "INSERT INTO rate_windows (key_hash, second, taken) VALUES (?, ?, ?) \
                 ON CONFLICT (key_hash, second) DO UPDATE SET taken = rate_windows.taken + excluded.taken \
                 RETURNING taken",
                vec![
                    key_hash(key).into(),
                    SqlValue::Int(second),
                    SqlValue::Int(wanted.into()),
                ],
            )
            .await?;
        let taken = match out.rows.first() {
            Some(row) => row.get::<i64>("taken")?,
            None => i64::from(wanted),
        };
        // What the window had left before this claim, up to what was asked.
        let before = taken - i64::from(wanted);
        Ok((i64::from(limit) - before).clamp(0, wanted.into()) as u32)
    }

    /// Forgets the windows that started before `second`; how many.
    pub async fn purge_rate_windows(&self, second: i64) -> CrmResult<u64> {
        let out = self
            .db
            .execute_alone("DELETE FROM rate_windows WHERE second < ?", vec![SqlValue::Int(second)])
            .await?;
        Ok(out.affected)
    }
}

impl Crm {
    /// One request of `key` against a bucket of `burst` requests that refills one every
    /// `interval_ms`: whether it may pass. Kept in the store as the instant the bucket is
    /// full again (GCRA), so every node shares it and one statement decides.
    pub async fn take_rate_token(&self, key: &str, now_ms: i64, burst: u32, interval_ms: i64) -> CrmResult<bool> {
        // Passes when the bucket's debt after this request stays within the burst:
        // max(full_at, now) + interval - now <= burst * interval.
        let tolerance = i64::from(burst.saturating_sub(1)) * interval_ms;
        let out = self
            .db
            .execute_alone(
                "INSERT INTO rate_buckets (key_hash, full_at_ms) VALUES (?, CAST(? AS BIGINT)) \
                 ON CONFLICT (key_hash) DO UPDATE SET full_at_ms = \
                 (CASE WHEN rate_buckets.full_at_ms > CAST(? AS BIGINT) THEN rate_buckets.full_at_ms ELSE CAST(? AS BIGINT) END) \
                 + CAST(? AS BIGINT) \
                 WHERE rate_buckets.full_at_ms - CAST(? AS BIGINT) <= CAST(? AS BIGINT) \
                 RETURNING full_at_ms",
                vec![
                    key_hash(key).into(),
                    SqlValue::Int(now_ms + interval_ms),
                    SqlValue::Int(now_ms),
                    SqlValue::Int(now_ms),
                    SqlValue::Int(interval_ms),
                    SqlValue::Int(now_ms),
                    SqlValue::Int(tolerance),
                ],
            )
            .await?;
        Ok(!out.rows.is_empty())
    }

    /// Forgets the buckets that were full again before `now_ms` (they start full anyway).
    pub async fn purge_rate_buckets(&self, now_ms: i64) -> CrmResult<u64> {
        let out = self
            .db
            .execute(
                "DELETE FROM rate_buckets WHERE full_at_ms < ?",
                vec![SqlValue::Int(now_ms)],
            )
            .await?;
        Ok(out.affected)
    }
}

/// What one client address may do at a pace, whoever it claims to be: a burst, then one
/// more every `every_seconds`. Counted in the store's buckets, so every node shares them.
#[derive(Debug, Clone, Copy)]
pub struct ClientLimit {
    /// What is limited, as the refusal says it ("log in").
    pub action: &'static str,
    pub burst: u32,
    pub every_seconds: u32,
}

/// Logins per address: 20 at once, then one every 3 s (a person mistyping never meets
/// it; a password sprayer meets it at once). Beside the per-email throttle.
pub const LOGINS: ClientLimit = ClientLimit {
    action: "log in",
    burst: 20,
    every_seconds: 3,
};
/// "Forgot password" requests per address.
pub const PASSWORD_RESETS: ClientLimit = ClientLimit {
    action: "ask for a password reset",
    burst: 5,
    every_seconds: 60,
};
/// New widget visitors per address.
pub const VISITOR_SESSIONS: ClientLimit = ClientLimit {
    action: "start a chat session",
    burst: 20,
    every_seconds: 3,
};
/// New conversations per address.
pub const CONVERSATIONS: ClientLimit = ClientLimit {
    action: "start a conversation",
    burst: 10,
    every_seconds: 6,
};
/// Visitor identifications (each may make a lead) per address.
pub const VISITOR_LEADS: ClientLimit = ClientLimit {
    action: "give an email in the chat",
    burst: 10,
    every_seconds: 6,
};

/// Messages per visitor, whichever node they reach: 10 at once, then one every 2 s.
pub const VISITOR_MESSAGES: ClientLimit = ClientLimit {
    action: "send a message",
    burst: 10,
    every_seconds: 2,
};

/// A request refused for its pace: the limit it met, and the seconds until it allows one
/// more.
#[derive(Debug, Clone, Copy)]
pub struct TooMany {
    pub limit: ClientLimit,
    pub retry_after_seconds: u64,
}

/// What a CRM call that charges a client's or a visitor's allowance answers when it does
/// not succeed: the refusal for pace (nothing else was done), or the call's own error.
#[derive(Debug, thiserror::Error)]
pub enum LimitedError {
    /// The client's address spent its allowance of `limit`, whoever it claimed to be.
    #[error("too many attempts to {} from your address; try again in {} s", .0.limit.action, .0.retry_after_seconds)]
    Client(TooMany),
    /// The visitor spent their own allowance ([`VISITOR_MESSAGES`]), from any address.
    #[error("too many attempts to {} from this visitor; try again in {} s", .0.limit.action, .0.retry_after_seconds)]
    Visitor(TooMany),
    #[error(transparent)]
    Crm(#[from] CrmError),
}

impl From<FieldErrors> for LimitedError {
    fn from(e: FieldErrors) -> Self {
        LimitedError::Crm(e.into())
    }
}

pub type LimitedResult<T> = Result<T, LimitedError>;

impl Crm {
    /// Charges one of `limit` to the client at `address`, or refuses for pace
    /// ([`LimitedError::Client`]).
    pub async fn charge_client(&self, limit: &ClientLimit, address: IpAddr) -> LimitedResult<()> {
        match self.take_client_allowance(limit, address).await {
            None => Ok(()),
            Some(retry_after_seconds) => Err(LimitedError::Client(TooMany {
                limit: *limit,
                retry_after_seconds,
            })),
        }
    }

    /// Charges one of `limit` to the visitor, wherever they write from, or refuses for
    /// pace ([`LimitedError::Visitor`]).
    pub async fn charge_visitor(&self, limit: &ClientLimit, visitor: &crate::Visitor) -> LimitedResult<()> {
        match self.take_visitor_allowance(limit, visitor).await {
            None => Ok(()),
            Some(retry_after_seconds) => Err(LimitedError::Visitor(TooMany {
                limit: *limit,
                retry_after_seconds,
            })),
        }
    }

    /// Takes one of `limit` for the client at `address`: `None` when it may go on, else
    /// the seconds to wait. A store that cannot count lets the client through (logged).
    pub async fn take_client_allowance(&self, limit: &ClientLimit, address: IpAddr) -> Option<u64> {
        self.take_allowance(limit, &format!("client:{}:{address}", limit.action))
            .await
    }

    /// Takes one of `limit` for a visitor, wherever they write from.
    pub async fn take_visitor_allowance(&self, limit: &ClientLimit, visitor: &crate::Visitor) -> Option<u64> {
        self.take_allowance(limit, &format!("visitor:{}", visitor.id)).await
    }

    async fn take_allowance(&self, limit: &ClientLimit, key: &str) -> Option<u64> {
        let interval_ms = i64::from(limit.every_seconds) * 1000;
        let now_ms = rapport_core::time::now().timestamp_millis();
        match self.take_rate_token(key, now_ms, limit.burst, interval_ms).await {
            Ok(true) => None,
            Ok(false) => Some(u64::from(limit.every_seconds)),
            Err(e) => {
                tracing::warn!(error = %e, action = limit.action, "cannot count a client's requests; letting it through");
                None
            }
        }
    }
}
