//! `GET /office/`: the dashboard — today's collection, the latest period's progress, what
//! waits for approval, and the quick links of the role.

use super::{OfficePage, Shell, render};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use campuspay_app::office::dashboard;
use campuspay_domain::office::Permission;
use campuspay_domain::time::format_shanghai_date;

pub struct PeriodFigures {
    pub name: String,
    pub paid: String,
    pub due: String,
    pub charges: i64,
    /// `63.5%`, or `—` when nothing is due.
    pub percent: String,
    /// The bar's width, 0–100, whole percent.
    pub bar: i64,
}

#[derive(Template)]
#[template(path = "office/dashboard.html")]
struct DashboardPage {
    shell: Shell,
    date: String,
    today: String,
    today_entries: i64,
    period: Option<PeriodFigures>,
    pending: i64,
    can_approve: bool,
    /// Open exceptions per kind (label, count), for roles that see reports.
    exceptions: Option<(i64, Vec<(&'static str, i64)>)>,
    /// (href, label, hint) of what the role can do.
    links: Vec<(&'static str, &'static str, &'static str)>,
}

/// `6350` basis points → `63.50%`, exactly.
fn percent(bp: i64) -> String {
    format!("{}.{:02}%", bp / 100, bp % 100)
}

pub async fn dashboard(State(state): State<AppState>, page: OfficePage) -> Response {
    // The platform's operator belongs to no school and has no dashboard: their work is schools.
    if page.staff.school_id.is_none() {
        return axum::response::Redirect::to("/office/schools/new").into_response();
    }
    let s = match dashboard::summary(&state, &page.staff).await {
        Ok(s) => s,
        Err(e) => return page.error(&e),
    };
    let role = page.staff.role;
    let all: [(&str, &str, &str, Permission); 10] = [
        ("/office/students", "学生查询 / 收费台", "按学号、姓名或身份证号查找学生，登记线下收款", Permission::ViewStudents),
        ("/office/imports", "导入学生名单", "上传 Excel 或 CSV，预览无误后确认导入", Permission::EditStudents),
        ("/office/charge-runs", "批量生成应收", "按收费项目和期间给一批学生生成应收", Permission::IssueCharges),
        ("/office/adjustments", "减免缓缴复核", "复核超过额度的减免和撤销申请", Permission::ApproveAdjustments),
        ("/office/audit", "审计日志", "查看所有人员的操作记录", Permission::ViewAudit),
        ("/office/announcements", "公告", "写公告、定时发布和下线，学生在登录页和首页看到", Permission::ManageAnnouncements),
        ("/office/staff", "人员管理", "添加财务人员、停用账号、重置密码", Permission::ManageStaff),
        ("/office/school", "学校设置", "登录、找回密码、缴费和票据的规则", Permission::ManageSchool),
        ("/office/merchants", "商户配置", "各支付渠道的商户号和密钥（加密保存）", Permission::ManageMerchants),
        ("/office/password", "修改密码", "定期修改您的登录密码", Permission::ViewStudents),
    ];
    let exceptions = if role.can(Permission::ViewReports) {
        match campuspay_app::office::exceptions::open_counts(&state, &page.staff).await {
            Ok(counts) => Some((counts.iter().map(|(_, n)| n).sum(), counts.into_iter().map(|(k, n)| (k.label_zh(), n)).collect())),
            Err(e) => return page.error(&e),
        }
    } else {
        None
    };
    let links = all.iter().filter(|l| role.can(l.3)).map(|l| (l.0, l.1, l.2)).collect();
    let period = s.latest_period.map(|p| PeriodFigures {
        percent: s.collected_basis_points.map(percent).unwrap_or_else(|| "—".into()),
        bar: s.collected_basis_points.map(|bp| (bp / 100).clamp(0, 100)).unwrap_or(0),
        name: p.name,
        paid: p.paid.to_string(),
        due: p.due.to_string(),
        charges: p.charges,
    });
    let title = format!("{}工作台", role.label_zh());
    render(&DashboardPage {
        shell: page.shell(title, "home"),
        date: format_shanghai_date(s.day_start),
        today: s.today.to_string(),
        today_entries: s.today_entries,
        period,
        pending: s.pending_adjustments,
        can_approve: role.can(Permission::ApproveAdjustments),
        exceptions,
        links,
    })
}
