//! Reports out as .xlsx: numbers as numbers (money with a ¥ format, so sums work in Excel),
//! Chinese headers, a frozen header row, and text that could run as a formula neutralised.

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use crate::DocumentError;

/// One cell of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    /// Money, in fen; shown in yuan with a ¥ format.
    Fen(i64),
    /// A count.
    Int(i64),
    /// Nothing (the other side of a debit/credit pair).
    Blank,
}

/// Text a spreadsheet could take for a formula (`=`, `+`, `-`, `@`, and the tab and carriage
/// return that some programs skip before them) gets a leading apostrophe, which Excel and
/// LibreOffice show as plain text: a student's name like `=HYPERLINK(…)` stays a name.
pub fn neutralise(s: &str) -> std::borrow::Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}").into(),
        _ => s.into(),
    }
}

/// Yuan for Excel's cell. The workbook stores numbers as doubles whatever we do; fen up to
/// 2^53 divide to the double nearest the exact decimal, which is what Excel itself stores
/// when a person types the amount — and the ¥ format shows it to the fen.
fn yuan(fen: i64) -> f64 {
    fen as f64 / 100.0
}

/// One sheet: bold header row (frozen), `rows`, and a bold `total` row under them if given.
pub fn write_report_xlsx(sheet_name: &str, header: &[&str], rows: &[Vec<Cell>], total: Option<&[Cell]>) -> Result<Vec<u8>, DocumentError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name).map_err(unwritable)?;
    let head = Format::new().set_bold();
    let money = Format::new().set_num_format("¥#,##0.00");
    let money_bold = Format::new().set_num_format("¥#,##0.00").set_bold();
    let bold = Format::new().set_bold();
    let plain = Format::new();
    let mut widths = vec![0usize; header.len()];
    for (c, name) in header.iter().enumerate() {
        sheet.write_string_with_format(0, col(c)?, *name, &head).map_err(unwritable)?;
        widths[c] = widths[c].max(width(name));
    }
    let all = rows.iter().map(|r| (r.as_slice(), false)).chain(total.map(|t| (t, true)));
    for (r, (row, is_total)) in all.enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| DocumentError::Unwritable("行数超过 Excel 单个工作表的上限".into()))?;
        for (c, cell) in row.iter().enumerate() {
            let cc = col(c)?;
            let w = match cell {
                Cell::Text(s) => {
                    let s = neutralise(s);
                    sheet.write_string_with_format(r, cc, s.as_ref(), if is_total { &bold } else { &plain }).map_err(unwritable)?;
                    width(&s)
                }
                Cell::Fen(f) => {
                    sheet.write_number_with_format(r, cc, yuan(*f), if is_total { &money_bold } else { &money }).map_err(unwritable)?;
                    14
                }
                Cell::Blank => 0,
                Cell::Int(i) => {
                    // Counts stay far below 2^53: exact as doubles.
                    sheet.write_number_with_format(r, cc, *i as f64, if is_total { &bold } else { &plain }).map_err(unwritable)?;
                    i.to_string().len()
                }
            };
            if c < widths.len() {
                widths[c] = widths[c].max(w);
            }
        }
    }
    for (c, w) in widths.into_iter().enumerate() {
        sheet.set_column_width(col(c)?, (w + 2).clamp(6, 60) as f64).map_err(unwritable)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(unwritable)?;
    book.save_to_buffer().map_err(unwritable)
}

fn col(c: usize) -> Result<u16, DocumentError> {
    u16::try_from(c).map_err(|_| DocumentError::Unwritable("列数超过 Excel 上限".into()))
}

fn unwritable(e: XlsxError) -> DocumentError {
    DocumentError::Unwritable(e.to_string())
}

fn width(s: &str) -> usize {
    s.chars().map(|c| if c >= '\u{1100}' { 2 } else { 1 }).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, Reader, Xlsx};

    #[test]
    fn numbers_stay_numbers_and_formulas_stay_text() {
        let rows = vec![
            vec![Cell::Text("=HYPERLINK(\"http://x\")".into()), Cell::Fen(123_456), Cell::Int(3)],
            vec![Cell::Text("二班".into()), Cell::Fen(1), Cell::Int(1)],
        ];
        let total = [Cell::Text("合计".into()), Cell::Fen(123_457), Cell::Int(4)];
        let bytes = write_report_xlsx("报表", &["班级", "实收", "人数"], &rows, Some(&total)).unwrap();
        let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range("报表").unwrap();
        assert_eq!(range.get((0, 0)), Some(&Data::String("班级".into())));
        assert_eq!(range.get((1, 0)), Some(&Data::String("'=HYPERLINK(\"http://x\")".into())));
        assert_eq!(range.get((1, 1)), Some(&Data::Float(1234.56)));
        assert_eq!(range.get((3, 1)), Some(&Data::Float(1234.57)));
        assert_eq!(range.get((3, 2)), Some(&Data::Float(4.0)));
        let formulas = book.worksheet_formula("报表").unwrap();
        assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()), "no cell is a formula");
    }

    #[test]
    fn only_formula_starts_are_neutralised() {
        for s in ["=1+1", "+86", "-5", "@SUM(A1)", "\tx"] {
            assert!(neutralise(s).starts_with('\''), "{s}");
        }
        for s in ["张三", "1-2", "a=b", ""] {
            assert_eq!(neutralise(s), s);
        }
    }
}
