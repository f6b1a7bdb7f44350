//! `/api/v1/office/schools` (the platform's operator) and `/api/v1/office/school/policy`
//! (a school's admin): schools are created and their policies kept through the API.

use super::StaffSession;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::{ErrorBody, HttpError};
use crate::web::Client;
use axum::extract::State;
use axum::http::StatusCode;
use campuspay_app::office::schools;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(policy, update_policy))
}

#[derive(Serialize, ToSchema)]
pub struct SchoolView {
    id: i64,
    code: String,
    name: String,
    name_en: String,
    region: String,
    /// The school's `SchoolPolicy`.
    #[schema(value_type = Object)]
    policy: serde_json::Value,
}

fn view(s: campuspay_store::schools::School) -> SchoolView {
    SchoolView { id: s.id, policy: serde_json::json!(s.policy), code: s.code, name: s.name, name_en: s.name_en, region: s.region }
}

#[derive(Serialize, ToSchema)]
pub struct SchoolList {
    schools: Vec<SchoolView>,
}

/// Every school (`manage_platform`).
#[utoipa::path(get, path = "/api/v1/office/schools", tag = "office", security(("bearer" = [])), responses(
    (status = 200, description = "学校", body = SchoolList),
    (status = 403, description = "没有权限", body = ErrorBody),
))]
async fn list(State(state): State<AppState>, s: StaffSession) -> Result<ApiJson<SchoolList>, HttpError> {
    Ok(ApiJson(SchoolList { schools: schools::list(&state, &s.staff).await?.into_iter().map(view).collect() }))
}

#[derive(Deserialize, ToSchema)]
pub struct NewSchoolBody {
    /// 2–16 lower-case letters or digits: the school's address is `/s/{code}/`.
    code: String,
    name: String,
    #[serde(default)]
    name_en: String,
    /// 所在地区, e.g. 甘肃省.
    region: String,
    /// The `SchoolPolicy`, every field checked before anything is saved.
    #[schema(value_type = Object)]
    policy: serde_json::Value,
    /// The first 校管理员's login (default `admin`).
    #[serde(default)]
    admin_login: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedSchool {
    id: i64,
    admin_login: String,
    /// Shown once; the admin must change it at the first login.
    admin_one_time_password: String,
}

/// Create a school with its first admin (`manage_platform`).
#[utoipa::path(post, path = "/api/v1/office/schools", tag = "office", security(("bearer" = [])), request_body = NewSchoolBody, responses(
    (status = 200, description = "已创建", body = CreatedSchool),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 409, description = "学校代码已被使用", body = ErrorBody),
    (status = 422, description = "代码、名称或设置有误（details.problems 列出每个字段）", body = ErrorBody),
))]
async fn create(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    ApiJson(b): ApiJson<NewSchoolBody>,
) -> Result<ApiJson<CreatedSchool>, HttpError> {
    // Who may not create schools is told so before their policy is read.
    s.staff.require(campuspay_domain::office::Permission::ManagePlatform)?;
    let input = schools::NewSchoolInput {
        code: &b.code,
        name: &b.name,
        name_en: &b.name_en,
        region: &b.region,
        policy: schools::parse_policy(b.policy)?,
        admin_login: &b.admin_login,
    };
    let done = schools::create(&state, &s.staff, &client, &input).await?;
    Ok(ApiJson(CreatedSchool { id: done.id, admin_login: done.admin_login, admin_one_time_password: done.admin_password }))
}

/// The staff member's school and its policy (`manage_school`).
#[utoipa::path(get, path = "/api/v1/office/school/policy", tag = "office", security(("bearer" = [])), responses(
    (status = 200, description = "学校设置", body = SchoolView),
    (status = 403, description = "没有权限", body = ErrorBody),
))]
async fn policy(State(state): State<AppState>, s: StaffSession) -> Result<ApiJson<SchoolView>, HttpError> {
    Ok(ApiJson(view(schools::own(&state, &s.staff).await?)))
}

/// Replace the school's policy (`manage_school`); every field is checked first and a refusal
/// lists each problem with its field.
#[utoipa::path(post, path = "/api/v1/office/school/policy", tag = "office", security(("bearer" = [])), request_body = Object, responses(
    (status = 204, description = "已保存"),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 422, description = "设置有误（details.problems 列出每个字段）", body = ErrorBody),
))]
async fn update_policy(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    ApiJson(b): ApiJson<serde_json::Value>,
) -> Result<StatusCode, HttpError> {
    s.staff.require(campuspay_domain::office::Permission::ManageSchool)?;
    schools::update_policy(&state, &s.staff, &client, schools::parse_policy(b)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
