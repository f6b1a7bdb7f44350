//! .xlsx in (calamine, after a zip-bomb check) and out (rust_xlsxwriter, every cell as text).

use std::io::Cursor;

use calamine::{Data, DataRef, Reader, Xlsx};
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use crate::{DocumentError, Table, excel_column_letters, table_from_rows};

/// An honest roster or fee sheet inflates to a few MB; 200 MB is far past any real upload
/// (itself at most 20 MB) and still small enough that calamine can hold it.
const MAX_EXPANDED_BYTES: u64 = 200 * 1024 * 1024;
/// Spreadsheet XML compresses about 10–30:1; a thousandfold entry is built to explode...
const MAX_RATIO: u64 = 1000;
/// ...unless it is small: a tiny, very regular part (styles, an empty sheet) may compress
/// absurdly well and is harmless whatever its ratio.
const RATIO_APPLIES_ABOVE: u64 = 1024 * 1024;

/// One sheet row as read: its 0-based row index and its cells' (0-based column, text).
type SparseRow = (u32, Vec<(u32, String)>);

/// Reads the first sheet cell by cell (calamine's streaming reader): neither the sheet's
/// values nor its formulas are held as whole grids, only each used cell's text, once. The
/// result is what the grid reader gave: rows over the bounding box of the non-empty cells, a
/// formula anywhere refused before any error value, each named by its header's column.
pub(crate) fn read_xlsx(file_name: &str, bytes: &[u8]) -> Result<Table, DocumentError> {
    check_expansion(file_name, bytes)?;
    let unreadable = |e: calamine::XlsxError| DocumentError::Unreadable(format!("“{file_name}”不是有效的 Excel 工作簿（{e}）"));
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let first = book.sheet_names().first().cloned().ok_or_else(|| DocumentError::Unreadable(format!("“{file_name}”里没有工作表")))?;
    let mut reader = book.worksheet_cells_reader(&first).map_err(unreadable)?;

    let mut rows: Vec<SparseRow> = Vec::new();
    // The first formula and the first error value, in reading (row-major) order; reported
    // once the header and the leftmost column are known.
    let mut formula: Option<(u32, u32)> = None;
    let mut error_value: Option<(u32, u32, String)> = None;
    let (mut left, mut right) = (u32::MAX, 0u32);
    while let Some(cell) = reader.next_cell_with_formula().map_err(unreadable)? {
        let (r, c) = cell.pos;
        if formula.is_none() && cell.formula.as_deref().is_some_and(|f| !f.trim().is_empty()) {
            formula = Some((r, c));
        }
        // Empty cells (styled, or a formula without a value) do not widen the grid.
        if cell.value == DataRef::Empty {
            continue;
        }
        left = left.min(c);
        right = right.max(c);
        let text = match cell_text(&Data::from(cell.value)) {
            Ok(text) => text,
            Err(err) => {
                if error_value.is_none() {
                    error_value = Some((r, c, err));
                }
                String::new()
            }
        };
        match rows.last_mut() {
            Some((row, cells)) if *row == r => cells.push((c, text)),
            _ => rows.push((r, vec![(c, text)])),
        }
    }
    drop(reader);
    let width = if left == u32::MAX { 0 } else { (right - left + 1) as usize };
    let dense = |cells: Vec<(u32, String)>| {
        let mut out = vec![String::new(); width];
        for (c, text) in cells {
            out[(c - left) as usize] = text;
        }
        out
    };
    // The first row with any text, as the column names of messages (the row `table_from_rows`
    // takes as the header).
    let header: Option<Vec<String>> =
        rows.iter().find(|(_, cells)| cells.iter().any(|(_, t)| !t.is_empty())).map(|(_, cells)| dense(cells.clone()));
    let left = left as usize;
    if let Some((r, c)) = formula {
        return Err(DocumentError::Formula { row: r as usize + 1, column: column_label(header.as_deref(), left, c as usize) });
    }
    if let Some((r, c, err)) = error_value {
        let column = column_label(header.as_deref(), left, c as usize);
        return Err(DocumentError::Unreadable(format!("第 {} 行“{column}”列是错误值 {err}，请改正后再上传", r + 1)));
    }
    table_from_rows(rows.into_iter().map(|(r, cells)| (r as usize + 1, dense(cells))))
}

/// Refuses a zip bomb from its central directory alone, before calamine inflates anything.
/// The declared sizes are binding: zip 9 fails any read that runs past an entry's declared
/// uncompressed size, so an archive cannot understate them here and inflate more later.
fn check_expansion(file_name: &str, bytes: &[u8]) -> Result<(), DocumentError> {
    let archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| DocumentError::Unreadable(format!("“{file_name}”是损坏的压缩文件（{e}）")))?;
    let refuse = DocumentError::Expanded { limit_bytes: MAX_EXPANDED_BYTES };
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_data(i).map_err(|e| DocumentError::Unreadable(format!("“{file_name}”是损坏的压缩文件（{e}）")))?;
        let (size, packed) = (entry.size(), entry.compressed_size());
        total = total.saturating_add(size);
        if total > MAX_EXPANDED_BYTES || (size > RATIO_APPLIES_ABOVE && size / packed.max(1) > MAX_RATIO) {
            return Err(refuse);
        }
    }
    Ok(())
}

