//! `GET /api/v1/office/students?q=&page=`: find a student of the school by number, name or
//! ID card; ID cards come back masked, as in every list.

use super::StaffSession;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::{ErrorBody, HttpError};
use axum::extract::{Query, State};
use campuspay_app::office::search;
use campuspay_domain::idcard;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(find_students))
}

#[derive(Deserialize, IntoParams)]
pub struct SearchQuery {
    /// Student number (its beginning), part of the name, or the ID card (whole or its last 6+ characters).
    #[serde(default)]
    q: String,
    /// 1-based; 50 students a page.
    page: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct StudentHitView {
    student_no: String,
    name: String,
    gender: String,
    /// Masked: `3702**********111X`.
    id_card: String,
    department: String,
    major: String,
    level: String,
    class_name: String,
    enrol_year: i64,
}

#[derive(Serialize, ToSchema)]
pub struct StudentSearchView {
    students: Vec<StudentHitView>,
    /// Matches over all pages.
    total: i64,
    page: i64,
    per_page: i64,
}

/// Find students of the staff member's school (`view_students`); an empty `q` finds nobody.
#[utoipa::path(get, path = "/api/v1/office/students", tag = "office", security(("bearer" = [])), params(SearchQuery), responses(
    (status = 200, description = "匹配的学生（身份证号已遮挡）", body = StudentSearchView),
    (status = 403, description = "没有权限", body = ErrorBody),
))]
async fn find_students(
    State(state): State<AppState>,
    s: StaffSession,
    Query(q): Query<SearchQuery>,
) -> Result<ApiJson<StudentSearchView>, HttpError> {
    let found = search::students(&state, &s.staff, &q.q, q.page.unwrap_or(1)).await?;
    Ok(ApiJson(StudentSearchView {
        total: found.total,
        page: found.page,
        per_page: found.per_page,
        students: found
            .hits
            .into_iter()
            .map(|h| StudentHitView {
                id_card: idcard::mask(&h.id_card),
                student_no: h.student_no,
                name: h.name,
                gender: h.gender,
                department: h.department,
                major: h.major,
                level: h.level,
                class_name: h.class_name,
                enrol_year: h.enrol_year,
            })
            .collect(),
    }))
}
