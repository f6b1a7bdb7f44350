//! The counter's view of a student, and what the office does to a student's account.

use super::{Audited, Staff, audit};
use crate::student::profile::{Overview, overview_of};
use crate::{Client, Context, Error, ErrorKind};
use campuspay_domain::Fen;
use campuspay_domain::office::{AuditAction, Permission};
use campuspay_store::office::LedgerRow;
use campuspay_store::orders::OrderRow;
use campuspay_store::payments::PaymentRecord;
use campuspay_store::students::Student;

/// Everything the counter needs about one student.
pub struct StudentFile {
    pub overview: Overview,
    pub orders: Vec<OrderRow>,
    pub payments: Vec<PaymentRecord>,
    pub ledger: Vec<LedgerRow>,
    pub balance: Fen,
}

fn no_such_student() -> Error {
    Error::new(ErrorKind::NotFound, "student_not_found", "本校没有该学号的学生", "No student with that number at this school")
}

/// The student of the staff member's own school with that number. Another school's student
/// is simply not found: the office never learns whether the number exists elsewhere.
pub async fn student_of(ctx: &Context, staff: &Staff, student_no: &str) -> Result<Student, Error> {
    let school_id = staff.school()?;
    if student_no.is_empty() || student_no.len() > 32 {
        return Err(no_such_student());
    }
    ctx.store.student_by_no(school_id, student_no).await?.ok_or_else(no_such_student)
}

pub async fn file(ctx: &Context, staff: &Staff, student_no: &str) -> Result<StudentFile, Error> {
    staff.require(Permission::ViewStudents)?;
    let student = student_of(ctx, staff, student_no).await?;
    let school = ctx.store.school_by_id(student.school_id).await?.ok_or_else(Error::unknown_school)?;
    let (school_id, student_id) = (school.id, student.id);
    let overview = overview_of(ctx, school, student).await?;
    Ok(StudentFile {
        overview,
        orders: ctx.store.orders_of_student(school_id, student_id, 50).await?,
        payments: ctx.store.payments_of_student(school_id, student_id).await?,
        ledger: ctx.store.ledger_of_student(school_id, student_id).await?,
        balance: ctx.store.balance(campuspay_store::On::Pool, school_id, student_id).await?,
    })
}

/// Back to the school's initial-password rule: the student must choose a new password at the
/// next login, and every session and recovery link or code of theirs ends now.
pub async fn reset_password(ctx: &Context, staff: &Staff, client: &Client, student_no: &str) -> Result<(), Error> {
    staff.require(Permission::ManageStudentAccounts)?;
    let student = student_of(ctx, staff, student_no).await?;
    let mut tx = ctx.store.write_tx().await?;
    ctx.store.reset_to_initial_password(&mut tx, student.school_id, student.id).await?;
    let subject = format!("student:{}", student.student_no);
    let what = Audited {
        action: AuditAction::StudentPasswordReset,
        subject: &subject,
        before: None,
        after: Some(serde_json::json!({"password": "initial rule", "force_change": true, "sessions": "ended"})),
    };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    Ok(())
}

/// Lifts a lockout now (`manage_student_accounts`): failures before it no longer count
/// towards the limits, which stay in force for what comes after.
pub async fn unlock(ctx: &Context, staff: &Staff, client: &Client, student_no: &str) -> Result<(), Error> {
    staff.require(Permission::ManageStudentAccounts)?;
    let student = student_of(ctx, staff, student_no).await?;
    let mut tx = ctx.store.write_tx().await?;
    let event = campuspay_store::security::NewSecurityEvent {
        school_id: student.school_id,
        student_id: Some(student.id),
        login: &student.student_no,
        kind: campuspay_store::security::event::UNLOCKED,
        ip: &client.ip,
        user_agent: &client.user_agent,
    };
    ctx.store.record_security_event(&mut tx, &event).await?;
    let subject = format!("student:{}", student.student_no);
    let what = Audited { action: AuditAction::StudentUnlocked, subject: &subject, before: None, after: None };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    Ok(())
}

/// Corrects a student's phone and e-mail (`edit_students`), e.g. when the student can no
/// longer receive codes at the old number. Empty clears a field.
pub async fn edit_contact(ctx: &Context, staff: &Staff, client: &Client, student_no: &str, phone: &str, email: &str) -> Result<(), Error> {
    staff.require(Permission::EditStudents)?;
    let (phone, email) = (phone.trim(), email.trim());
    if !phone.is_empty() && !campuspay_domain::profile::valid_phone(phone) {
        return Err(Error::new(ErrorKind::Refused, "invalid_phone", "手机号应为11位数字", "A mobile number has 11 digits").field("phone"));
    }
    if !email.is_empty() && !campuspay_domain::profile::valid_email(email) {
        return Err(Error::new(ErrorKind::Refused, "invalid_email", "邮箱格式不正确", "The e-mail address is malformed").field("email"));
    }
    let student = student_of(ctx, staff, student_no).await?;
    let mut tx = ctx.store.write_tx().await?;
    ctx.store.update_profile(&mut tx, student.school_id, student.id, phone, email, &student.postcode, &student.address).await?;
    let subject = format!("student:{}", student.student_no);
    let what = Audited {
        action: AuditAction::StudentEdited,
        subject: &subject,
        before: Some(serde_json::json!({"phone": student.phone, "email": student.email})),
        after: Some(serde_json::json!({"phone": phone, "email": email})),
    };
    audit(ctx, &mut tx, staff, client, &what).await?;
    tx.commit().await?;
    Ok(())
}
