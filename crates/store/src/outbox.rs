//! The demo outbox: mail and SMS written here instead of being delivered (demo mode, or no
//! mail server configured). `/demo/outbox` lists it in demo mode only.

use crate::db::{Store, StoreError, WriteTx, now};

#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: i64,
    /// `email` or `sms`
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created_at: i64,
}

impl Store {
    pub async fn insert_outbox(
        &self,
        tx: &mut WriteTx,
        channel: &str,
        recipient: &str,
        subject: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO outbox (channel, recipient, subject, body, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(channel)
            .bind(recipient)
            .bind(subject)
            .bind(body)
            .bind(now())
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }

    /// Newest first.
    pub async fn outbox(&self, limit: i64) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows: Vec<(i64, String, String, String, String, i64)> =
            sqlx::query_as("SELECT id, channel, recipient, subject, body, created_at FROM outbox ORDER BY id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, channel, recipient, subject, body, created_at)| OutboxMessage { id, channel, recipient, subject, body, created_at })
            .collect())
    }
}
