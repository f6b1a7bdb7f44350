//! Receipts on pages: the public verify page (the QR on every receipt opens it, no login) and
//! the student's PDF download from the records page.

use super::extract::StudentPage;
use super::{error_page, render};
use crate::AppState;
use crate::api::receipts::{VerifyQuery, pdf_response};
use crate::i18n::Lang;
use crate::web::Client;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use campuspay_app::receipts::{self, VerifyStatus};
use campuspay_domain::Fen;
use campuspay_domain::receipt::capitals;
use campuspay_domain::time::format_shanghai;

pub struct VerifiedView {
    pub status: &'static str,
    pub class: &'static str,
    pub valid: bool,
    pub heading: String,
    pub code: String,
    pub number: String,
    pub check_code: String,
    pub issued_at: String,
    pub payer: String,
    pub payee: String,
    pub amount: String,
    pub capitals: String,
    pub lines: Vec<(String, String, String)>,
    pub order_no: String,
    pub original: String,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    lang: Lang,
    q_code: String,
    q_number: String,
    q_check: String,
    asked: bool,
    result: Option<VerifiedView>,
    unknown: bool,
}

pub async fn verify_page(State(state): State<AppState>, client: Client, Query(q): Query<VerifyQuery>) -> Response {
    let lang = client.lang;
    let asked = !(q.code.is_empty() && q.number.is_empty() && q.check_code.is_empty());
    let mut page = VerifyPage {
        lang,
        q_code: q.code.clone(),
        q_number: q.number.clone(),
        q_check: q.check_code.clone(),
        asked,
        result: None,
        unknown: false,
    };
    if asked {
        let a = match receipts::verify(&state, &q.code, &q.number, &q.check_code).await {
            Ok(a) => a,
            Err(e) => return error_page(&e, lang),
        };
        page.unknown = a.status == VerifyStatus::Unknown;
        page.result = a.data.map(|d| VerifiedView {
            status: lang.t(a.status.label_zh(), a.status.label_en()),
            class: if a.status == VerifyStatus::Valid { "good" } else { "" },
            valid: a.status == VerifyStatus::Valid,
            heading: d.heading.clone(),
            code: d.code.clone(),
            number: d.number.clone(),
            check_code: a.check_code.clone(),
            issued_at: format_shanghai(d.issued_at),
            payer: d.payer.clone(),
            payee: d.payee.clone(),
            amount: Fen(d.amount_fen).to_string(),
            capitals: capitals(Fen(d.amount_fen)),
            lines: d.lines.iter().map(|l| (l.code.clone(), l.name.clone(), Fen(l.amount_fen).to_string())).collect(),
            order_no: d.order_no.clone(),
            original: d.original.clone(),
        });
    }
    render(&page)
}

/// `/s/{code}/receipts/{id}/pdf`: the logged-in student's receipt.
pub async fn student_pdf(State(state): State<AppState>, page: StudentPage, Path((_, id)): Path<(String, i64)>) -> Response {
    let StudentPage { session: s, client, .. } = page;
    match receipts::pdf_of(&state, s.school_id, Some(s.student_id), id).await {
        Ok((name, pdf)) => pdf_response(&name, pdf),
        Err(e) => error_page(&e, client.lang),
    }
}
