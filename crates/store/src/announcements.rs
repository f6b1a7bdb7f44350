//! 公告: a school's announcements, shown on its login and home pages.

use crate::db::{Store, StoreError, WriteTx};

#[derive(Debug, Clone)]
pub struct Announcement {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub published_at: i64,
}

impl Store {
    pub async fn announcements(&self, school_id: i64, limit: i64) -> Result<Vec<Announcement>, StoreError> {
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT id, title, body, published_at FROM announcements WHERE school_id = $1 ORDER BY published_at DESC, id DESC LIMIT $2",
        )
        .bind(school_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id, title, body, published_at)| Announcement { id, title, body, published_at }).collect())
    }

    pub async fn insert_announcement(&self, tx: &mut WriteTx, school_id: i64, title: &str, body: &str, at: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("INSERT INTO announcements (school_id, title, body, published_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(school_id)
            .bind(title)
            .bind(body)
            .bind(at)
            .fetch_one(&mut *tx.tx)
            .await?)
    }
}
