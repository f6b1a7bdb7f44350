//! 手工导入对账单: where a provider's statement API is unavailable, the office uploads the file
//! it downloaded from the provider's merchant console for a channel and day. The file is read
//! by the same parser the adapter uses for the API's file (WeChat's trade bill, plain or gzip;
//! Alipay's zip of GBK CSVs or its detail CSV; UnionPay's ZM file or its zip), checked against
//! its own summary and its day, then reconciled like the daily run; the file is kept with the
//! run and the import audited. A file that cannot be read changes nothing.

use super::reports::valid_date;
use super::{Audited, Staff, audit};
use crate::payment::reconcile::{self, Unreadable};
use crate::{Client, Context, Error, ErrorKind};
use base64::Engine;
use campuspay_channels::statement::BillBody;
use campuspay_channels::statement::{decode_gbk, unzip};
use campuspay_channels::{ChannelConfig, ChannelError, Provider, StatementFile, alipay, unionpay};
use campuspay_domain::office::{AuditAction, Permission};
use campuspay_store::reports::{NewStatementImport, ReconciliationRow};

fn refused(code: &'static str, zh: impl Into<String>, en: impl Into<String>, field: &'static str) -> Error {
    Error::new(ErrorKind::Refused, code, zh, en).field(field)
}

fn unreadable(e: ChannelError) -> Error {
    refused(
        "statement_unreadable",
        format!("对账单无法读取，请确认渠道、日期和文件是否对应：{e}"),
        format!("The statement cannot be read: {e}"),
        "file",
    )
}

pub fn parse_provider(s: &str) -> Result<Provider, Error> {
    s.trim().parse().map_err(|_| {
        refused("invalid_provider", "渠道只能是 wechatpay、alipay 或 unionpay", "provider is wechatpay, alipay or unionpay", "provider")
    })
}

fn text_of(bytes: &[u8]) -> Result<String, Error> {
    match std::str::from_utf8(bytes) {
        Ok(t) => Ok(t.to_string()),
        // Alipay's CSVs come in GBK.
        Err(_) => decode_gbk(bytes).map_err(unreadable),
    }
}

fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// The UnionPay merchant numbers the school has configured (a ZM file names its merchant on
/// every line, and lines of another merchant are refused).
async fn unionpay_merchants(ctx: &Context, school_id: i64) -> Result<Vec<String>, Error> {
    let mut ids = Vec::new();
    for row in ctx.store.channel_configs().await? {
        if row.school_id != school_id || row.provider != Provider::Unionpay {
            continue;
        }
        if let Ok(ChannelConfig::Unionpay(u)) = serde_json::from_str::<ChannelConfig>(&row.config) {
            ids.push(u.mer_id);
        }
    }
    Ok(ids)
}

