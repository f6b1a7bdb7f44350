//! `/api/v1/office/merchants`: a school's merchant configurations per channel. Secrets are
//! write-only: the list says whether each is set and when it was last replaced, never what.

use super::StaffSession;
use crate::AppState;
use crate::api::ApiJson;
use crate::error::{ErrorBody, HttpError};
use crate::web::Client;
use axum::extract::{Path, Query, State};
use campuspay_app::office::merchants::{self, MerchantView};
use campuspay_app::{Error, ErrorKind};
use campuspay_domain::payment::MerchantChannel;
use campuspay_domain::time::format_shanghai;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(save))
}

#[derive(Deserialize, IntoParams)]
pub struct SchoolQuery {
    /// The school's code: required for the platform's operator; a school's staff may leave it
    /// out (another school's code is 404).
    #[serde(default)]
    school: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SecretState {
    field: &'static str,
    label: &'static str,
    set: bool,
    /// When it was last replaced (Beijing time), if set.
    set_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChannelView {
    /// `wechatpay`, `alipay`, `unionpay_gateway`, `unionpay_qr` or `ccb`.
    /// `wechatpay`, `alipay`, `unionpay_gateway`, `unionpay_qr` or `allinpay`.
    channel: &'static str,
    name: &'static str,
    configured: bool,
    updated_at: Option<String>,
    /// The plain fields (ids, serial numbers, public keys, addresses).
    fields: BTreeMap<String, String>,
    /// Each secret field: only whether it is set.
    secrets: Vec<SecretState>,
}

#[derive(Serialize, ToSchema)]
pub struct MerchantList {
    school: String,
    channels: Vec<ChannelView>,
}

pub fn channel_view(v: MerchantView) -> ChannelView {
    let secrets = v
        .specs
        .iter()
        .filter(|s| s.secret)
        .map(|s| {
            let at = v.secrets_set.get(s.name).copied();
            SecretState { field: s.name, label: s.label, set: at.is_some(), set_at: at.map(format_shanghai) }
        })
        .collect();
    ChannelView {
        channel: v.channel.as_str(),
        name: v.channel.label_zh(),
        configured: v.configured,
        updated_at: v.updated_at.map(format_shanghai),
        fields: v.fields,
        secrets,
    }
}

/// The school's channels with their plain fields; of each secret only whether it is set and
/// when it was last replaced (`manage_merchants`).
#[utoipa::path(get, path = "/api/v1/office/merchants", tag = "office", security(("bearer" = [])), params(SchoolQuery), responses(
    (status = 200, description = "商户配置", body = MerchantList),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "没有这所学校", body = ErrorBody),
))]
async fn list(State(state): State<AppState>, s: StaffSession, Query(q): Query<SchoolQuery>) -> Result<ApiJson<MerchantList>, HttpError> {
    let (school, views) = merchants::list(&state, &s.staff, q.school.as_deref()).await?;
    Ok(ApiJson(MerchantList { school: school.code, channels: views.into_iter().map(channel_view).collect() }))
}

pub fn parse_channel(s: &str) -> Result<MerchantChannel, Error> {
    s.parse().map_err(|_| {
        Error::new(
            ErrorKind::NotFound,
            "unknown_channel",
            "没有这个渠道（wechatpay、alipay、unionpay_gateway、unionpay_qr、ccb、allinpay）",
            "Unknown channel: wechatpay, alipay, unionpay_gateway, unionpay_qr, ccb or allinpay",
        )
    })
}

/// Set the school's configuration of one channel (`manage_merchants`). The body is the form's
/// fields as strings (see `GET` for their names); plain fields replace the stored ones, a
/// secret left empty or out keeps the stored one. The adapter is built first: a bad key is
/// 422 naming its field (`error.field`) and changes nothing. In use for the next payment.
#[utoipa::path(put, path = "/api/v1/office/merchants/{channel}", tag = "office", security(("bearer" = [])),
    params(("channel" = String, Path, description = "`wechatpay`, `alipay`, `unionpay_gateway`, `unionpay_qr` or `ccb`"), SchoolQuery),
    params(("channel" = String, Path, description = "`wechatpay`, `alipay`, `unionpay_gateway`, `unionpay_qr` or `allinpay`"), SchoolQuery),
    request_body = BTreeMap<String, String>, responses(
    (status = 200, description = "已保存", body = ChannelView),
    (status = 403, description = "没有权限", body = ErrorBody),
    (status = 404, description = "没有这所学校或渠道", body = ErrorBody),
    (status = 422, description = "某字段有误（error.field）", body = ErrorBody),
    (status = 503, description = "服务器没有配置加密密钥", body = ErrorBody),
))]
async fn save(
    State(state): State<AppState>,
    client: Client,
    s: StaffSession,
    Path(channel): Path<String>,
    Query(q): Query<SchoolQuery>,
    ApiJson(body): ApiJson<BTreeMap<String, String>>,
) -> Result<ApiJson<ChannelView>, HttpError> {
    // Who may not configure merchants is told so before the channel or body is looked at.
    s.staff.require(campuspay_domain::office::Permission::ManageMerchants)?;
    let channel = parse_channel(&channel)?;
    merchants::save(&state, &s.staff, &client, q.school.as_deref(), channel, &body).await?;
    let (_, views) = merchants::list(&state, &s.staff, q.school.as_deref()).await?;
    let view = views.into_iter().find(|v| v.channel == channel).ok_or_else(Error::internal)?;
    Ok(ApiJson(channel_view(view)))
}
