//! 公告: the office writes an announcement, publishes it now or at a set time, and lets it
//! expire (at a set time, or now). Students see it on the login and home pages in between.

use super::{Audited, Staff, audit};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::office::{AuditAction, Permission};
use campuspay_domain::time::{format_shanghai, parse_shanghai};
use campuspay_store::On;
use campuspay_store::announcements::{Announcement, AnnouncementText};

pub struct AnnouncementInput<'a> {
    pub title: &'a str,
    pub body: &'a str,
    /// `YYYY-MM-DD HH:MM` (Beijing time); empty: now.
    pub publish_at: &'a str,
    /// `YYYY-MM-DD HH:MM`; empty: never.
    pub expire_at: &'a str,
}

fn refused(code: &'static str, zh: &str, en: &str, field: &'static str) -> Error {
    Error::new(ErrorKind::Refused, code, zh, en).field(field)
}

fn text<'a>(ctx: &Context, input: &AnnouncementInput<'a>) -> Result<AnnouncementText<'a>, Error> {
    let (title, body) = (input.title.trim(), input.body.trim());
    let n = title.chars().count();
    if n == 0 || n > 60 || title.chars().any(char::is_control) {
        return Err(refused("invalid_title", "请填写标题（最多60字）", "Enter a title (at most 60 characters)", "title"));
    }
    if body.is_empty() || body.chars().count() > 2000 {
        return Err(refused("invalid_body", "请填写内容（最多2000字）", "Enter the text (at most 2000 characters)", "body"));
    }
    let now = ctx.clock.now();
    let time = |s: &str, field| {
        parse_shanghai(s)
            .ok_or_else(|| refused("invalid_time", "时间格式应为 2026-09-01 08:00（北京时间）", "Times are YYYY-MM-DD HH:MM", field))
    };
    let published_at = if input.publish_at.trim().is_empty() { now } else { time(input.publish_at, "publish_at")? };
    let expires_at = if input.expire_at.trim().is_empty() { None } else { Some(time(input.expire_at, "expire_at")?) };
    if expires_at.is_some_and(|e| e <= published_at) {
        return Err(refused(
            "expires_before_published",
            "下线时间必须晚于发布时间",
            "The expiry must be after the publication",
            "expire_at",
        ));
    }
    Ok(AnnouncementText { title, body, published_at, expires_at })
}

fn json(a: &AnnouncementText<'_>) -> serde_json::Value {
    serde_json::json!({"title": a.title, "body": a.body, "published_at": format_shanghai(a.published_at),
        "expires_at": a.expires_at.map(format_shanghai)})
}

fn saved(a: &Announcement) -> serde_json::Value {
    json(&AnnouncementText { title: &a.title, body: &a.body, published_at: a.published_at, expires_at: a.expires_at })
}

/// Every announcement of the school, scheduled and expired too (`manage_announcements`).
pub async fn list(ctx: &Context, staff: &Staff) -> Result<Vec<Announcement>, Error> {
    staff.require(Permission::ManageAnnouncements)?;
    Ok(ctx.store.all_announcements(staff.school()?, 200).await?)
}

pub async fn create(ctx: &Context, staff: &Staff, client: &Client, input: &AnnouncementInput<'_>) -> Result<i64, Error> {
    staff.require(Permission::ManageAnnouncements)?;
    let school_id = staff.school()?;
    let a = text(ctx, input)?;
    let mut tx = ctx.store.write_tx().await?;
    let id = ctx.store.write_announcement(&mut tx, school_id, Some(staff.id), &a).await?;
    let subject = format!("announcement:{id}");
    audit(
        ctx,
        &mut tx,
        staff,
        client,
        &Audited { action: AuditAction::AnnouncementSaved, subject: &subject, before: None, after: Some(json(&a)) },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

fn no_such() -> Error {
    Error::new(ErrorKind::NotFound, "announcement_not_found", "本校没有这条公告", "No such announcement at this school")
}

pub async fn update(ctx: &Context, staff: &Staff, client: &Client, id: i64, input: &AnnouncementInput<'_>) -> Result<(), Error> {
    staff.require(Permission::ManageAnnouncements)?;
    let school_id = staff.school()?;
    let a = text(ctx, input)?;
    let mut tx = ctx.store.write_tx().await?;
    let before = ctx.store.announcement(On::Tx(&mut tx), school_id, id).await?.ok_or_else(no_such)?;
    ctx.store.update_announcement(&mut tx, school_id, id, &a).await?;
    let subject = format!("announcement:{id}");
    let what = Audited { action: AuditAction::AnnouncementSaved, subject: &subject, before: Some(saved(&before)), after: Some(json(&a)) };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    Ok(())
}

/// Takes an announcement down now (it stays in the office's list as expired).
pub async fn expire(ctx: &Context, staff: &Staff, client: &Client, id: i64) -> Result<(), Error> {
    staff.require(Permission::ManageAnnouncements)?;
    let school_id = staff.school()?;
    let now = ctx.clock.now();
    let mut tx = ctx.store.write_tx().await?;
    let before = ctx.store.announcement(On::Tx(&mut tx), school_id, id).await?.ok_or_else(no_such)?;
    if before.expires_at.is_some_and(|e| e <= now) {
        return Ok(());
    }
    // Published later than now: expiring it means it never shows.
    let a =
        AnnouncementText { title: &before.title, body: &before.body, published_at: before.published_at.min(now), expires_at: Some(now) };
    ctx.store.update_announcement(&mut tx, school_id, id, &a).await?;
    let subject = format!("announcement:{id}");
    let what = Audited { action: AuditAction::AnnouncementSaved, subject: &subject, before: Some(saved(&before)), after: Some(json(&a)) };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    Ok(())
}