/// The file as `provider`'s statement of `date`, to reconcile (which checks that every line is
/// of that day).
async fn read(ctx: &Context, school_id: i64, provider: Provider, date: &str, bytes: &[u8]) -> Result<StatementFile, Error> {
    let statement = match provider {
        // 5W1005's file comes by FTP from the 外联平台 and its content format is not public.
        Provider::Ccb => {
            return Err(refused(
                "statement_format_unknown",
                "建行对账文件的格式未公开，无法导入",
                "CCB's statement file format is not public",
                "provider",
            ));
        }
        // 通联's file layout is not public: nothing to read it by.
        Provider::Allinpay => {
            return Err(refused(
                "statement_unsupported",
                "通联收银宝的对账文件格式未公开，暂不支持导入",
                "allinpay's statement layout is not public",
                "provider",
            ));
        }
        // Read line by line as it is reconciled (plain or gzip), its summary checked then.
        Provider::Wechatpay => {
            return Ok(StatementFile::WechatTradeBill { date: date.to_string(), body: BillBody::Bytes(bytes.to_vec()) });
        }
        Provider::Alipay if is_zip(bytes) => alipay::bill::parse_zip(date, bytes).map_err(unreadable)?,
        Provider::Alipay => alipay::bill::parse_detail(date, &text_of(bytes)?).map_err(unreadable)?,
        Provider::Unionpay => {
            let zm = if is_zip(bytes) {
                unzip(bytes)
                    .map_err(unreadable)?
                    .into_iter()
                    .find(|(name, _)| name.contains("ZM_") && !name.contains("ZME_"))
                    .map(|(_, data)| data)
                    .ok_or_else(|| unreadable(ChannelError::Malformed("压缩包中没有 ZM 流水文件".into())))?
            } else {
                bytes.to_vec()
            };
            let merchants = unionpay_merchants(ctx, school_id).await?;
            if merchants.is_empty() {
                return Err(refused(
                    "no_unionpay_merchant",
                    "本校没有登记银联商户号，无法核对 ZM 文件中的商户",
                    "The school has no UnionPay merchant configured",
                    "provider",
                ));
            }
            let mut last = None;
            let mut found = None;
            for mer_id in &merchants {
                match unionpay::bill::parse_zm(date, &zm, mer_id) {
                    Ok(s) => {
                        found = Some(s);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            match (found, last) {
                (Some(s), _) => s,
                (None, Some(e)) => return Err(unreadable(e)),
                (None, None) => return Err(Error::internal()),
            }
        }
    };
    statement.check_totals().map_err(unreadable)?;
    Ok(StatementFile::Parsed(statement))
}

/// Reconciles an uploaded statement file of `provider` for `date` (`refund`: it may settle
/// money), keeps the file with the run, and audits it. Answers the day's runs.
pub async fn import(
    ctx: &Context,
    staff: &Staff,
    client: &Client,
    provider: &str,
    date: &str,
    file_name: &str,
    bytes: &[u8],
) -> Result<Vec<ReconciliationRow>, Error> {
    staff.require(Permission::Refund)?;
    let school_id = staff.school()?;
    let provider = parse_provider(provider)?;
    let date = valid_date(date, "date")?;
    if date > campuspay_domain::time::format_shanghai_date(ctx.clock.now()) {
        return Err(refused("future_date", "不能对账未来的日期", "That day has not happened yet", "date"));
    }
    if bytes.is_empty() {
        return Err(refused("file_required", "请选择对账单文件", "Choose the statement file", "file"));
    }
    if bytes.len() > campuspay_documents::MAX_UPLOAD_BYTES {
        return Err(refused("file_too_large", "文件超过 20 MB", "The file is over 20 MB", "file"));
    }
    let file = read(ctx, school_id, provider, &date, bytes).await?;
    let (mut row, lines) = match reconcile::reconcile_statement(ctx, school_id, &file).await? {
        Ok(done) => (done.row, done.lines),
        Err(Unreadable::File(e)) => return Err(unreadable(e)),
        // A file of another day would settle and flag the wrong trades.
        Err(Unreadable::WrongDay { time, out_trade_no }) => {
            return Err(refused(
                "statement_wrong_day",
                format!("对账单中有 {time} 的交易（{out_trade_no}），与所选日期 {date} 不符"),
                format!("The file has a trade of {time}, not of {date}"),
                "date",
            ));
        }
    };
    row.imported = true;
    let sha256 = crate::crypto::sha256_hex(bytes);
    let file_name: String = file_name.trim().chars().filter(|c| !c.is_control()).take(200).collect();
    let content = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut tx = ctx.store.write_tx().await?;
    let reconciliation_id = ctx.store.insert_reconciliation(&mut tx, &row).await?;
    let kept = NewStatementImport {
        school_id,
        provider,
        day: &date,
        file_name: &file_name,
        sha256: &sha256,
        size_bytes: bytes.len() as i64,
        content: &content,
        reconciliation_id,
        staff_id: staff.id,
    };
    ctx.store.insert_statement_import(&mut tx, &kept).await?;
    let after = serde_json::json!({
        "provider": provider.as_str(), "date": date, "file_name": file_name, "sha256": sha256, "lines": lines,
        "matched": row.matched_count, "settled_now": row.settled_now_count, "missing_ours": row.missing_ours_count,
        "missing_theirs": row.missing_theirs_count, "mismatched": row.mismatched_count,
    });
    let what = Audited { action: AuditAction::StatementImported, subject: "reconciliation", before: None, after: Some(after) };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    Ok(ctx.store.reconciliations_of_day(school_id, &date).await?)
}

/// A kept statement file, ready to hand back.
pub struct KeptFile {
    pub file_name: String,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// The statement file the office uploaded for a reconciliation, as it came (`view_reports`,
/// the staff member's school only; another school's id is not found). Its SHA-256 is checked
/// against the one recorded at upload, so what leaves is the file the run was read from; the
/// download is audited like a report's export.
pub async fn download(ctx: &Context, staff: &Staff, client: &Client, id: i64) -> Result<KeptFile, Error> {
    staff.require(Permission::ViewReports)?;
    let school_id = staff.school()?;
    let Some(kept) = ctx.store.statement_file(school_id, id).await? else {
        return Err(Error::new(
            ErrorKind::NotFound,
            "statement_file_not_found",
            "本校没有这个对账单文件",
            "No such statement file at this school",
        ));
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(kept.content_base64.as_bytes()).map_err(|e| {
        tracing::error!(id, error = %e, "kept statement file is not base64");
        Error::internal()
    })?;
    let sha256 = crate::crypto::sha256_hex(&bytes);
    if sha256 != kept.file.sha256 {
        tracing::error!(id, "kept statement file no longer matches its SHA-256");
        return Err(Error::internal());
    }
    let mut tx = ctx.store.write_tx().await?;
    let subject = format!("statement_import:{id}");
    let after =
        serde_json::json!({"provider": kept.provider.as_str(), "date": kept.day, "file_name": kept.file.file_name, "sha256": sha256});
    let what = Audited { action: AuditAction::ReportExported, subject: &subject, before: None, after: Some(after) };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    let file_name =
        if kept.file.file_name.is_empty() { format!("statement-{}-{}", kept.provider.as_str(), kept.day) } else { kept.file.file_name };
    Ok(KeptFile { file_name, sha256, bytes })
}
