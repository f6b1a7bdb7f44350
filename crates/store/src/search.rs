//! Finding a student of a school by what the person at the counter has in hand: the student
//! number, part of the name, or the ID card (whole, or its last digits).

use crate::db::{Store, StoreError, map_rows};
use sqlx::Row;

/// One student in a search result.
#[derive(Debug, Clone)]
pub struct StudentHit {
    pub student_no: String,
    pub name: String,
    pub gender: String,
    /// Unmasked: the caller masks it for lists.
    pub id_card: String,
    pub department: String,
    pub major: String,
    pub level: String,
    pub class_name: String,
    pub enrol_year: i64,
}

/// `text` as a LIKE operand that matches it literally: `%`, `_` and the escape itself are
/// escaped, so a typed `%` finds a `%` and not every student.
pub fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// What to look for, already normalised by the caller.
pub struct StudentQuery<'a> {
    /// Matched as a prefix of the student number and a substring of the name.
    pub text: &'a str,
    /// The ID card as typed, upper-cased; matched whole, or as its tail when `card_tail`.
    pub card: &'a str,
    pub card_tail: bool,
}

// One WHERE for the count and the page; `$2` number prefix, `$3` name substring, `$4` card.
const MATCH: &str = "FROM students WHERE school_id = $1 \
     AND (student_no LIKE $2 ESCAPE '\\' OR name LIKE $3 ESCAPE '\\' OR id_card LIKE $4 ESCAPE '\\')";

impl Store {
    /// The school's students matching `q`, by student number, and how many match in all.
    pub async fn search_students(
        &self,
        school_id: i64,
        q: &StudentQuery<'_>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<StudentHit>, i64), StoreError> {
        let text = like_literal(q.text);
        let number = format!("{text}%");
        let name = format!("%{text}%");
        // No card typed: a pattern no card has (cards are never empty), so the OR ignores it.
        let card = match (q.card.is_empty(), q.card_tail) {
            (true, _) => String::new(),
            (false, true) => format!("%{}", like_literal(q.card)),
            (false, false) => like_literal(q.card),
        };
        let count_sql = format!("SELECT CAST(COUNT(*) AS BIGINT) {MATCH}");
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
            .bind(school_id)
            .bind(&number)
            .bind(&name)
            .bind(&card)
            .fetch_one(self.pool())
            .await?;
        let sql = format!(
            "SELECT student_no, name, gender, id_card, department, major, level, class_name, enrol_year {MATCH} \
             ORDER BY student_no LIMIT $5 OFFSET $6"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(school_id)
            .bind(&number)
            .bind(&name)
            .bind(&card)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        let hits = map_rows(&rows, |r| {
            Ok(StudentHit {
                student_no: r.try_get("student_no")?,
                name: r.try_get("name")?,
                gender: r.try_get("gender")?,
                id_card: r.try_get("id_card")?,
                department: r.try_get("department")?,
                major: r.try_get("major")?,
                level: r.try_get("level")?,
                class_name: r.try_get("class_name")?,
                enrol_year: r.try_get("enrol_year")?,
            })
        })?;
        Ok((hits, total))
    }
}

#[cfg(test)]
mod tests {
    use super::like_literal;

    #[test]
    fn wildcards_are_matched_literally() {
        assert_eq!(like_literal("20%_1"), "20\\%\\_1");
        assert_eq!(like_literal("a\\b"), "a\\\\b");
        assert_eq!(like_literal("张三"), "张三");
    }
}
