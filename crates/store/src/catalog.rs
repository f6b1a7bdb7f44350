//! What a school charges for: its fee items, periods and fee standards, as the office lists
//! and loads them.

use crate::db::{On, Store, StoreError, WriteTx, map_rows, now};
use campuspay_domain::Fen;
use sqlx::Row;

/// 收费项目, as the office lists it.
#[derive(Debug, Clone)]
pub struct FeeItemRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub category: String,
    pub receipt_type: String,
    pub mandatory: bool,
    pub parent_id: Option<i64>,
    pub instalments: bool,
    pub collecting: bool,
    pub sort: i64,
}

/// 收费期间.
#[derive(Debug, Clone)]
pub struct PeriodRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub academic_year: String,
    pub sort: i64,
}

/// Which students a fee standard applies to; an empty selector matches everyone. The same
/// selectors pick students for a charge run (with the class too).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Selector {
    #[serde(default)]
    pub grade: String,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub major: String,
    #[serde(default)]
    pub level: String,
}

/// 收费标准: the amount of an item in a period for the students the selector matches.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeeStandard {
    pub fee_item_id: i64,
    pub period_id: i64,
    pub selector: Selector,
    pub amount: Fen,
}

#[derive(Debug, Clone)]
pub struct FeeStandardRow {
    pub id: i64,
    pub item_code: String,
    pub item_name: String,
    pub period_code: String,
    pub standard: FeeStandard,
}

/// What writing one imported row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
    Unchanged,
}

fn flag(v: i64) -> bool {
    v != 0
}

impl Store {
    pub async fn fee_items(&self, school_id: i64) -> Result<Vec<FeeItemRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, code, name, category, receipt_type, mandatory, parent_id, instalments, collecting, sort \
             FROM fee_items WHERE school_id = $1 ORDER BY sort, id",
        )
        .bind(school_id)
        .fetch_all(self.pool())
        .await?;
        map_rows(&rows, |r| {
            Ok(FeeItemRow {
                id: r.try_get("id")?,
                code: r.try_get("code")?,
                name: r.try_get("name")?,
                category: r.try_get("category")?,
                receipt_type: r.try_get("receipt_type")?,
                mandatory: flag(r.try_get("mandatory")?),
                parent_id: r.try_get("parent_id")?,
                instalments: flag(r.try_get("instalments")?),
                collecting: flag(r.try_get("collecting")?),
                sort: r.try_get("sort")?,
            })
        })
    }

    /// Periods, the newest (highest sort) first: the one a new run is most likely for.
    pub async fn periods(&self, school_id: i64) -> Result<Vec<PeriodRow>, StoreError> {
        let rows = sqlx::query("SELECT id, code, name, academic_year, sort FROM periods WHERE school_id = $1 ORDER BY sort DESC, id DESC")
            .bind(school_id)
            .fetch_all(self.pool())
            .await?;
        map_rows(&rows, |r| {
            Ok(PeriodRow {
                id: r.try_get("id")?,
                code: r.try_get("code")?,
                name: r.try_get("name")?,
                academic_year: r.try_get("academic_year")?,
                sort: r.try_get("sort")?,
            })
        })
    }

    pub async fn fee_standards(&self, school_id: i64) -> Result<Vec<FeeStandardRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, s.fee_item_id, s.period_id, s.grade, s.department, s.major, s.level, s.amount_fen, \
                    f.code AS item_code, f.name AS item_name, p.code AS period_code \
             FROM fee_standards s JOIN fee_items f ON f.id = s.fee_item_id JOIN periods p ON p.id = s.period_id \
             WHERE s.school_id = $1 ORDER BY p.sort DESC, f.sort, s.grade, s.department, s.major, s.level",
        )
        .bind(school_id)
        .fetch_all(self.pool())
        .await?;
        map_rows(&rows, |r| {
            Ok(FeeStandardRow {
                id: r.try_get("id")?,
                item_code: r.try_get("item_code")?,
                item_name: r.try_get("item_name")?,
                period_code: r.try_get("period_code")?,
                standard: FeeStandard {
                    fee_item_id: r.try_get("fee_item_id")?,
                    period_id: r.try_get("period_id")?,
                    selector: Selector {
                        grade: r.try_get("grade")?,
                        department: r.try_get("department")?,
                        major: r.try_get("major")?,
                        level: r.try_get("level")?,
                    },
                    amount: Fen(r.try_get("amount_fen")?),
                },
            })
        })
    }

    /// Writes a standard: new, a changed amount for the same item, period and selectors, or
    /// nothing when it is already so. A standard is a price, not money that moved: it may
    /// change, and the audit row of the import keeps what it was.
    pub async fn upsert_fee_standard(&self, tx: &mut WriteTx, school_id: i64, s: &FeeStandard) -> Result<Upserted, StoreError> {
        let q = sqlx::query(
            "SELECT id, amount_fen FROM fee_standards WHERE school_id = $1 AND fee_item_id = $2 AND period_id = $3 \
             AND grade = $4 AND department = $5 AND major = $6 AND level = $7",
        )
        .bind(school_id)
        .bind(s.fee_item_id)
        .bind(s.period_id)
        .bind(&s.selector.grade)
        .bind(&s.selector.department)
        .bind(&s.selector.major)
        .bind(&s.selector.level);
        let existing = self.fetch_optional(On::Tx(tx), q).await?;
        match existing {
            Some(r) if r.try_get::<i64, _>("amount_fen")? == s.amount.0 => Ok(Upserted::Unchanged),
            Some(r) => {
                let id: i64 = r.try_get("id")?;
                sqlx::query("UPDATE fee_standards SET amount_fen = $1 WHERE id = $2")
                    .bind(s.amount.0)
                    .bind(id)
                    .execute(&mut *tx.tx)
                    .await?;
                Ok(Upserted::Updated)
            }
            None => {
                sqlx::query(
                    "INSERT INTO fee_standards (school_id, fee_item_id, period_id, grade, department, major, level, amount_fen, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(school_id)
                .bind(s.fee_item_id)
                .bind(s.period_id)
                .bind(&s.selector.grade)
                .bind(&s.selector.department)
                .bind(&s.selector.major)
                .bind(&s.selector.level)
                .bind(s.amount.0)
                .bind(now())
                .execute(&mut *tx.tx)
                .await
                .map_err(|e| StoreError::from_write(e, "fee standard"))?;
                Ok(Upserted::Created)
            }
        }
    }
}
