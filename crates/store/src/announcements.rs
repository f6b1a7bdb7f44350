//! 公告: a school's announcements, shown on its login and home pages from their publication
//! until their expiry; the office writes, schedules and expires them.

use crate::db::{On, Store, StoreError, WriteTx, map_rows, now};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub published_at: i64,
    pub expires_at: Option<i64>,
}

/// What the office writes: the text, when it shows, until when.
pub struct AnnouncementText<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub published_at: i64,
    pub expires_at: Option<i64>,
}

fn announcement(r: &sqlx::any::AnyRow) -> Result<Announcement, sqlx::Error> {
    Ok(Announcement {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        published_at: r.try_get("published_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

impl Store {
    /// What students see now: published and not expired, newest first.
    pub async fn announcements(&self, school_id: i64, limit: i64) -> Result<Vec<Announcement>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, title, body, published_at, expires_at FROM announcements \
             WHERE school_id = $1 AND published_at <= $2 AND (expires_at IS NULL OR expires_at > $2) \
             ORDER BY published_at DESC, id DESC LIMIT $3",
        )
        .bind(school_id)
        .bind(now())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        map_rows(&rows, announcement)
    }

    /// Every announcement of the school, scheduled and expired ones too, newest first.
    pub async fn all_announcements(&self, school_id: i64, limit: i64) -> Result<Vec<Announcement>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, title, body, published_at, expires_at FROM announcements WHERE school_id = $1 ORDER BY published_at DESC, id DESC LIMIT $2",
        )
        .bind(school_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        map_rows(&rows, announcement)
    }

    pub async fn announcement(&self, on: On<'_>, school_id: i64, id: i64) -> Result<Option<Announcement>, StoreError> {
        let q = sqlx::query("SELECT id, title, body, published_at, expires_at FROM announcements WHERE school_id = $1 AND id = $2")
            .bind(school_id)
            .bind(id);
        Ok(self.fetch_optional(on, q).await?.map(|r| announcement(&r)).transpose()?)
    }

    pub async fn insert_announcement(&self, tx: &mut WriteTx, school_id: i64, title: &str, body: &str, at: i64) -> Result<i64, StoreError> {
        let text = AnnouncementText { title, body, published_at: at, expires_at: None };
        self.write_announcement(tx, school_id, None, &text).await
    }

    /// A new announcement, written by `staff_id` (None: the demo seed).
    pub async fn write_announcement(
        &self,
        tx: &mut WriteTx,
        school_id: i64,
        staff_id: Option<i64>,
        a: &AnnouncementText<'_>,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO announcements (school_id, title, body, published_at, expires_at, staff_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(school_id)
        .bind(a.title)
        .bind(a.body)
        .bind(a.published_at)
        .bind(a.expires_at)
        .bind(staff_id)
        .fetch_one(&mut *tx.tx)
        .await?)
    }

    pub async fn update_announcement(&self, tx: &mut WriteTx, school_id: i64, id: i64, a: &AnnouncementText<'_>) -> Result<(), StoreError> {
        let n = sqlx::query(
            "UPDATE announcements SET title = $1, body = $2, published_at = $3, expires_at = $4, updated_at = $5 WHERE school_id = $6 AND id = $7",
        )
        .bind(a.title)
        .bind(a.body)
        .bind(a.published_at)
        .bind(a.expires_at)
        .bind(now())
        .bind(school_id)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
        if n == 1 { Ok(()) } else { Err(StoreError::NotFound) }
    }
}
