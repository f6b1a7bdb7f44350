//! The finance office's people: roles, and what each role may do.
//!
//! Permissions are a closed set and each role is a fixed set of them (as in Hyperswitch's
//! predefined roles): a school cannot invent a role that can approve its own waiver. Every
//! office use case names the one permission it needs; the check is in `app`, whatever the
//! entry (page, API, CLI).

use std::fmt;
use std::str::FromStr;

/// Something an office user may do. Stored and sent as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Find students and see their charges, orders, payments and ledger.
    ViewStudents,
    /// Load students from a file, edit their contact data.
    EditStudents,
    /// Reset a student's password to the school's initial rule; unlock a locked account.
    ManageStudentAccounts,
    /// Fee items, periods and fee standards (收费项目, 收费期间, 收费标准).
    ManageFeeStandards,
    /// Issue a period's charges to many students (批量生成应收).
    IssueCharges,
    /// Waive, defer or cancel a charge (减免, 缓缴, 撤销).
    AdjustCharges,
    /// Approve another person's adjustment above the school's threshold (复核).
    ApproveAdjustments,
    /// Take cash, POS or bank-transfer money at the counter (收费员).
    RecordOfflinePayments,
    /// Refund money to a payer.
    Refund,
    /// The collection reports, reconciliation and exports.
    ViewReports,
    /// Write, publish and expire announcements.
    ManageAnnouncements,
    /// Read and export the audit log.
    ViewAudit,
    /// Add staff of the school, change their roles, disable them.
    ManageStaff,
    /// The school's policy and merchant configurations.
    ManageSchool,
    /// Create schools (the platform's operator, not a school's).
    ManagePlatform,
}

impl Permission {
    pub const ALL: [Permission; 15] = [
        Permission::ViewStudents,
        Permission::EditStudents,
        Permission::ManageStudentAccounts,
        Permission::ManageFeeStandards,
        Permission::IssueCharges,
        Permission::AdjustCharges,
        Permission::ApproveAdjustments,
        Permission::RecordOfflinePayments,
        Permission::Refund,
        Permission::ViewReports,
        Permission::ManageAnnouncements,
        Permission::ViewAudit,
        Permission::ManageStaff,
        Permission::ManageSchool,
        Permission::ManagePlatform,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ViewStudents => "view_students",
            Permission::EditStudents => "edit_students",
            Permission::ManageStudentAccounts => "manage_student_accounts",
            Permission::ManageFeeStandards => "manage_fee_standards",
            Permission::IssueCharges => "issue_charges",
            Permission::AdjustCharges => "adjust_charges",
            Permission::ApproveAdjustments => "approve_adjustments",
            Permission::RecordOfflinePayments => "record_offline_payments",
            Permission::Refund => "refund",
            Permission::ViewReports => "view_reports",
            Permission::ManageAnnouncements => "manage_announcements",
            Permission::ViewAudit => "view_audit",
            Permission::ManageStaff => "manage_staff",
            Permission::ManageSchool => "manage_school",
            Permission::ManagePlatform => "manage_platform",
        }
    }

    /// What the office sees in the staff list and in a refusal.
    pub fn label_zh(self) -> &'static str {
        match self {
            Permission::ViewStudents => "查询学生",
            Permission::EditStudents => "导入和编辑学生",
            Permission::ManageStudentAccounts => "重置密码和解锁",
            Permission::ManageFeeStandards => "收费项目和标准",
            Permission::IssueCharges => "批量生成应收",
            Permission::AdjustCharges => "减免、缓缴和撤销",
            Permission::ApproveAdjustments => "复核",
            Permission::RecordOfflinePayments => "线下收费",
            Permission::Refund => "退款",
            Permission::ViewReports => "报表和对账",
            Permission::ManageAnnouncements => "公告",
            Permission::ViewAudit => "审计日志",
            Permission::ManageStaff => "人员和角色",
            Permission::ManageSchool => "学校设置和商户",
            Permission::ManagePlatform => "平台管理",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that names none of a closed vocabulary's members.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what}: {value:?}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

impl FromStr for Permission {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Permission, UnknownValue> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| UnknownValue { what: "permission", value: s.into() })
    }
}

