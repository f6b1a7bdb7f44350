//! The finance office's people: roles, and what each role may do.
//!
//! Permissions are a closed set and each role is a fixed set of them (as in Hyperswitch's
//! predefined roles): a school cannot invent a role that can approve its own waiver. Every
//! office use case names the one permission it needs; the check is in `app`, whatever the
//! entry (page, API, CLI).

use crate::names::text_enum;

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
    /// The school's policy.
    ManageSchool,
    /// The school's merchant configurations per channel, secrets included (write-only).
    ManageMerchants,
    /// Create schools (the platform's operator, not a school's).
    ManagePlatform,
}

text_enum!(Permission {
    ViewStudents => "view_students",
    EditStudents => "edit_students",
    ManageStudentAccounts => "manage_student_accounts",
    ManageFeeStandards => "manage_fee_standards",
    IssueCharges => "issue_charges",
    AdjustCharges => "adjust_charges",
    ApproveAdjustments => "approve_adjustments",
    RecordOfflinePayments => "record_offline_payments",
    Refund => "refund",
    ViewReports => "view_reports",
    ManageAnnouncements => "manage_announcements",
    ViewAudit => "view_audit",
    ManageStaff => "manage_staff",
    ManageSchool => "manage_school",
    ManageMerchants => "manage_merchants",
    ManagePlatform => "manage_platform",
});

impl Permission {
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
            Permission::ManageSchool => "学校设置",
            Permission::ManageMerchants => "商户配置",
            Permission::ManagePlatform => "平台管理",
        }
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

text_enum!(Role {
    SchoolAdmin => "school_admin",
    Accountant => "accountant",
    Cashier => "cashier",
    Auditor => "auditor",
    PlatformAdmin => "platform_admin",
});

impl Role {
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
                ManageMerchants,
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
            // The platform's operator sets up a new school's merchants (for the school named).
            Role::PlatformAdmin => &[ManagePlatform, ManageMerchants],
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

/// What an office action did, as the audit log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    StaffLogin,
    StaffLogout,
    StaffAdded,
    StaffPasswordChanged,
    StaffTotpEnabled,
    /// A school's admin disabled a staff account (its sessions end) or enabled it again.
    StaffDisabled,
    StaffEnabled,
    /// A school's admin gave a staff member a new one-time password.
    StaffPasswordReset,
    ImportCommitted,
    ChargesIssued,
    WaiverGranted,
    DeferralGranted,
    ChargeCancelled,
    AdjustmentRequested,
    AdjustmentApproved,
    AdjustmentRejected,
    OfflinePaymentRecorded,
    StudentPasswordReset,
    StudentUnlocked,
    StudentEdited,
    AnnouncementSaved,
    ImportPreviewed,
    AuditExported,
    FeeItemSaved,
    PeriodSaved,
    SchoolCreated,
    SchoolPolicyChanged,
    MerchantConfigured,
    /// A receipt's SMS and mail sent again.
    ReceiptResent,
    /// A receipt voided and reissued after its payer (invoice title) was corrected.
    ReceiptReissued,
    RefundRequested,
    RefundApproved,
    RefundRejected,
    ExceptionResolved,
    ReportExported,
    ReconciliationRun,
    /// A provider's statement file uploaded by hand and reconciled.
    StatementImported,
    /// A long export asked for, to be rendered in the background.
    ExportRequested,
}

