//! A school's merchant configurations, as its admin (or the platform's operator, for a school
//! named) enters them: one form per channel, secrets sealed at rest (`crate::secrets`), never
//! shown again, only replaced. A configuration is checked by building its adapter before it is
//! saved, audited (without any secret) in the same transaction, and used by the running
//! server at once.

use super::{Audited, Staff, audit};
use crate::payment::merchant_config::{self as form, FieldSpec, Secrets};
use crate::secrets::SecretKeys;
use crate::{Client, Context, Error, ErrorKind};
use campuspay_channels::ChannelConfig;
use campuspay_domain::office::{AuditAction, Permission};
use campuspay_domain::payment::MerchantChannel;
use campuspay_store::Store;
use campuspay_store::schools::School;
use serde_json::json;
use std::collections::BTreeMap;

/// One channel of a school as the office sees it: plain fields, and of each secret only
/// whether it is set and when it was last replaced.
pub struct MerchantView {
    pub channel: MerchantChannel,
    pub configured: bool,
    pub updated_at: Option<i64>,
    pub fields: BTreeMap<String, String>,
    /// Secret field → when it was last replaced (absent: not set).
    pub secrets_set: BTreeMap<String, i64>,
    pub specs: &'static [FieldSpec],
}

/// The school the staff member works on: their own, or for the platform's operator the one
/// named by `code`. Another school's code from a school's staff is "not found".
async fn school_of(ctx: &Context, staff: &Staff, code: Option<&str>) -> Result<School, Error> {
    let code = code.map(str::trim).filter(|c| !c.is_empty());
    let school = match (staff.school_id, code) {
        (Some(id), _) => ctx.store.school_by_id(id).await?.filter(|s| code.is_none_or(|c| c == s.code)),
        (None, Some(c)) => ctx.store.school_by_code(c).await?,
        (None, None) => {
            return Err(Error::new(ErrorKind::Refused, "school_required", "请选择学校", "Name the school (?school=CODE)").field("school"));
        }
    };
    school.ok_or_else(Error::unknown_school)
}

fn secrets_of(json: &str) -> Result<Secrets, Error> {
    serde_json::from_str(json).map_err(|e| {
        tracing::error!(error = %e, "merchant secrets unreadable");
        Error::internal()
    })
}

fn plain_of(json: &str) -> Result<BTreeMap<String, String>, Error> {
    serde_json::from_str(json).map_err(|e| {
        tracing::error!(error = %e, "merchant fields unreadable");
        Error::internal()
    })
}

fn keys(ctx: &Context) -> Result<&SecretKeys, Error> {
    ctx.secret_keys.as_ref().ok_or_else(|| {
        Error::new(
            ErrorKind::Unavailable,
            "no_secret_key",
            "服务器没有配置加密密钥（CAMPUSPAY_SECRET_KEY_FILE 或 CAMPUSPAY_SECRET_KEY），不能保存商户密钥",
            "No secret key is configured (CAMPUSPAY_SECRET_KEY_FILE or CAMPUSPAY_SECRET_KEY)",
        )
    })
}

/// The school's four channels (`manage_merchants`).
pub async fn list(ctx: &Context, staff: &Staff, school: Option<&str>) -> Result<(School, Vec<MerchantView>), Error> {
    staff.require(Permission::ManageMerchants)?;
    let school = school_of(ctx, staff, school).await?;
    let rows = ctx.store.merchant_configs_of(school.id).await?;
    let mut out = Vec::new();
    for channel in MerchantChannel::ALL {
        let row = rows.iter().find(|r| r.channel == channel);
        let (fields, secrets_set) = match row {
            Some(r) => (plain_of(&r.fields)?, secrets_of(&r.secrets)?.into_iter().map(|(k, s)| (k, s.set_at)).collect()),
            None => (BTreeMap::new(), BTreeMap::new()),
        };
        out.push(MerchantView {
            channel,
            configured: row.is_some(),
            updated_at: row.map(|r| r.updated_at),
            fields,
            secrets_set,
            specs: form::fields_of(channel),
        });
    }
    Ok((school, out))
}

/// What the platform fills in where an address is left empty: its own notify address for the
/// school and channel, and the school's page to come back to after the UnionPay gateway. (The
/// providers' own addresses stay empty: the adapters default to them.)
fn defaults(ctx: &Context, school: &School, channel: MerchantChannel, fields: &mut BTreeMap<String, String>) {
    for k in ["notify_url", "front_url"] {
        if fields.get(k).is_none_or(|x| x.trim().is_empty())
            && form::spec(channel, k).is_some()
            && let Some(v) = form::default_of(channel, k, ctx.public_url(), &school.code)
        {
            fields.insert(k.to_string(), v);
        }
    }
}

