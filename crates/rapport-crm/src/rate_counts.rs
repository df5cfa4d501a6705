//! What the shared rate-limit windows (`rate_windows`) have counted: how much of a
//! second's allowance the nodes took, for tests and operators that check the limiter.

use rapport_store::SqlValue;

use crate::{Crm, CrmResult};

impl Crm {
    /// Requests the nodes took in the one-second window that starts at `second` (since the
    /// epoch), every key together; 0 for a window nobody used.
    pub async fn rate_window_taken(&self, second: i64) -> CrmResult<i64> {
        let row = self
            .db
            .query_opt(
                "SELECT CAST(COALESCE(SUM(taken), 0) AS BIGINT) AS taken FROM rate_windows WHERE second = ?",
                &[SqlValue::Int(second)],
            )
            .await?;
        Ok(match row {
            Some(row) => row.get::<i64>("taken")?,
            None => 0,
        })
    }
}
