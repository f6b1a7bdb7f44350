//! The finance office's use cases. Every one takes the acting [`Staff`], checks the one
//! permission it needs with [`Staff::require`] before anything else, works only on the staff
//! member's own school, and writes its audit row with [`audit`] in the same transaction as
//! its change.

pub mod adjustments;
pub mod announcements;
pub mod arrears;
pub mod audit_log;
pub mod auth;
pub mod catalog;
pub mod charge_runs;
pub mod dashboard;
pub mod exceptions;
pub mod exports;
pub mod imports;
pub mod merchants;
pub mod money_reports;
pub mod payments;
pub mod receipts;
pub mod refunds;
pub mod reports;
pub mod schools;
pub mod search;
pub mod staff_admin;
pub mod statement_import;
pub mod students;
pub mod totp;

use crate::{Client, Error, ErrorKind};
use campuspay_domain::office::{AuditAction, Permission, Role};
use campuspay_store::WriteTx;

/// A logged-in member of a school's finance office (or the platform's operator).
#[derive(Debug, Clone)]
pub struct Staff {
    pub id: i64,
    /// `None` only for the platform's operator, who belongs to no school.
    pub school_id: Option<i64>,
    pub login: String,
    pub name: String,
    pub role: Role,
    /// A one-time password is in use: nothing but the password change until it is changed.
    pub must_change_password: bool,
    /// The school's policy asks this role for a second factor and none is set up yet:
    /// nothing but setting it up until it is.
    pub must_enrol_totp: bool,
}

impl Staff {
    /// Refuses (403 `forbidden`) unless the staff member's role has `p`. A one-time password
    /// still in use, or a second factor the school requires and not yet set up, holds every
    /// permission back — here, so no entry (page, API, CLI) can forget it.
    pub fn require(&self, p: Permission) -> Result<(), Error> {
        if self.must_change_password {
            return Err(auth::password_change_required());
        }
        if self.must_enrol_totp {
            return Err(auth::totp_enrolment_required());
        }
        if self.role.can(p) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Forbidden,
                "forbidden",
                format!("您的角色（{}）没有“{}”权限", self.role.label_zh(), p.label_zh()),
                format!("Your role ({}) lacks the permission {}", self.role.as_str(), p.as_str()),
            ))
        }
    }

    /// The school whose data the staff member works on; the platform's operator has none.
    pub fn school(&self) -> Result<i64, Error> {
        self.school_id.ok_or_else(|| {
            Error::new(ErrorKind::Forbidden, "forbidden", "平台管理员不能操作学校的数据", "The platform operator works on no school's data")
        })
    }
}

/// One office action for the audit log: what was done to which record, before and after.
pub struct Audited<'a> {
    pub action: AuditAction,
    /// What it was done to, e.g. `student:20230001`, `charge:42`.
    pub subject: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Writes the audit row of `what`, in the caller's transaction: the change and its record
/// commit together or not at all.
pub async fn audit(ctx: &crate::Context, tx: &mut WriteTx, staff: &Staff, client: &Client, what: &Audited<'_>) -> Result<(), Error> {
    let detail = serde_json::json!({
        "staff_id": staff.id,
        "role": staff.role.as_str(),
        "subject": what.subject,
        "before": what.before,
        "after": what.after,
        "ip": client.ip,
        "user_agent": client.user_agent,
    });
    ctx.store.audit(tx, staff.school_id, &staff.login, what.action.as_str(), &detail.to_string()).await?;
    Ok(())
}

#[cfg(test)]
mod require_tests {
    use super::*;

    #[test]
    fn a_pending_password_change_or_second_factor_holds_every_permission_back() {
        let admin = Staff {
            id: 1,
            school_id: Some(1),
            login: "admin".into(),
            name: "管理员".into(),
            role: Role::SchoolAdmin,
            must_change_password: false,
            must_enrol_totp: false,
        };
        assert!(admin.require(Permission::ManageStaff).is_ok());
        let code = |s: &Staff| s.require(Permission::ManageStaff).unwrap_err().code;
        assert_eq!(code(&Staff { must_change_password: true, ..admin.clone() }), "password_change_required");
        assert_eq!(code(&Staff { must_enrol_totp: true, ..admin.clone() }), "totp_enrolment_required");
        assert_eq!(Staff { role: Role::Cashier, ..admin }.require(Permission::ManageStaff).unwrap_err().code, "forbidden");
    }
}
