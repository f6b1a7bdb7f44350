//! Finding a student of the staff member's school: by student number (its beginning), by
//! name (any part), or by ID card (whole, or the last 6 or more characters, as a student
//! reads them off the card at the counter). Another school's students are never found.

use super::Staff;
use crate::{Context, Error};
use campuspay_domain::office::Permission;
use campuspay_store::search::{StudentHit, StudentQuery};

pub const PER_PAGE: i64 = 50;
/// Pages beyond this are refused as empty: nobody reads 500,000 rows page by page.
const MAX_PAGE: i64 = 10_000;

pub struct SearchPage {
    pub hits: Vec<StudentHit>,
    /// Matches in all, over every page.
    pub total: i64,
    /// 1-based.
    pub page: i64,
    pub per_page: i64,
}

impl SearchPage {
    pub fn pages(&self) -> i64 {
        (self.total + self.per_page - 1) / self.per_page
    }
}

/// An ID card's tail: 6 or more digits, the last one possibly `X`.
fn card_like(q: &str) -> bool {
    let n = q.len();
    (6..=18).contains(&n) && q.bytes().enumerate().all(|(i, b)| b.is_ascii_digit() || (i == n - 1 && b == b'X'))
}

pub async fn students(ctx: &Context, staff: &Staff, q: &str, page: i64) -> Result<SearchPage, Error> {
    staff.require(Permission::ViewStudents)?;
    let school_id = staff.school()?;
    let q: String = q.trim().chars().filter(|c| !c.is_control()).take(64).collect();
    let page = page.clamp(1, MAX_PAGE);
    if q.is_empty() {
        return Ok(SearchPage { hits: Vec::new(), total: 0, page, per_page: PER_PAGE });
    }
    let card = campuspay_domain::idcard::normalize(&q);
    let query = if card_like(&card) {
        // A whole number is matched exactly; a shorter one is the card's tail.
        StudentQuery { text: &q, card: &card, card_tail: card.len() < 18 }
    } else {
        StudentQuery { text: &q, card: "", card_tail: false }
    };
    let (hits, total) = ctx.store.search_students(school_id, &query, (page - 1) * PER_PAGE, PER_PAGE).await?;
    Ok(SearchPage { hits, total, page, per_page: PER_PAGE })
}

#[cfg(test)]
mod tests {
    use super::card_like;

    #[test]
    fn card_tails_are_six_or_more_digits() {
        assert!(card_like("01111X") && card_like("370202200001011110") && card_like("123456"));
        assert!(!card_like("12345") && !card_like("X12345") && !card_like("张晓明") && !card_like("1234567890123456789"));
    }
}