/// Sets the school's configuration of `channel` from the form's `input` (`manage_merchants`):
/// plain fields replace the stored ones; a secret left empty keeps the stored one. Checked by
/// building the adapter first; a refusal names the field and changes nothing.
pub async fn save(
    ctx: &Context,
    staff: &Staff,
    client: &Client,
    school: Option<&str>,
    channel: MerchantChannel,
    input: &BTreeMap<String, String>,
) -> Result<(), Error> {
    staff.require(Permission::ManageMerchants)?;
    let school = school_of(ctx, staff, school).await?;
    let keys = keys(ctx)?;
    if let Some(unknown) = input.keys().find(|k| form::spec(channel, k).is_none()) {
        return Err(Error::new(
            ErrorKind::Refused,
            "unknown_field",
            format!("{}没有字段 {unknown}", channel.label_zh()),
            format!("{} has no field {unknown}", channel.as_str()),
        )
        .field("fields"));
    }
    let mut tx = ctx.store.write_tx().await?;
    let existing = ctx.store.merchant_config_in(&mut tx, school.id, channel).await?;
    let (old_plain, old_secrets) = match &existing {
        Some(r) => (plain_of(&r.fields)?, secrets_of(&r.secrets)?),
        None => (BTreeMap::new(), Secrets::new()),
    };
    let mut all: BTreeMap<String, String> = BTreeMap::new();
    let (mut kept, mut replaced) = (Vec::new(), Vec::new());
    for s in form::fields_of(channel) {
        let typed = input.get(s.name).map(|v| v.trim()).unwrap_or("");
        if !typed.is_empty() {
            all.insert(s.name.to_string(), typed.to_string());
            if s.secret {
                replaced.push(s.name);
            }
        } else if s.secret && old_secrets.contains_key(s.name) {
            kept.push(s.name);
        }
    }
    defaults(ctx, &school, channel, &mut all);
    // The kept secrets are opened only to check the whole configuration; they stay sealed as
    // they were (their "last replaced" time with them).
    let mut opened = BTreeMap::new();
    let kept_secrets: Secrets =
        old_secrets.iter().filter(|(k, _)| kept.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    form::open_all(keys, school.id, channel, &kept_secrets, &mut opened).map_err(|e| {
        tracing::error!(error = %e, school = school.id, "stored merchant secret does not open");
        Error::internal()
    })?;
    let mut checked = all.clone();
    checked.extend(opened);
    let config = form::to_config(channel, &checked)?;
    let now = ctx.clock.now();
    let (plain, mut secrets) = form::seal_fields(keys, school.id, channel, &all, now);
    secrets.extend(kept_secrets);
    let plain_json = serde_json::to_string(&plain).map_err(|_| Error::internal())?;
    let secrets_json = serde_json::to_string(&secrets).map_err(|_| Error::internal())?;
    ctx.store.put_merchant_config(&mut tx, school.id, channel, &plain_json, &secrets_json, Some(staff.id)).await?;
    let subject = format!("school:{}/merchant:{}", school.code, channel.as_str());
    let set_times = |s: &Secrets| s.iter().map(|(k, v)| (k.clone(), v.set_at)).collect::<BTreeMap<_, _>>();
    let before = existing.as_ref().map(|_| json!({"fields": old_plain, "secrets_set": set_times(&old_secrets)}));
    let after = json!({"fields": plain, "secrets_set": set_times(&secrets), "secrets_replaced": replaced});
    audit(ctx, &mut tx, staff, client, &Audited { action: AuditAction::MerchantConfigured, subject: &subject, before, after: Some(after) })
        .await?;
    tx.commit().await?;
    // In use from the next payment on, without a restart: in this process now, in a separate
    // worker or a second instance within `FOLLOW_EVERY` (`follow_changes`).
    ctx.channels.set(school.id, &config).map_err(|e| {
        tracing::error!(error = %e, "a checked merchant configuration did not build");
        Error::internal()
    })?;
    Ok(())
}

/// Every school's configurations, secrets opened, for the channels at start-up. Plaintext rows
/// of the old `school_channels` table are sealed into `merchant_configs` first.
pub async fn load_all(store: &Store, keys: Option<&SecretKeys>) -> Result<Vec<(i64, ChannelConfig)>, String> {
    let missing_key = |what: &str| {
        format!(
            "{what}, but no secret key is configured: set {} to a file holding the key (64 hex digits), or {} to the key",
            crate::secrets::KEY_FILE_ENV,
            crate::secrets::KEY_ENV
        )
    };
    let legacy = store.channel_configs().await.map_err(|e| e.to_string())?;
    if !legacy.is_empty() {
        let keys =
            keys.ok_or_else(|| missing_key("merchant configurations are stored in plaintext (school_channels) and must be encrypted"))?;
        for row in legacy {
            let config: ChannelConfig =
                serde_json::from_str(&row.config).map_err(|e| format!("school {} {}: {e}", row.school_id, row.provider))?;
            let (channel, all) = form::from_config(&config);
            let (plain, secrets) = form::seal_fields(keys, row.school_id, channel, &all, campuspay_store::db_now());
            let mut tx = store.write_tx().await.map_err(|e| e.to_string())?;
            let plain = serde_json::to_string(&plain).map_err(|e| e.to_string())?;
            let secrets = serde_json::to_string(&secrets).map_err(|e| e.to_string())?;
            store.put_merchant_config(&mut tx, row.school_id, channel, &plain, &secrets, None).await.map_err(|e| e.to_string())?;
            store.delete_channel_config(&mut tx, row.school_id, row.provider).await.map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            tracing::info!(school = row.school_id, channel = channel.as_str(), "plaintext merchant configuration encrypted");
        }
    }
    let rows = store.merchant_configs().await.map_err(|e| e.to_string())?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let keys = keys.ok_or_else(|| missing_key("merchant configurations with encrypted secrets are stored"))?;
    let mut out = Vec::new();
    for r in rows {
        let at = format!("school {} {}", r.school_id, r.channel);
        let mut all = plain_of(&r.fields).map_err(|_| format!("{at}: fields unreadable"))?;
        let secrets = secrets_of(&r.secrets).map_err(|_| format!("{at}: secrets unreadable"))?;
        form::open_all(keys, r.school_id, r.channel, &secrets, &mut all).map_err(|e| format!("{at}: {e}"))?;
        let config = form::to_config(r.channel, &all).map_err(|e| format!("{at}: {}", e.zh))?;
        out.push((r.school_id, config));
    }
    Ok(out)
}

/// How often a process looks whether another one changed a merchant configuration.
pub const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// A fingerprint of the stored configurations: any save changes it (the sealed secrets carry a
/// fresh nonce), whatever the clock's resolution.
fn fingerprint(rows: &[campuspay_store::merchants::MerchantRow]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for r in rows {
        (r.school_id, r.channel.as_str(), &r.fields, &r.secrets, r.updated_at).hash(&mut h);
    }
    h.finish()
}

/// Rebuilds this process's channels from the stored configurations when they changed since
/// `seen` (`None`: never looked). This is how a separate `campuspay worker`, or a second
/// instance on the same database, takes up what the office saved in another process.
/// Returns whether it reloaded.
pub async fn reload_if_changed(ctx: &Context, seen: &mut Option<u64>) -> Result<bool, String> {
    let rows = ctx.store.merchant_configs().await.map_err(|e| e.to_string())?;
    let now = fingerprint(&rows);
    if *seen == Some(now) {
        return Ok(false);
    }
    for (school_id, config) in load_all(&ctx.store, ctx.secret_keys.as_ref()).await? {
        ctx.channels.set(school_id, &config).map_err(|e| format!("school {school_id}: {e}"))?;
    }
    *seen = Some(now);
    Ok(true)
}

/// Follows the stored configurations for as long as the process runs. The first look reloads
/// them, which also catches a save made between start-up and here.
pub async fn follow_changes(ctx: Context) {
    let mut seen = None;
    loop {
        match reload_if_changed(&ctx, &mut seen).await {
            Ok(true) => tracing::info!("merchant configurations (re)loaded"),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "merchant configurations could not be reloaded; the ones loaded before stay in use"),
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// What [`reseal_all`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resealed {
    /// Secrets moved to the sealing key now.
    pub resealed: usize,
    /// Secrets already under it.
    pub current: usize,
}

/// Re-seals every stored merchant secret under the sealing key (the first of `keys`), in one
/// transaction: after it, the older keys can be removed from the key file. A secret that does
/// not open under any configured key stops it with nothing changed. The secrets keep their
/// "last replaced" time: rotation replaces the wrapping, not the secret.
pub async fn reseal_all(store: &Store, keys: &SecretKeys) -> Result<Resealed, String> {
    let mut tx = store.write_tx().await.map_err(|e| e.to_string())?;
    let mut done = Resealed { resealed: 0, current: 0 };
    for listed in store.merchant_configs().await.map_err(|e| e.to_string())? {
        // Read again in the transaction (held on PostgreSQL): a save meanwhile is not undone.
        let Some(r) = store.merchant_config_in(&mut tx, listed.school_id, listed.channel).await.map_err(|e| e.to_string())? else {
            continue;
        };
        let at = format!("school {} {}", r.school_id, r.channel);
        let mut secrets = secrets_of(&r.secrets).map_err(|_| format!("{at}: secrets unreadable"))?;
        let mut changed = false;
        for (field, stored) in secrets.iter_mut() {
            if keys.seals_with(&stored.sealed.kid) {
                done.current += 1;
                continue;
            }
            let place = form::place(r.school_id, r.channel, field);
            let plain = keys.open(&place, &stored.sealed).map_err(|e| format!("{at} {field}: {e}"))?;
            stored.sealed = keys.seal(&place, &plain);
            changed = true;
            done.resealed += 1;
        }
        if changed {
            let json = serde_json::to_string(&secrets).map_err(|e| e.to_string())?;
            store.reseal_merchant_secrets(&mut tx, r.school_id, r.channel, &json).await.map_err(|e| e.to_string())?;
        }
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(done)
}
