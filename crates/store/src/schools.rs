//! Schools (tenants) and their policies.

use crate::db::{Store, StoreError, now};
use campuspay_domain::SchoolPolicy;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct School {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub region: String,
    pub policy: SchoolPolicy,
}

pub struct NewSchool<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub name_en: &'a str,
    pub region: &'a str,
    pub policy: &'a SchoolPolicy,
}

fn school(row: &AnyRow) -> Result<School, StoreError> {
    let policy: String = row.try_get("policy")?;
    let code: String = row.try_get("code")?;
    let policy = serde_json::from_str(&policy).map_err(|e| StoreError::Corrupt(format!("policy of {code}: {e}")))?;
    Ok(School {
        id: row.try_get("id")?,
        code,
        name: row.try_get("name")?,
        name_en: row.try_get("name_en")?,
        region: row.try_get("region")?,
        policy,
    })
}

macro_rules! columns {
    () => {
        "id, code, name, name_en, region, policy"
    };
}

impl Store {
    pub async fn schools(&self) -> Result<Vec<School>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", columns!(), " FROM schools ORDER BY region, id")).fetch_all(&self.pool).await?;
        rows.iter().map(school).collect()
    }

    pub async fn school_by_code(&self, code: &str) -> Result<Option<School>, StoreError> {
        let row =
            sqlx::query(concat!("SELECT ", columns!(), " FROM schools WHERE code = $1")).bind(code).fetch_optional(&self.pool).await?;
        row.as_ref().map(school).transpose()
    }

    pub async fn school_by_id(&self, id: i64) -> Result<Option<School>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM schools WHERE id = $1")).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(school).transpose()
    }

    pub async fn insert_school(&self, tx: &mut crate::WriteTx, s: &NewSchool<'_>) -> Result<i64, StoreError> {
        let policy = serde_json::to_string(s.policy).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query_scalar(
            "INSERT INTO schools (code, name, name_en, region, policy, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(s.code)
        .bind(s.name)
        .bind(s.name_en)
        .bind(s.region)
        .bind(policy)
        .bind(now())
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StoreError::from_write(e, "school code"))
    }

    /// Replaces the school's policy (validated by the caller).
    pub async fn update_policy(&self, tx: &mut crate::WriteTx, school_id: i64, policy: &SchoolPolicy) -> Result<(), StoreError> {
        let policy = serde_json::to_string(policy).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let n = sqlx::query("UPDATE schools SET policy = $1 WHERE id = $2")
            .bind(policy)
            .bind(school_id)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
        if n == 1 { Ok(()) } else { Err(StoreError::NotFound) }
    }
}