/// Header text for an absolute 0-based column, or its Excel letters when the header is blank
/// there (the value range may start right of column A, so header index = column − left).
fn column_label(header: Option<&[String]>, left: usize, col: usize) -> String {
    col.checked_sub(left).and_then(|i| header?.get(i)).filter(|name| !name.is_empty()).cloned().unwrap_or_else(|| excel_column_letters(col))
}

/// One cell as the office would read it, or the Excel error value it holds.
fn cell_text(cell: &Data) -> Result<String, String> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        // Rust prints the shortest decimal that reads back as the same f64, never an exponent:
        // 1234.0 → "1234", 0.1 + 0.2 → "0.30000000000000004" (which the 2-decimal money rule
        // then refuses), and an 18-digit ID typed as a number shows its already-lost digits,
        // which the ID check digit then refuses. Nothing inexact is rounded into looking right.
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
            if (h, mi, s, ms) == (0, 0, 0, 0) {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            }
        }
        // A duration-formatted number ([h]:mm): keep the number; no import column is a duration.
        Data::DateTime(dt) => dt.as_f64().to_string(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_string(),
        Data::Error(e) => return Err(e.to_string()),
    })
}

/// An .xlsx with one sheet: a bold header row, then rows; every cell written as TEXT (so ID
/// cards and student numbers keep their digits), columns sized to content. The columns are
/// also formatted as text, so what the office types into a downloaded template stays text too
/// (Excel would otherwise turn an ID card into 1.10101E+17). Used for templates and exports.
pub fn write_xlsx(sheet_name: &str, header: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>, DocumentError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name).map_err(unwritable)?;
    let text = Format::new().set_num_format("@");
    let bold = Format::new().set_bold().set_num_format("@");

    let columns = rows.iter().map(Vec::len).chain([header.len()]).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for (c, name) in header.iter().enumerate() {
        sheet.write_string_with_format(0, col_index(c)?, *name, &bold).map_err(unwritable)?;
        widths[c] = widths[c].max(display_width(name));
    }
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| too_many_rows())?;
        for (c, cell) in row.iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            // Text that a spreadsheet could run as a formula is neutralised (see `neutralise`).
            let cell = crate::neutralise(cell);
            sheet.write_string_with_format(r, col_index(c)?, cell.as_ref(), &text).map_err(unwritable)?;
            widths[c] = widths[c].max(display_width(&cell));
        }
    }
    for (c, width) in widths.into_iter().enumerate() {
        let c = col_index(c)?;
        sheet.set_column_format(c, &text).map_err(unwritable)?;
        // Two characters of padding; capped so one long remark doesn't push the rest off screen.
        sheet.set_column_width(c, (width + 2).clamp(6, 60) as f64).map_err(unwritable)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(unwritable)?;
    book.save_to_buffer().map_err(unwritable)
}

fn col_index(c: usize) -> Result<u16, DocumentError> {
    u16::try_from(c).map_err(|_| DocumentError::Unwritable("列数超过 Excel 上限".into()))
}

fn too_many_rows() -> DocumentError {
    DocumentError::Unwritable("行数超过 Excel 单个工作表的上限".into())
}

fn unwritable(e: XlsxError) -> DocumentError {
    match e {
        XlsxError::RowColumnLimitError => too_many_rows(),
        other => DocumentError::Unwritable(other.to_string()),
    }
}

/// Width in Excel's character units: CJK and full-width characters take two. Multi-line cells
/// are as wide as their longest line.
fn display_width(s: &str) -> usize {
    s.lines().map(|line| line.chars().map(|c| if c >= '\u{1100}' { 2 } else { 1 }).sum()).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_render_as_the_office_reads_them() {
        assert_eq!(cell_text(&Data::Float(1234.0)), Ok("1234".into()));
        assert_eq!(cell_text(&Data::Float(1234.5)), Ok("1234.5".into()));
        assert_eq!(cell_text(&Data::Float(0.1 + 0.2)), Ok("0.30000000000000004".into()));
        assert_eq!(cell_text(&Data::Float(110101199003077000.0)), Ok("110101199003077000".into()));
        assert_eq!(cell_text(&Data::Int(-7)), Ok("-7".into()));
        assert_eq!(cell_text(&Data::Bool(true)), Ok("TRUE".into()));
        assert_eq!(cell_text(&Data::String("  张三 ".into())), Ok("张三".into()));
        let date = calamine::ExcelDateTime::new(45943.0, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_text(&Data::DateTime(date)), Ok("2025-10-13".into()));
        let stamp = calamine::ExcelDateTime::new(45943.5, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_text(&Data::DateTime(stamp)), Ok("2025-10-13 12:00:00".into()));
        assert_eq!(cell_text(&Data::Error(calamine::CellErrorType::Div0)), Err("#DIV/0!".into()));
    }

    #[test]
    fn widths_count_cjk_double() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("学号"), 4);
        assert_eq!(display_width("a\n学号学号"), 8);
    }
}
