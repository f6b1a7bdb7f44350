//! `/office/merchants`: 商户配置 — the school's channels, and a form per channel with what
//! each field means. Secrets are never shown: a secret field says whether it is set and when it
//! was last replaced; left empty it keeps the stored one. The platform's operator picks the
//! school (`?school=`).

use super::{OfficeForm, OfficePage, Shell, render, render_refused};
use crate::AppState;
use crate::pages::extract::{CsrfForm, OfficePosted};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use campuspay_app::Error;
use campuspay_app::office::merchants::{self, MerchantView};
use campuspay_app::office::schools;
use campuspay_app::payment::merchant_config::default_of;
use campuspay_domain::payment::MerchantChannel;
use campuspay_domain::time::format_shanghai;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize, Default)]
pub struct MerchantQuery {
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    school: Option<String>,
    #[serde(default)]
    saved: Option<String>,
}

/// The posted form: the token and the channel's fields by name.
#[derive(Deserialize)]
pub struct MerchantForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: BTreeMap<String, String>,
}

impl CsrfForm for MerchantForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub struct FieldView {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub secret: bool,
    pub required: bool,
    pub multiline: bool,
    /// The plain value (stored, or as typed); always empty for a secret.
    pub value: String,
    /// For a secret: 「已设置（… 更换）」 or 「未设置」.
    pub status: String,
    /// What an empty address becomes.
    pub placeholder: String,
    pub error: Option<String>,
}

pub struct ChannelRow {
    pub code: &'static str,
    pub name: &'static str,
    pub configured: bool,
    pub updated_at: String,
}

#[derive(Template)]
#[template(path = "office/merchants.html")]
struct MerchantsPage {
    shell: Shell,
    /// The school's code and name; for the platform's operator, the schools to pick from.
    school_code: String,
    school_name: String,
    schools: Vec<(String, String)>,
    platform: bool,
    rows: Vec<ChannelRow>,
    channel: &'static str,
    channel_name: &'static str,
    fields: Vec<FieldView>,
    saved: bool,
    /// A refusal not tied to a shown field.
    other_error: Option<String>,
    /// A refused save: the secrets typed were not kept and must be pasted again.
    retype_secrets: bool,
}

fn school_param(school: &str) -> String {
    if school.is_empty() { String::new() } else { format!("&school={school}") }
}

async fn show(
    state: &AppState,
    page: &OfficePage,
    school: Option<&str>,
    channel: MerchantChannel,
    typed: Option<&BTreeMap<String, String>>,
    error: Option<Error>,
    saved: bool,
) -> Response {
    let platform = page.staff.school_id.is_none();
    let schools = if platform {
        match schools::list(state, &page.staff).await {
            Ok(list) => list.into_iter().map(|s| (s.code, s.name)).collect(),
            Err(e) => return page.error(&e),
        }
    } else {
        Vec::new()
    };
    // The platform's operator lands on the first school until one is picked.
    let school = school.filter(|s| !s.is_empty()).map(str::to_string).or_else(|| schools.first().map(|(c, _)| c.clone()));
    let (school, views) = match merchants::list(state, &page.staff, school.as_deref()).await {
        Ok(v) => v,
        Err(e) => return page.error(&e),
    };
    let rows = views
        .iter()
        .map(|v| ChannelRow {
            code: v.channel.as_str(),
            name: v.channel.label_zh(),
            configured: v.configured,
            updated_at: v.updated_at.map(format_shanghai).unwrap_or_default(),
        })
        .collect();
    let Some(view) = views.iter().find(|v| v.channel == channel) else {
        return page.error(&Error::internal());
    };
    let fields = field_views(view, typed, &error, state.public_url(), &school.code);
    let shown: Vec<&str> = view.specs.iter().map(|s| s.name).collect();
    let other_error = super::form_error(&error, &shown);
    let out = MerchantsPage {
        shell: page.shell("商户配置", "merchants"),
        school_code: if platform { school.code.clone() } else { String::new() },
        school_name: school.name,
        schools,
        platform,
        rows,
        channel: channel.as_str(),
        channel_name: channel.label_zh(),
        fields,
        saved,
        other_error,
        retype_secrets: error.is_some()
            && typed.is_some_and(|t| view.specs.iter().any(|s| s.secret && t.get(s.name).is_some_and(|v| !v.trim().is_empty()))),
    };
    match &error {
        Some(e) => render_refused(&out, e),
        None => render(&out),
    }
}

fn field_views(
    view: &MerchantView,
    typed: Option<&BTreeMap<String, String>>,
    error: &Option<Error>,
    public_url: &str,
    school_code: &str,
) -> Vec<FieldView> {
    view.specs
        .iter()
        .map(|s| {
            let value = if s.secret {
                String::new()
            } else {
                typed.map_or_else(|| view.fields.get(s.name).cloned(), |t| t.get(s.name).cloned()).unwrap_or_default()
            };
            let status = match view.secrets_set.get(s.name) {
                Some(at) => format!("已设置（{} 更换）；留空则保持不变", format_shanghai(*at)),
                None => "未设置".to_string(),
            };
            FieldView {
                name: s.name,
                label: s.label,
                help: s.help,
                secret: s.secret,
                required: s.required,
                multiline: s.multiline,
                value,
                status,
                placeholder: default_of(view.channel, s.name, public_url, school_code).unwrap_or_default(),
                error: super::field_error(error, s.name),
            }
        })
        .collect()
}

fn channel_of(q: Option<&str>) -> MerchantChannel {
    q.and_then(|c| c.parse().ok()).unwrap_or(MerchantChannel::Wechatpay)
}

pub async fn merchants_page(State(state): State<AppState>, page: OfficePage, Query(q): Query<MerchantQuery>) -> Response {
    let channel = channel_of(q.channel.as_deref());
    show(&state, &page, q.school.as_deref(), channel, None, None, q.saved.is_some()).await
}

pub async fn merchant_submit(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    Query(q): Query<MerchantQuery>,
    posted: OfficeForm<MerchantForm>,
) -> Response {
    let OfficePosted { page, form } = posted;
    let channel = match crate::office::merchants::parse_channel(&channel) {
        Ok(c) => c,
        Err(e) => return page.error(&e),
    };
    let school = q.school.as_deref().filter(|s| !s.is_empty());
    match merchants::save(&state, &page.staff, &page.client, school, channel, &form.fields).await {
        Ok(()) => {
            let to = format!("/office/merchants?channel={}{}&saved=1", channel.as_str(), school_param(school.unwrap_or("")));
            Redirect::to(&to).into_response()
        }
        Err(e) if e.kind == campuspay_app::ErrorKind::Forbidden || e.kind == campuspay_app::ErrorKind::NotFound => page.error(&e),
        Err(e) => show(&state, &page, school, channel, Some(&form.fields), Some(e), false).await,
    }
}