/// A member of a school's finance office, or the platform's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 校管理员: the school's settings and staff; reads everything, moves no money.
    SchoolAdmin,
    /// 财务人员: students, fee standards, charges, adjustments, refunds, reports.
    Accountant,
    /// 收费员: the counter — find a student, take offline money, help with the account.
    Cashier,
    /// 审计: reads everything, the audit log included; changes nothing.
    Auditor,
    /// 平台管理员: creates schools. Belongs to no school.
    PlatformAdmin,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::SchoolAdmin, Role::Accountant, Role::Cashier, Role::Auditor, Role::PlatformAdmin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::SchoolAdmin => "school_admin",
            Role::Accountant => "accountant",
            Role::Cashier => "cashier",
            Role::Auditor => "auditor",
            Role::PlatformAdmin => "platform_admin",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Role::SchoolAdmin => "校管理员",
            Role::Accountant => "财务人员",
            Role::Cashier => "收费员",
            Role::Auditor => "审计",
            Role::PlatformAdmin => "平台管理员",
        }
    }

    /// The fixed set of permissions of the role.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::SchoolAdmin => &[
                ViewStudents,
                EditStudents,
                ManageStudentAccounts,
                ManageFeeStandards,
                ViewReports,
                ManageAnnouncements,
                ViewAudit,
                ManageStaff,
                ManageSchool,
            ],
            Role::Accountant => &[
                ViewStudents,
                EditStudents,
                ManageStudentAccounts,
                ManageFeeStandards,
                IssueCharges,
                AdjustCharges,
                ApproveAdjustments,
                RecordOfflinePayments,
                Refund,
                ViewReports,
                ManageAnnouncements,
            ],
            Role::Cashier => &[ViewStudents, ManageStudentAccounts, RecordOfflinePayments],
            Role::Auditor => &[ViewStudents, ViewReports, ViewAudit],
            Role::PlatformAdmin => &[ManagePlatform],
        }
    }

    pub fn can(self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }

    /// Whether the role moves money, so a school's policy may require a second factor for it.
    pub fn moves_money(self) -> bool {
        [Permission::AdjustCharges, Permission::RecordOfflinePayments, Permission::Refund, Permission::IssueCharges]
            .iter()
            .any(|p| self.can(*p))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Role, UnknownValue> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownValue { what: "role", value: s.into() })
    }
}

/// What an office action did, as the audit log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    StaffLogin,
    StaffLogout,
    StaffAdded,
    StaffPasswordChanged,
    ImportCommitted,
    ChargesIssued,
    WaiverGranted,
    DeferralGranted,
    ChargeCancelled,
    AdjustmentApproved,
    AdjustmentRejected,
    OfflinePaymentRecorded,
    StudentPasswordReset,
    StudentUnlocked,
    StudentEdited,
    AnnouncementSaved,
    SchoolCreated,
    SchoolPolicyChanged,
    MerchantConfigured,
}

