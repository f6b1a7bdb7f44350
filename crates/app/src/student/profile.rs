//! What a student sees and may change: charges with arrears, and the profile.

use crate::Context;
use crate::error::Error;
use crate::error::ErrorKind;
use campuspay_domain::profile::ProfileEdit;
use campuspay_domain::{ChargeState, Fen};
use campuspay_store::charges::ChargeView;
use campuspay_store::schools::School;
use campuspay_store::sessions::SessionRow;
use campuspay_store::students::Student;

/// A charge with the figures of the seed 000 table worked out.
#[derive(Debug, Clone)]
pub struct ChargeLine {
    pub view: ChargeView,
    pub after_discount: Fen,
    pub payable: Fen,
    pub arrears: Fen,
    pub state: ChargeState,
}

pub struct Overview {
    pub school: School,
    pub student: Student,
    /// Charges still owing first, then the paid history; newest period first within each.
    pub charges: Vec<ChargeLine>,
    /// Over all periods, whatever filter the page applies.
    pub total_arrears: Fen,
    /// (academic year, arrears), newest year first.
    pub arrears_by_year: Vec<(String, Fen)>,
    /// (code, name) of the periods the student has charges in, newest first.
    pub periods: Vec<(String, String)>,
}

fn money_error(_: campuspay_domain::MoneyError) -> Error {
    tracing::error!("charge amounts overflow");
    Error::internal()
}

pub async fn school_and_student(ctx: &Context, session: &SessionRow) -> Result<(School, Student), Error> {
    let school = ctx.schools.by_id(&ctx.store, session.school_id).await?.ok_or_else(Error::unknown_school)?;
    let student = ctx.store.student(session.school_id, session.student_id).await?.ok_or_else(Error::unauthorized)?;
    Ok((school, student))
}

pub async fn overview(ctx: &Context, session: &SessionRow) -> Result<Overview, Error> {
    let (school, student) = school_and_student(ctx, session).await?;
    overview_of(ctx, school, student).await
}

/// What the student owes and has paid, as the student's home page and the office's counter
/// both show it.
pub async fn overview_of(ctx: &Context, school: School, student: Student) -> Result<Overview, Error> {
    let views = ctx.store.charges_of_student(school.id, student.id).await?;
    let mut charges = Vec::with_capacity(views.len());
    for v in views {
        let a = v.amounts;
        charges.push(ChargeLine {
            after_discount: a.after_discount().map_err(money_error)?,
            payable: a.payable().map_err(money_error)?,
            arrears: a.arrears().map_err(money_error)?,
            state: a.state().map_err(money_error)?,
            view: v,
        });
    }
    // Stable sort keeps the store's newest-period-first order inside each group.
    charges.sort_by_key(|c| c.arrears == Fen::ZERO);
    let total_arrears = Fen::sum(charges.iter().map(|c| c.arrears)).map_err(money_error)?;
    let mut years: Vec<(String, i64, Fen)> = Vec::new();
    let mut periods: Vec<(String, String, i64)> = Vec::new();
    for c in &charges {
        match years.iter_mut().find(|(y, ..)| *y == c.view.academic_year) {
            Some(y) => y.2 = y.2.checked_add(c.arrears).map_err(money_error)?,
            None => years.push((c.view.academic_year.clone(), c.view.period_sort, c.arrears)),
        }
        if !periods.iter().any(|(code, ..)| *code == c.view.period_code) {
            periods.push((c.view.period_code.clone(), c.view.period_name.clone(), c.view.period_sort));
        }
    }
    years.sort_by(|a, b| b.0.cmp(&a.0));
    periods.sort_by_key(|p| std::cmp::Reverse(p.2));
    Ok(Overview {
        school,
        student,
        charges,
        total_arrears,
        arrears_by_year: years.into_iter().map(|(y, _, f)| (y, f)).collect(),
        periods: periods.into_iter().map(|(c, n, _)| (c, n)).collect(),
    })
}

pub struct ProfileInput<'a> {
    pub phone: &'a str,
    pub email: &'a str,
    pub postcode: &'a str,
    pub address: &'a str,
}

pub async fn update_profile(ctx: &Context, session: &SessionRow, p: &ProfileInput<'_>) -> Result<(), Error> {
    let edit = ProfileEdit { phone: p.phone.trim(), email: p.email.trim(), postcode: p.postcode.trim(), address: p.address.trim() };
    edit.validate().map_err(|e| Error::new(ErrorKind::Refused, "invalid_profile", e.to_string(), e.message_en()).field(e.field()))?;
    ctx.store
        .write(async |tx| {
            ctx.store.update_profile(tx, session.school_id, session.student_id, edit.phone, edit.email, edit.postcode, edit.address).await
        })
        .await?;
    Ok(())
}
