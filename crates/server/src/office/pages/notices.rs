//! `/office/announcements`: 公告 — the school's announcements with their state, a form to write
//! one (publish now or at a set time, expire at a set time or never), change it, or take it
//! down now. Students see it on the login and home pages in between.

use super::{CsrfOnly, OfficeForm, OfficePage, Shell, render, render_refused};
use crate::AppState;
use crate::pages::extract::{CsrfForm, OfficePosted};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::office::announcements::{self, AnnouncementInput};
use campuspay_app::{Error, ErrorKind};
use campuspay_domain::time::format_shanghai;
use serde::Deserialize;

#[derive(Deserialize, Default, Clone)]
pub struct NoticeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    publish_at: String,
    #[serde(default)]
    expire_at: String,
}

impl CsrfForm for NoticeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    edit: Option<i64>,
    #[serde(default)]
    done: Option<String>,
}

pub struct Row {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub published_at: String,
    pub expires_at: String,
    /// 定时发布 / 显示中 / 已下线, and its class.
    pub state: (&'static str, &'static str),
}

#[derive(Template)]
#[template(path = "office/announcements.html")]
struct NoticesPage {
    shell: Shell,
    rows: Vec<Row>,
    form: NoticeForm,
    /// The announcement being changed, if any.
    editing: Option<i64>,
    error: Option<Error>,
    notice: Option<&'static str>,
}

impl NoticesPage {
    fn field_error(&self, field: &str) -> Option<String> {
        super::field_error(&self.error, field)
    }
    fn other_error(&self) -> Option<String> {
        super::form_error(&self.error, &["title", "body", "publish_at", "expire_at"])
    }
}

/// A time as a `datetime-local` input shows it.
fn local(t: i64) -> String {
    format_shanghai(t).get(..16).unwrap_or_default().replacen(' ', "T", 1)
}

async fn show(
    state: &AppState,
    page: &OfficePage,
    form: NoticeForm,
    editing: Option<i64>,
    error: Option<Error>,
    notice: Option<&'static str>,
) -> Response {
    let list = match announcements::list(state, &page.staff).await {
        Ok(l) => l,
        Err(e) => return page.error(&e),
    };
    let now = state.clock.now();
    let rows = list
        .into_iter()
        .map(|a| Row {
            state: if a.published_at > now {
                ("定时发布", "partial")
            } else if a.expires_at.is_some_and(|e| e <= now) {
                ("已下线", "waived")
            } else {
                ("显示中", "paid")
            },
            id: a.id,
            title: a.title,
            body: a.body,
            published_at: format_shanghai(a.published_at).get(..16).unwrap_or_default().to_string(),
            expires_at: a
                .expires_at
                .map(|e| format_shanghai(e).get(..16).unwrap_or_default().to_string())
                .unwrap_or_else(|| "不下线".into()),
        })
        .collect();
    let view = NoticesPage { shell: page.shell("公告", "announcements"), rows, form, editing, error: error.clone(), notice };
    match error {
        Some(e) => render_refused(&view, &e),
        None => render(&view),
    }
}

pub async fn notices_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<NoticeQuery>) -> Response {
    let notice = match q.done.as_deref() {
        Some("saved") => Some("已保存。"),
        Some("expired") => Some("已下线，学生不再看到这条公告。"),
        _ => None,
    };
    let mut form = NoticeForm::default();
    if let Some(id) = q.edit {
        let list = match announcements::list(&state, &page.staff).await {
            Ok(l) => l,
            Err(e) => return page.error(&e),
        };
        let Some(a) = list.into_iter().find(|a| a.id == id) else {
            return page.error(&Error::not_found());
        };
        form = NoticeForm {
            csrf: String::new(),
            title: a.title,
            body: a.body,
            publish_at: local(a.published_at),
            expire_at: a.expires_at.map(local).unwrap_or_default(),
        };
    }
    show(&state, &page, form, q.edit, None, notice).await
}

async fn save(state: &AppState, page: OfficePage, form: NoticeForm, id: Option<i64>) -> Response {
    let input = AnnouncementInput { title: &form.title, body: &form.body, publish_at: &form.publish_at, expire_at: &form.expire_at };
    let result = match id {
        Some(id) => announcements::update(state, &page.staff, &page.client, id, &input).await,
        None => announcements::create(state, &page.staff, &page.client, &input).await.map(|_| ()),
    };
    match result {
        Ok(()) => Redirect::to("/office/announcements?done=saved").into_response(),
        Err(e) if matches!(e.kind, ErrorKind::Forbidden | ErrorKind::NotFound) => page.error(&e),
        Err(e) => show(state, &page, form, id, Some(e), None).await,
    }
}

pub async fn create_submit(State(state): State<AppState>, posted: OfficeForm<NoticeForm>) -> Response {
    let OfficePosted { page, form } = posted;
    save(&state, page, form, None).await
}

pub async fn update_submit(State(state): State<AppState>, Path(id): Path<i64>, posted: OfficeForm<NoticeForm>) -> Response {
    let OfficePosted { page, form } = posted;
    save(&state, page, form, Some(id)).await
}

pub async fn expire_submit(State(state): State<AppState>, Path(id): Path<i64>, posted: OfficeForm<CsrfOnly>) -> Response {
    let page = posted.page;
    match announcements::expire(&state, &page.staff, &page.client, id).await {
        Ok(()) => Redirect::to("/office/announcements?done=expired").into_response(),
        Err(e) => page.error(&e),
    }
}
