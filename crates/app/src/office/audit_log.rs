//! The audit log, for the auditor (and the school's admin): searchable, never edited.

use super::Staff;
use crate::{Context, Error};
use campuspay_domain::office::Permission;
use campuspay_store::office::{AuditFilter, AuditRow};

pub async fn search(ctx: &Context, staff: &Staff, filter: &AuditFilter) -> Result<Vec<AuditRow>, Error> {
    staff.require(Permission::ViewAudit)?;
    Ok(ctx.store.audit_rows(staff.school_id, filter).await?)
}