impl AuditAction {
    pub const ALL: [AuditAction; 19] = [
        AuditAction::StaffLogin,
        AuditAction::StaffLogout,
        AuditAction::StaffAdded,
        AuditAction::StaffPasswordChanged,
        AuditAction::ImportCommitted,
        AuditAction::ChargesIssued,
        AuditAction::WaiverGranted,
        AuditAction::DeferralGranted,
        AuditAction::ChargeCancelled,
        AuditAction::AdjustmentApproved,
        AuditAction::AdjustmentRejected,
        AuditAction::OfflinePaymentRecorded,
        AuditAction::StudentPasswordReset,
        AuditAction::StudentUnlocked,
        AuditAction::StudentEdited,
        AuditAction::AnnouncementSaved,
        AuditAction::SchoolCreated,
        AuditAction::SchoolPolicyChanged,
        AuditAction::MerchantConfigured,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::StaffLogin => "staff.login",
            AuditAction::StaffLogout => "staff.logout",
            AuditAction::StaffAdded => "staff.added",
            AuditAction::StaffPasswordChanged => "staff.password_changed",
            AuditAction::ImportCommitted => "import.committed",
            AuditAction::ChargesIssued => "charges.issued",
            AuditAction::WaiverGranted => "charge.waiver",
            AuditAction::DeferralGranted => "charge.deferral",
            AuditAction::ChargeCancelled => "charge.cancelled",
            AuditAction::AdjustmentApproved => "adjustment.approved",
            AuditAction::AdjustmentRejected => "adjustment.rejected",
            AuditAction::OfflinePaymentRecorded => "payment.offline",
            AuditAction::StudentPasswordReset => "student.password_reset",
            AuditAction::StudentUnlocked => "student.unlocked",
            AuditAction::StudentEdited => "student.edited",
            AuditAction::AnnouncementSaved => "announcement.saved",
            AuditAction::SchoolCreated => "school.created",
            AuditAction::SchoolPolicyChanged => "school.policy",
            AuditAction::MerchantConfigured => "school.merchant",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<AuditAction, UnknownValue> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| UnknownValue { what: "audit action", value: s.into() })
    }
}

/// How money reached the counter (线下缴费).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfflineMethod {
    /// 现金
    Cash,
    /// POS 刷卡
    Pos,
    /// 银行转账 / 汇款
    BankTransfer,
}

impl OfflineMethod {
    pub const ALL: [OfflineMethod; 3] = [OfflineMethod::Cash, OfflineMethod::Pos, OfflineMethod::BankTransfer];

    pub fn as_str(self) -> &'static str {
        match self {
            OfflineMethod::Cash => "cash",
            OfflineMethod::Pos => "pos",
            OfflineMethod::BankTransfer => "bank_transfer",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            OfflineMethod::Cash => "现金",
            OfflineMethod::Pos => "POS刷卡",
            OfflineMethod::BankTransfer => "银行转账",
        }
    }
}

impl fmt::Display for OfflineMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OfflineMethod {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<OfflineMethod, UnknownValue> {
        OfflineMethod::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| UnknownValue { what: "offline method", value: s.into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("Accountant".parse::<Role>().is_err());
        assert!("refunding".parse::<Permission>().is_err());
        assert!("".parse::<Role>().is_err());
        for m in OfflineMethod::ALL {
            assert_eq!(m.as_str().parse::<OfflineMethod>(), Ok(m));
        }
        assert!("alipay".parse::<OfflineMethod>().is_err());
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>(), Ok(a));
        }
    }

    #[test]
    fn readers_change_nothing_and_only_the_platform_creates_schools() {
        let writes = [
            Permission::EditStudents,
            Permission::ManageStudentAccounts,
            Permission::IssueCharges,
            Permission::AdjustCharges,
            Permission::ApproveAdjustments,
            Permission::RecordOfflinePayments,
            Permission::Refund,
            Permission::ManageStaff,
            Permission::ManageSchool,
        ];
        assert!(writes.iter().all(|p| !Role::Auditor.can(*p)));
        assert!(Role::Auditor.can(Permission::ViewAudit));
        assert!(!Role::Cashier.can(Permission::IssueCharges) && !Role::Cashier.can(Permission::Refund));
        assert!(Role::ALL.iter().filter(|r| r.can(Permission::ManagePlatform)).eq([Role::PlatformAdmin].iter()));
        assert!(!Role::SchoolAdmin.moves_money() && Role::Cashier.moves_money() && Role::Accountant.moves_money());
    }

    #[test]
    fn every_permission_belongs_to_some_role() {
        for p in Permission::ALL {
            assert!(Role::ALL.iter().any(|r| r.can(p)), "{p} is in no role");
        }
    }
}
