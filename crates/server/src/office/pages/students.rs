//! `GET /office/students?q=&page=`: find a student by number, name or ID card tail.

use super::{OfficePage, Shell, render};
use crate::AppState;
use crate::pages::form::encode;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::office::search;
use campuspay_domain::idcard;
use serde::Deserialize;

pub struct HitView {
    pub student_no: String,
    /// The number as a path segment.
    pub no_path: String,
    pub name: String,
    pub gender: String,
    pub id_card: String,
    pub department: String,
    pub major: String,
    pub class_name: String,
    pub level: String,
}

#[derive(Template)]
#[template(path = "office/students.html")]
struct SearchPage {
    shell: Shell,
    q: String,
    searched: bool,
    hits: Vec<HitView>,
    total: i64,
    page: i64,
    pages: i64,
    /// `q=…` for the paging links.
    q_param: String,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    page: Option<i64>,
}

pub async fn search_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<SearchQuery>) -> Response {
    let found = match search::students(&state, &page.staff, &q.q, q.page.unwrap_or(1)).await {
        Ok(f) => f,
        Err(e) => return page.error(&e),
    };
    // One exact hit by number: straight to the counter, as a cashier expects.
    if found.total == 1 && found.hits.first().is_some_and(|h| h.student_no == q.q.trim()) {
        return Redirect::to(&format!("/office/students/{}", encode(q.q.trim()))).into_response();
    }
    let pages = found.pages();
    let hits = found
        .hits
        .into_iter()
        .map(|h| HitView {
            id_card: idcard::mask(&h.id_card),
            no_path: encode(&h.student_no),
            student_no: h.student_no,
            name: h.name,
            gender: h.gender,
            department: h.department,
            major: h.major,
            class_name: h.class_name,
            level: h.level,
        })
        .collect();
    let shown_q: String = q.q.trim().chars().take(64).collect();
    render(&SearchPage {
        shell: page.shell("学生查询", "students"),
        q_param: format!("q={}", encode(&shown_q)),
        searched: !shown_q.is_empty(),
        q: shown_q,
        hits,
        total: found.total,
        page: found.page,
        pages,
    })
}
