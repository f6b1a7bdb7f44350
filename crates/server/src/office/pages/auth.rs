//! `/office/login`, `/office/logout`, `/office/password`: the office's session by cookie.

use super::{AnyOfficeForm, AnyOfficePage, CsrfOnly, Shell, office_cookie, render, render_refused};
use crate::AppState;
use crate::pages::extract::{CsrfForm, OfficePosted};
use crate::web::Client;
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::Error;
use campuspay_app::office::auth;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "office/login.html")]
struct LoginPage {
    shell: Shell,
    school: String,
    login: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    expired: Option<String>,
    out: Option<String>,
}

pub async fn login_page(Query(q): Query<LoginQuery>) -> Response {
    let notice = if q.expired.is_some() {
        Some("登录已过期，请重新登录")
    } else if q.out.is_some() {
        Some("已安全退出")
    } else {
        None
    };
    render(&LoginPage { shell: Shell::anonymous("财务登录"), school: String::new(), login: String::new(), error: None, notice })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    school: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp: String,
}

pub async fn login_submit(State(state): State<AppState>, client: Client, Form(f): Form<LoginForm>) -> Response {
    let school = f.school.trim().to_ascii_lowercase();
    let input = auth::StaffLoginInput { school: &school, login: f.login.trim(), password: &f.password, totp: Some(&f.totp) };
    match auth::login(&state, &input, &client).await {
        Ok(out) => {
            let to = if out.staff.must_change_password {
                "/office/password"
            } else if out.staff.must_enrol_totp {
                "/office/totp"
            } else {
                "/office/"
            };
            let mut res = Redirect::to(to).into_response();
            res.headers_mut().append(header::SET_COOKIE, office_cookie(&state, &out.token, None));
            res
        }
        Err(e) => {
            let page = LoginPage {
                shell: Shell::anonymous("财务登录"),
                school: school.chars().take(32).collect(),
                login: f.login.trim().chars().take(64).collect(),
                error: Some(e.zh.clone()),
                notice: None,
            };
            render_refused(&page, &e)
        }
    }
}

pub async fn logout(State(state): State<AppState>, posted: AnyOfficeForm<CsrfOnly>) -> Response {
    let OfficePosted { page: AnyOfficePage(page), .. } = posted;
    if let Err(e) = auth::logout(&state, &page.staff, &page.session, &page.client).await {
        return page.error(&e);
    }
    let mut res = Redirect::to("/office/login?out=1").into_response();
    res.headers_mut().append(header::SET_COOKIE, office_cookie(&state, "", Some(0)));
    res
}

#[derive(Template)]
#[template(path = "office/password.html")]
struct PasswordPage {
    shell: Shell,
    forced: bool,
    error: Option<Error>,
}

impl PasswordPage {
    fn field_error(&self, field: &str) -> Option<String> {
        super::field_error(&self.error, field)
    }
    fn other_error(&self) -> Option<String> {
        super::form_error(&self.error, &["old_password", "new_password", "confirm_password"])
    }
}

pub async fn password_page(AnyOfficePage(page): AnyOfficePage) -> Response {
    render(&PasswordPage { shell: page.shell("修改密码", ""), forced: page.staff.must_change_password, error: None })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

impl CsrfForm for PasswordForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn password_submit(State(state): State<AppState>, posted: AnyOfficeForm<PasswordForm>) -> Response {
    let OfficePosted { page: AnyOfficePage(page), form: f } = posted;
    let result = if f.new_password != f.confirm_password {
        Err(Error::new(campuspay_app::ErrorKind::Refused, "password_mismatch", "两次输入的新密码不一致", "The passwords differ")
            .field("confirm_password"))
    } else {
        auth::change_password(&state, &page.staff, &page.session, &f.old_password, &f.new_password, &page.client).await
    };
    match result {
        Ok(()) => Redirect::to("/office/").into_response(),
        Err(e) => {
            let view =
                PasswordPage { shell: page.shell("修改密码", ""), forced: page.staff.must_change_password, error: Some(e.clone()) };
            render_refused(&view, &e)
        }
    }
}