text_enum!(AuditAction {
    StaffLogin => "staff.login",
    StaffLogout => "staff.logout",
    StaffAdded => "staff.added",
    StaffPasswordChanged => "staff.password_changed",
    StaffTotpEnabled => "staff.totp_enabled",
    StaffDisabled => "staff.disabled",
    StaffEnabled => "staff.enabled",
    StaffPasswordReset => "staff.password_reset",
    ImportCommitted => "import.committed",
    ChargesIssued => "charges.issued",
    WaiverGranted => "charge.waiver",
    DeferralGranted => "charge.deferral",
    ChargeCancelled => "charge.cancelled",
    AdjustmentRequested => "adjustment.requested",
    AdjustmentApproved => "adjustment.approved",
    AdjustmentRejected => "adjustment.rejected",
    OfflinePaymentRecorded => "payment.offline",
    StudentPasswordReset => "student.password_reset",
    StudentUnlocked => "student.unlocked",
    StudentEdited => "student.edited",
    AnnouncementSaved => "announcement.saved",
    ImportPreviewed => "import.previewed",
    AuditExported => "audit.exported",
    FeeItemSaved => "fee_item.saved",
    PeriodSaved => "period.saved",
    SchoolCreated => "school.created",
    SchoolPolicyChanged => "school.policy",
    MerchantConfigured => "school.merchant",
    ReceiptResent => "receipt.resent",
    ReceiptReissued => "receipt.reissued",
    RefundRequested => "refund.requested",
    RefundApproved => "refund.approved",
    RefundRejected => "refund.rejected",
    ExceptionResolved => "exception.resolved",
    ReportExported => "report.exported",
    ReconciliationRun => "reconciliation.run",
    StatementImported => "reconciliation.import",
    ExportRequested => "export.requested",
});

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

text_enum!(OfflineMethod {
    Cash => "cash",
    Pos => "pos",
    BankTransfer => "bank_transfer",
});

impl OfflineMethod {
    pub fn label_zh(self) -> &'static str {
        match self {
            OfflineMethod::Cash => "现金",
            OfflineMethod::Pos => "POS刷卡",
            OfflineMethod::BankTransfer => "银行转账",
        }
    }
}

/// A change to an issued charge, kept as history (never an edit of the charge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdjustmentKind {
    /// 减免: part or all of the charge is not owed any more; a `waiver` ledger entry.
    Waiver,
    /// 缓缴 (green channel): the student may pay later; mandatory-first no longer blocks them
    /// for this charge. No money moves.
    Deferral,
    /// 撤销: a wrongly issued, unpaid charge is withdrawn; a `cancellation` ledger entry.
    Cancellation,
}

text_enum!(AdjustmentKind {
    Waiver => "waiver",
    Deferral => "deferral",
    Cancellation => "cancellation",
});

impl AdjustmentKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            AdjustmentKind::Waiver => "减免",
            AdjustmentKind::Deferral => "缓缴",
            AdjustmentKind::Cancellation => "撤销",
        }
    }

    /// Whether the kind lowers what is owed, so a school's approval threshold applies to it.
    pub fn moves_money(self) -> bool {
        matches!(self, AdjustmentKind::Waiver | AdjustmentKind::Cancellation)
    }
}

/// Where an adjustment stands. Derived from the adjustment and its decision rows (both
/// insert-only): `Applied` needed no approval; `Pending` waits for a second person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdjustmentStatus {
    Applied,
    Pending,
    Approved,
    Rejected,
}

text_enum!(AdjustmentStatus {
    Applied => "applied",
    Pending => "pending",
    Approved => "approved",
    Rejected => "rejected",
});

impl AdjustmentStatus {
    pub fn label_zh(self) -> &'static str {
        match self {
            AdjustmentStatus::Applied => "已生效",
            AdjustmentStatus::Pending => "待复核",
            AdjustmentStatus::Approved => "已复核生效",
            AdjustmentStatus::Rejected => "已驳回",
        }
    }

    /// Whether the adjustment is in force (its ledger entry written, its deferral shown).
    pub fn in_force(self) -> bool {
        matches!(self, AdjustmentStatus::Applied | AdjustmentStatus::Approved)
    }

    /// The one transition: a pending adjustment is approved or rejected, once.
    pub fn decide(self, approve: bool) -> Option<AdjustmentStatus> {
        match self {
            AdjustmentStatus::Pending => Some(if approve { AdjustmentStatus::Approved } else { AdjustmentStatus::Rejected }),
            _ => None,
        }
    }
}

/// What an uploaded file loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportKind {
    /// 学生名单
    Students,
    /// 收费标准
    FeeStandards,
}

text_enum!(ImportKind {
    Students => "students",
    FeeStandards => "fee_standards",
});

impl ImportKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            ImportKind::Students => "学生名单",
            ImportKind::FeeStandards => "收费标准",
        }
    }
}

