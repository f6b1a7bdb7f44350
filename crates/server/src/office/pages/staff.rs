//! `/office/staff`: 人员管理 — the school's office accounts: add one with a role (its one-time
//! password shown once), disable or enable it, give it a new one-time password.

use super::{CsrfOnly, OfficeForm, OfficePage, Shell, render, render_refused};
use crate::AppState;
use crate::pages::extract::{CsrfForm, OfficePosted};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::office::{auth, staff_admin};
use campuspay_app::{Error, ErrorKind};
use campuspay_domain::office::Role;
use serde::Deserialize;

#[derive(Deserialize, Default, Clone)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

impl CsrfForm for AddForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

pub struct Member {
    pub login: String,
    pub name: String,
    pub role: &'static str,
    pub disabled: bool,
    pub must_change_password: bool,
    pub second_factor: bool,
    pub is_me: bool,
}

#[derive(Template)]
#[template(path = "office/staff.html")]
struct StaffPage {
    shell: Shell,
    members: Vec<Member>,
    roles: Vec<(&'static str, &'static str)>,
    form: AddForm,
    error: Option<Error>,
    /// A message after an action (done=…).
    notice: Option<String>,
    /// (login, one-time password): shown once, after adding or resetting.
    password: Option<(String, String)>,
}

impl StaffPage {
    fn field_error(&self, field: &str) -> Option<String> {
        super::field_error(&self.error, field)
    }
    fn other_error(&self) -> Option<String> {
        super::form_error(&self.error, &["login", "name", "role"])
    }
}

async fn show(
    state: &AppState,
    page: &OfficePage,
    form: AddForm,
    error: Option<Error>,
    notice: Option<String>,
    password: Option<(String, String)>,
) -> Response {
    let rows = match auth::staff_list(state, &page.staff).await {
        Ok(r) => r,
        Err(e) => return page.error(&e),
    };
    let members = rows
        .into_iter()
        .map(|r| Member {
            role: r.role.parse::<Role>().map_or("未知角色", |x| x.label_zh()),
            is_me: r.id == page.staff.id,
            second_factor: r.totp_secret.is_some(),
            login: r.login,
            name: r.name,
            disabled: r.disabled,
            must_change_password: r.must_change_password,
        })
        .collect();
    let roles = [Role::Accountant, Role::Cashier, Role::Auditor, Role::SchoolAdmin].iter().map(|r| (r.as_str(), r.label_zh())).collect();
    let view = StaffPage { shell: page.shell("人员管理", "staff"), members, roles, form, error: error.clone(), notice, password };
    match error {
        Some(e) => render_refused(&view, &e),
        None => render(&view),
    }
}

pub async fn staff_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<DoneQuery>) -> Response {
    let notice = match q.done.as_deref() {
        Some("disabled") => Some("已停用，该账号的登录已全部退出。".to_string()),
        Some("enabled") => Some("已启用。".to_string()),
        _ => None,
    };
    show(&state, &page, AddForm { role: "cashier".into(), ..AddForm::default() }, None, notice, None).await
}

pub async fn add_submit(State(state): State<AppState>, posted: OfficeForm<AddForm>) -> Response {
    let OfficePosted { page, form } = posted;
    let role = match form.role.parse::<Role>() {
        Ok(r) if r != Role::PlatformAdmin => r,
        _ => {
            let e = Error::new(ErrorKind::Refused, "invalid_role", "请选择角色", "Choose a role").field("role");
            return show(&state, &page, form, Some(e), None, None).await;
        }
    };
    if form.name.trim().is_empty() || form.name.trim().chars().count() > 32 {
        let e = Error::new(ErrorKind::Refused, "invalid_name", "请填写姓名（最多32字）", "Enter the name").field("name");
        return show(&state, &page, form, Some(e), None, None).await;
    }
    let school = match page.staff.school() {
        Ok(id) => match state.store.school_by_id(id).await {
            Ok(Some(s)) => s,
            Ok(None) => return page.error(&Error::unknown_school()),
            Err(e) => return page.error(&e.into()),
        },
        Err(e) => return page.error(&e),
    };
    let login = form.login.trim().to_string();
    match auth::add_staff(&state, Some((&page.staff, &page.client)), &school.code, &login, form.name.trim(), role).await {
        Ok((_, password)) => {
            let notice = Some(format!("已添加 {}（{}）。", form.name.trim(), role.label_zh()));
            show(&state, &page, AddForm { role: form.role.clone(), ..AddForm::default() }, None, notice, Some((login, password))).await
        }
        Err(e) if e.kind == ErrorKind::Forbidden => page.error(&e),
        Err(e) => show(&state, &page, form, Some(e), None, None).await,
    }
}

pub async fn action_submit(
    State(state): State<AppState>,
    Path((login, action)): Path<(String, String)>,
    posted: OfficeForm<CsrfOnly>,
) -> Response {
    let page = posted.page;
    let result = match action.as_str() {
        "disable" | "enable" => {
            staff_admin::set_disabled(&state, &page.staff, &page.client, &login, action == "disable").await.map(|()| None)
        }
        "reset-password" => staff_admin::reset_password(&state, &page.staff, &page.client, &login).await.map(Some),
        _ => Err(Error::not_found()),
    };
    match result {
        Ok(None) => Redirect::to(&format!("/office/staff?done={action}d")).into_response(),
        Ok(Some(password)) => {
            let notice = Some(format!("已为 {login} 生成新的一次性密码，其登录已全部退出。"));
            show(&state, &page, AddForm { role: "cashier".into(), ..AddForm::default() }, None, notice, Some((login, password))).await
        }
        Err(e) if matches!(e.kind, ErrorKind::Forbidden | ErrorKind::NotFound) => page.error(&e),
        Err(e) => show(&state, &page, AddForm { role: "cashier".into(), ..AddForm::default() }, Some(e), None, None).await,
    }
}
