//! Schools' merchant configurations per channel: plain fields as JSON, secret fields sealed
//! (the sealing is the app's; the store keeps the opaque JSON it is given).

use crate::db::{Backend, Store, StoreError, WriteTx, map_rows, now, word};
use campuspay_domain::payment::{MerchantChannel, Provider};
use sqlx::Row;
use sqlx::any::AnyRow;

/// One school's configuration of one channel, as stored.
#[derive(Debug, Clone)]
pub struct MerchantRow {
    pub school_id: i64,
    pub channel: MerchantChannel,
    /// JSON object of the plain fields (strings).
    pub fields: String,
    /// JSON object: secret field → `{kid, nonce, ct, set_at}`.
    pub secrets: String,
    pub updated_at: i64,
}

fn merchant(r: &AnyRow) -> Result<MerchantRow, sqlx::Error> {
    Ok(MerchantRow {
        school_id: r.try_get("school_id")?,
        channel: word(r, "channel")?,
        fields: r.try_get("fields")?,
        secrets: r.try_get("secrets")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const COLUMNS: &str = "school_id, channel, fields, secrets, updated_at";

impl Store {
    /// Every school's configurations (start-up).
    pub async fn merchant_configs(&self) -> Result<Vec<MerchantRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM merchant_configs ORDER BY school_id, channel")))
            .fetch_all(&self.pool)
            .await?;
        map_rows(&rows, merchant)
    }

    /// One school's configurations.
    pub async fn merchant_configs_of(&self, school_id: i64) -> Result<Vec<MerchantRow>, StoreError> {
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM merchant_configs WHERE school_id = $1 ORDER BY channel")))
                .bind(school_id)
                .fetch_all(&self.pool)
                .await?;
        map_rows(&rows, merchant)
    }

    /// One configuration, read in the transaction that replaces it; on PostgreSQL the row is
    /// held until it ends, so two saves of one channel do not lose each other's secrets.
    pub async fn merchant_config_in(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        channel: MerchantChannel,
    ) -> Result<Option<MerchantRow>, StoreError> {
        let lock = if self.backend() == Backend::Postgres { " FOR UPDATE" } else { "" };
        let row =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM merchant_configs WHERE school_id = $1 AND channel = $2{lock}")))
                .bind(school_id)
                .bind(channel.as_str())
                .fetch_optional(&mut *tx.tx)
                .await?;
        Ok(row.as_ref().map(merchant).transpose()?)
    }

    /// Replaces only the sealed secrets of a configuration (a key rotation): who saved it last,
    /// and when, stay as they were.
    pub async fn reseal_merchant_secrets(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        channel: MerchantChannel,
        secrets: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE merchant_configs SET secrets = $1 WHERE school_id = $2 AND channel = $3")
            .bind(secrets)
            .bind(school_id)
            .bind(channel.as_str())
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }

    pub async fn put_merchant_config(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        channel: MerchantChannel,
        fields: &str,
        secrets: &str,
        staff_id: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO merchant_configs (school_id, channel, fields, secrets, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (school_id, channel) DO UPDATE SET fields = excluded.fields, secrets = excluded.secrets, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(school_id)
        .bind(channel.as_str())
        .bind(fields)
        .bind(secrets)
        .bind(now())
        .bind(staff_id)
        .execute(&mut *tx.tx)
        .await?;
        Ok(())
    }

    /// Drops a plaintext configuration of the old table once it is sealed into the new one.
    pub async fn delete_channel_config(&self, tx: &mut WriteTx, school_id: i64, provider: Provider) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM school_channels WHERE school_id = $1 AND provider = $2")
            .bind(school_id)
            .bind(provider.as_str())
            .execute(&mut *tx.tx)
            .await?;
        Ok(())
    }
}