/// Where an upload stands: its rows being checked; previewed (nothing written yet); being
/// written; committed (written, once); or refused as a whole (unreadable, missing columns…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportStatus {
    Checking,
    Preview,
    Committing,
    Committed,
    Failed,
}

text_enum!(ImportStatus {
    Checking => "checking",
    Preview => "preview",
    Committing => "committing",
    Committed => "committed",
    Failed => "failed",
});

impl ImportStatus {
    pub fn label_zh(self) -> &'static str {
        match self {
            ImportStatus::Checking => "检查中",
            ImportStatus::Preview => "待确认",
            ImportStatus::Committing => "写入中",
            ImportStatus::Committed => "已导入",
            ImportStatus::Failed => "未通过",
        }
    }
}

/// A report the office may have rendered in the background as a workbook (长报表导出).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportKind {
    /// 收缴进度 of a period, grouped.
    Collection,
    /// 记账凭证 of a date range.
    Voucher,
    /// 收款日报 of a date range.
    Daily,
    /// 欠费明细 behind the arrears ageing.
    ArrearsDebtors,
}

text_enum!(ExportKind {
    Collection => "collection",
    Voucher => "voucher",
    Daily => "daily",
    ArrearsDebtors => "arrears_debtors",
});

impl ExportKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            ExportKind::Collection => "收缴报表",
            ExportKind::Voucher => "记账凭证",
            ExportKind::Daily => "收款日报",
            ExportKind::ArrearsDebtors => "欠费明细",
        }
    }
}

/// Where a background export stands: queued → running → ready (→ expired once its file is
/// removed), or failed with the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportStatus {
    Queued,
    Running,
    Ready,
    Failed,
    Expired,
}

text_enum!(ExportStatus {
    Queued => "queued",
    Running => "running",
    Ready => "ready",
    Failed => "failed",
    Expired => "expired",
});

impl ExportStatus {
    pub fn label_zh(self) -> &'static str {
        match self {
            ExportStatus::Queued => "排队中",
            ExportStatus::Running => "生成中",
            ExportStatus::Ready => "可下载",
            ExportStatus::Failed => "失败",
            ExportStatus::Expired => "已过期",
        }
    }

    /// Nothing more will happen to it but expiry.
    pub fn is_final(self) -> bool {
        matches!(self, ExportStatus::Ready | ExportStatus::Failed | ExportStatus::Expired)
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
        for k in ExportKind::ALL {
            assert_eq!(k.as_str().parse::<ExportKind>(), Ok(k));
        }
        for st in ExportStatus::ALL {
            assert_eq!(st.as_str().parse::<ExportStatus>(), Ok(st));
        }
        assert!("done".parse::<ExportStatus>().is_err() && "ledger".parse::<ExportKind>().is_err());
        for m in OfflineMethod::ALL {
            assert_eq!(m.as_str().parse::<OfflineMethod>(), Ok(m));
        }
        assert!("alipay".parse::<OfflineMethod>().is_err());
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>(), Ok(a));
        }
        for k in AdjustmentKind::ALL {
            assert_eq!(k.as_str().parse::<AdjustmentKind>(), Ok(k));
        }
        for k in ImportKind::ALL {
            assert_eq!(k.as_str().parse::<ImportKind>(), Ok(k));
        }
        assert!("Waiver".parse::<AdjustmentKind>().is_err());
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
    fn only_a_pending_adjustment_is_decided_and_only_once() {
        use AdjustmentStatus::*;
        assert_eq!(Pending.decide(true), Some(Approved));
        assert_eq!(Pending.decide(false), Some(Rejected));
        for s in [Applied, Approved, Rejected] {
            assert_eq!(s.decide(true), None);
            assert_eq!(s.decide(false), None);
        }
        assert!(Applied.in_force() && Approved.in_force() && !Pending.in_force() && !Rejected.in_force());
    }

    #[test]
    fn every_permission_belongs_to_some_role() {
        for p in Permission::ALL {
            assert!(Role::ALL.iter().any(|r| r.can(p)), "{p} is in no role");
        }
    }
}
