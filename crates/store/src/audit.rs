//! The audit log: who did what to a school's data, and when.

use crate::db::{Store, StoreError, WriteTx, now};

impl Store {
    pub async fn audit(&self, tx: &mut WriteTx, school_id: Option<i64>, actor: &str, action: &str, detail: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit_log (school_id, actor, action, detail, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(school_id)
            .bind(actor)
            .bind(action)
            .bind(detail)
            .bind(now())
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }
}
