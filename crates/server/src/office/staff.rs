//! `/api/v1/office/staff`: a school's admin lists and adds the finance office's people.

use super::StaffSession;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::{ErrorBody, HttpError};
use crate::web::Client;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use campuspay_app::office::{auth, staff_admin};
use campuspay_domain::office::{Permission, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, add)).routes(routes!(disable)).routes(routes!(enable)).routes(routes!(reset_password))
}

#[derive(Serialize, ToSchema)]
pub struct StaffMember {
    login: String,
    name: String,
    role: String,
    second_factor: bool,
    must_change_password: bool,
    disabled: bool,
}

#[derive(Serialize, ToSchema)]
pub struct StaffList {
    staff: Vec<StaffMember>,
}

/// The school's staff (`manage_staff`).
#[utoipa::path(get, path = "/api/v1/office/staff", tag = "office", security(("bearer" = [])), responses(
    (status = 200, description = "人员", body = StaffList),
    (status = 403, description = "没有权限", body = ErrorBody),
))]
async fn list(State(state): State<AppState>, s: StaffSession) -> Result<ApiJson<StaffList>, HttpError> {
    let rows = auth::staff_list(&state, &s.staff).await?;
    Ok(ApiJson(StaffList {
        staff: rows
            .into_iter()
            .map(|r| StaffMember {
                second_factor: r.totp_secret.is_some(),
                login: r.login,
                name: r.name,
                role: r.role,
                must_change_password: r.must_change_password,
                disabled: r.disabled,
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct NewStaffBody {
    login: String,
    name: String,
    /// `school_admin`, `accountant`, `cashier` or `auditor`.
    role: String,
}

#[derive(Serialize, ToSchema)]
pub struct AddedStaff {
    login: String,
    /// Shown once; to be changed at the first login.
    one_time_password: String,
}

/// Add a member of the school's office with a one-time password (`manage_staff`).
#[utoipa::path(post, path = "/api/v1/office/staff", tag = "office", security(("bearer" = [])), request_body = NewStaffBody, responses(
    (status = 200, description = "已添加", body = AddedStaff),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 409, description = "账号已存在", body = ErrorBody),
    (status = 422, description = "账号或角色有误", body = ErrorBody),
))]
async fn add(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    ApiJson(b): ApiJson<NewStaffBody>,
) -> Result<ApiJson<AddedStaff>, HttpError> {
    s.staff.require(Permission::ManageStaff)?;
    let role: Role = b.role.parse().map_err(|_| {
        campuspay_app::Error::new(
            campuspay_app::ErrorKind::Refused,
            "invalid_role",
            "角色只能是 school_admin、accountant、cashier 或 auditor",
            "Unknown role",
        )
        .field("role")
    })?;
    let school = state.store.school_by_id(s.staff.school()?).await?.ok_or_else(campuspay_app::Error::unknown_school)?;
    let (_, password) = auth::add_staff(&state, Some((&s.staff, &client)), &school.code, b.login.trim(), b.name.trim(), role).await?;
    Ok(ApiJson(AddedStaff { login: b.login.trim().to_string(), one_time_password: password }))
}

/// Disable a staff account of the school (`manage_staff`): its sessions end now and it cannot
/// log in. Not one's own account, nor the school's last active admin.
#[utoipa::path(post, path = "/api/v1/office/staff/{login}/disable", tag = "office", security(("bearer" = [])),
    params(("login" = String, Path, description = "账号")), responses(
    (status = 204, description = "已停用"),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这个账号", body = ErrorBody),
    (status = 422, description = "自己的账号或唯一的校管理员", body = ErrorBody),
))]
async fn disable(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(login): Path<String>,
) -> Result<StatusCode, HttpError> {
    staff_admin::set_disabled(&state, &s.staff, &client, &login, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enable a disabled staff account again (`manage_staff`).
#[utoipa::path(post, path = "/api/v1/office/staff/{login}/enable", tag = "office", security(("bearer" = [])),
    params(("login" = String, Path, description = "账号")), responses(
    (status = 204, description = "已启用"),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这个账号", body = ErrorBody),
))]
async fn enable(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(login): Path<String>,
) -> Result<StatusCode, HttpError> {
    staff_admin::set_disabled(&state, &s.staff, &client, &login, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a staff member a new one-time password (`manage_staff`), shown once; their sessions
/// end and they must change it at the next login.
#[utoipa::path(post, path = "/api/v1/office/staff/{login}/reset-password", tag = "office", security(("bearer" = [])),
    params(("login" = String, Path, description = "账号")), responses(
    (status = 200, description = "新的一次性密码", body = AddedStaff),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "本校没有这个账号", body = ErrorBody),
))]
async fn reset_password(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(login): Path<String>,
) -> Result<ApiJson<AddedStaff>, HttpError> {
    let password = staff_admin::reset_password(&state, &s.staff, &client, &login).await?;
    Ok(ApiJson(AddedStaff { login: login.trim().to_string(), one_time_password: password }))
}
