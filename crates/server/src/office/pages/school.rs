//! `/office/school`: the school's policy as a form (school admin); `/office/schools/new`: a new
//! school with its first admin and its policy (the platform's operator). Every field of the
//! policy is checked by `SchoolPolicy::problems()` in the use case; each problem is shown
//! beside its fields and the form comes back as typed.

use super::policy_form::{self, PolicyForm};
use super::{OfficeForm, OfficePage, Shell, render, render_refused};
use crate::AppState;
use crate::pages::extract::{CsrfForm, OfficePosted};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::office::schools;
use campuspay_app::{Error, ErrorKind};
use serde::Deserialize;
use std::collections::BTreeMap;

/// A posted form: the token and every input by name.
#[derive(Deserialize)]
pub struct FlatForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    values: BTreeMap<String, String>,
}

impl CsrfForm for FlatForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Deserialize, Default)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

#[derive(Template)]
#[template(path = "office/school_policy.html")]
struct PolicyPage {
    shell: Shell,
    school_name: String,
    school_code: String,
    p: PolicyForm,
    saved: bool,
    error: Option<String>,
}

pub async fn policy_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<SavedQuery>) -> Response {
    let school = match schools::own(&state, &page.staff).await {
        Ok(s) => s,
        Err(e) => return page.error(&e),
    };
    render(&PolicyPage {
        shell: page.shell("学校设置", "school"),
        p: policy_form::from_policy(&school.policy),
        school_name: school.name,
        school_code: school.code,
        saved: q.saved.is_some(),
        error: None,
    })
}

pub async fn policy_submit(State(state): State<AppState>, posted: OfficeForm<FlatForm>) -> Response {
    let OfficePosted { page, form } = posted;
    let school = match schools::own(&state, &page.staff).await {
        Ok(s) => s,
        Err(e) => return page.error(&e),
    };
    let typed = PolicyForm { values: form.values, problems: BTreeMap::new() };
    let result = match policy_form::to_policy(&typed) {
        Ok(policy) => schools::update_policy(&state, &page.staff, &page.client, policy).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Redirect::to("/office/school?saved=1").into_response(),
        Err(e) if e.kind == ErrorKind::Forbidden => page.error(&e),
        Err(e) => render_refused(
            &PolicyPage {
                shell: page.shell("学校设置", "school"),
                p: typed.with_error(&e),
                school_name: school.name,
                school_code: school.code,
                saved: false,
                error: Some(format!("未保存。{}（各项已在下方标出）", e.zh)),
            },
            &e,
        ),
    }
}

#[derive(Template)]
#[template(path = "office/school_new.html")]
struct NewSchoolPage {
    shell: Shell,
    p: PolicyForm,
    error: Option<Error>,
    /// The school made: (code, name, admin login, one-time password), shown once.
    created: Option<(String, String, String, String)>,
}

impl NewSchoolPage {
    fn field_error(&self, field: &str) -> Option<String> {
        super::field_error(&self.error, field)
    }
    fn other_error(&self) -> Option<String> {
        let policy_fields = self.p.problems.keys().map(String::as_str).collect::<Vec<_>>();
        let mut shown = vec!["code", "name", "name_en", "region", "admin_login"];
        shown.extend(policy_fields);
        super::form_error(&self.error, &shown)
    }
}

pub async fn new_school_page(page: OfficePage) -> Response {
    if let Err(e) = page.staff.require(campuspay_domain::office::Permission::ManagePlatform) {
        return page.error(&e);
    }
    let mut p = policy_form::from_policy(&policy_form::new_school_policy());
    for k in ["code", "name", "name_en", "region", "admin_login"] {
        p.values.insert(k.into(), String::new());
    }
    p.values.insert("admin_login".into(), "admin".into());
    render(&NewSchoolPage { shell: page.shell("新建学校", "new_school"), p, error: None, created: None })
}

pub async fn new_school_submit(State(state): State<AppState>, posted: OfficeForm<FlatForm>) -> Response {
    let OfficePosted { page, form } = posted;
    let typed = PolicyForm { values: form.values, problems: BTreeMap::new() };
    let result = match policy_form::to_policy(&typed) {
        Ok(policy) => {
            let input = schools::NewSchoolInput {
                code: typed.v("code"),
                name: typed.v("name"),
                name_en: typed.v("name_en"),
                region: typed.v("region"),
                policy,
                admin_login: typed.v("admin_login"),
            };
            schools::create(&state, &page.staff, &page.client, &input).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(done) => render(&NewSchoolPage {
            shell: page.shell("新建学校", "new_school"),
            created: Some((typed.v("code").trim().to_string(), typed.v("name").trim().to_string(), done.admin_login, done.admin_password)),
            p: typed,
            error: None,
        }),
        Err(e) if e.kind == ErrorKind::Forbidden => page.error(&e),
        Err(e) => {
            let p = if e.code == "invalid_policy" { typed.with_error(&e) } else { typed };
            let view = NewSchoolPage { shell: page.shell("新建学校", "new_school"), p, error: Some(e.clone()), created: None };
            render_refused(&view, &e)
        }
    }
}
