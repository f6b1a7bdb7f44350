//! `/api/v1/office/announcements`: write, schedule, change and expire the school's notices.

use super::StaffSession;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::{ErrorBody, HttpError};
use crate::web::Client;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use campuspay_app::office::announcements::{self, AnnouncementInput};
use campuspay_domain::time::format_shanghai;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(update)).routes(routes!(expire))
}

#[derive(Serialize, ToSchema)]
pub struct AnnouncementView {
    id: i64,
    title: String,
    body: String,
    /// Beijing time, `YYYY-MM-DD HH:MM:SS`.
    published_at: String,
    expires_at: Option<String>,
    /// `scheduled`, `showing` or `expired`, now.
    state: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct AnnouncementList {
    announcements: Vec<AnnouncementView>,
}

/// The school's announcements, scheduled and expired ones too (`manage_announcements`).
#[utoipa::path(get, path = "/api/v1/office/announcements", tag = "office", security(("bearer" = [])), responses(
    (status = 200, description = "公告", body = AnnouncementList),
    (status = 403, description = "没有权限", body = ErrorBody),
))]
async fn list(State(state): State<AppState>, s: StaffSession) -> Result<ApiJson<AnnouncementList>, HttpError> {
    let now = state.clock.now();
    let rows = announcements::list(&state, &s.staff).await?;
    Ok(ApiJson(AnnouncementList {
        announcements: rows
            .into_iter()
            .map(|a| AnnouncementView {
                id: a.id,
                state: if a.published_at > now {
                    "scheduled"
                } else if a.expires_at.is_some_and(|e| e <= now) {
                    "expired"
                } else {
                    "showing"
                },
                title: a.title,
                body: a.body,
                published_at: format_shanghai(a.published_at),
                expires_at: a.expires_at.map(format_shanghai),
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct AnnouncementBody {
    title: String,
    body: String,
    /// `YYYY-MM-DD HH:MM` Beijing time; absent or empty: now.
    #[serde(default)]
    publish_at: String,
    /// `YYYY-MM-DD HH:MM`; absent or empty: never.
    #[serde(default)]
    expire_at: String,
}

impl AnnouncementBody {
    fn input(&self) -> AnnouncementInput<'_> {
        AnnouncementInput { title: &self.title, body: &self.body, publish_at: &self.publish_at, expire_at: &self.expire_at }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Created {
    id: i64,
}

/// Write an announcement, shown from `publish_at` (now) until `expire_at` (never).
#[utoipa::path(post, path = "/api/v1/office/announcements", tag = "office", security(("bearer" = [])), request_body = AnnouncementBody, responses(
    (status = 200, description = "已保存", body = Created),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 422, description = "标题、内容或时间有误", body = ErrorBody),
))]
async fn create(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    ApiJson(b): ApiJson<AnnouncementBody>,
) -> Result<ApiJson<Created>, HttpError> {
    Ok(ApiJson(Created { id: announcements::create(&state, &s.staff, &client, &b.input()).await? }))
}

/// Change an announcement's text or times.
#[utoipa::path(post, path = "/api/v1/office/announcements/{id}", tag = "office", security(("bearer" = [])), request_body = AnnouncementBody,
    params(("id" = i64, Path, description = "公告")), responses(
    (status = 204, description = "已保存"),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这条公告", body = ErrorBody),
    (status = 422, description = "标题、内容或时间有误", body = ErrorBody),
))]
async fn update(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<AnnouncementBody>,
) -> Result<StatusCode, HttpError> {
    announcements::update(&state, &s.staff, &client, id, &b.input()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take an announcement down now.
#[utoipa::path(post, path = "/api/v1/office/announcements/{id}/expire", tag = "office", security(("bearer" = [])),
    params(("id" = i64, Path, description = "公告")), responses(
    (status = 204, description = "已下线"),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这条公告", body = ErrorBody),
))]
async fn expire(State(state): State<AppState>, client: Client, s: StaffSession, Path(id): Path<i64>) -> Result<StatusCode, HttpError> {
    announcements::expire(&state, &s.staff, &client, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
