//! Bytes ⇄ typed rows for the office's spreadsheets: reading uploaded `.xlsx` and CSV files
//! into a [`Table`] of trimmed text cells, turning money cells into exact [`Fen`], and writing
//! templates and exports as `.xlsx` or CSV.
//!
//! No database and no I/O: the app layer hands in the uploaded bytes and gets rows back (or a
//! [`DocumentError`] whose `Display` is a Chinese message it can show the office as is). Every
//! cell stays text here, so ID cards and student numbers keep their digits and money is never
//! a float on the way; deciding what a column means is the caller's job.
//!
//! Uploads are hostile until read: size is capped before parsing, a zip bomb is refused from
//! its central directory before anything is inflated, and formulas are refused rather than
//! evaluated or silently replaced by whatever value the file cached.

mod csv;
mod money;
pub mod receipt_pdf;
mod report;
mod xlsx;

pub use campuspay_domain::money::Fen;
pub use csv::write_csv;
pub use money::fen_of_cell;
pub use report::{Cell, neutralise, write_report_xlsx};
pub use xlsx::write_xlsx;

/// Uploads larger than this are refused before parsing.
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;

/// At most this many data rows (header excluded) in one upload: a school's whole roll fits,
/// and a runaway file is refused instead of filling memory downstream.
pub const MAX_DATA_ROWS: usize = 200_000;

/// A sheet read from an upload: the header row and the data rows, every cell as trimmed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub header: Vec<String>,
    /// (row number as the office sees it in Excel / a text editor: header is row 1, first data
    /// row is 2; cells). Skipped blank rows still count, so the number matches what the office
    /// sees on screen.
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Why an upload could not be read (or a download written). `Display` is meant for the office.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DocumentError {
    #[error("文件超过 {} MB，请拆分成几个文件后再上传", limit_bytes / (1024 * 1024))]
    TooLarge { limit_bytes: usize },
    #[error("只接受 .xlsx 或 .csv 文件（旧版 .xls 请在 Excel 中“另存为” .xlsx）")]
    UnknownFormat,
    #[error("无法读取 Excel 文件：{0}")]
    Unreadable(String),
    #[error("文件解压后超过 {} MB 或压缩比异常，疑似恶意文件，已拒绝", limit_bytes / (1024 * 1024))]
    Expanded { limit_bytes: u64 },
    #[error("第 {row} 行“{column}”列是公式，请复制后“选择性粘贴 → 数值”再上传")]
    Formula { row: usize, column: String },
    #[error("无法识别 CSV 文件的编码，请在 Excel 中另存为“CSV UTF-8”后再上传")]
    Encoding,
    #[error("文件是空的：没有表头行")]
    Empty,
    #[error("数据超过 {limit} 行，请拆分成几个文件后再上传")]
    TooManyRows { limit: usize },
    /// Not in the reading brief: writing a template or export can fail too (a sheet name Excel
    /// refuses, more rows than a sheet holds), and "无法读取" would misdescribe that.
    #[error("无法生成 Excel 文件：{0}")]
    Unwritable(String),
}

/// Reads the first worksheet of an .xlsx, or a CSV in UTF-8 (with or without BOM) or GBK.
///
/// The format is decided by content (zip magic `PK\x03\x04` → xlsx), not the file name: offices
/// rename files freely. The name only sharpens error messages. Blank rows are skipped; trailing
/// empty cells are padded/trimmed so every row has `header.len()` cells (extra non-empty cells
/// beyond the header are kept so the caller can report them).
pub fn read_table(file_name: &str, bytes: &[u8]) -> Result<Table, DocumentError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(DocumentError::TooLarge { limit_bytes: MAX_UPLOAD_BYTES });
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return xlsx::read_xlsx(file_name, bytes);
    }
    if looks_binary(bytes) {
        return Err(DocumentError::UnknownFormat);
    }
    csv::read_csv(bytes)
}

/// Text files (CSV in any encoding we accept) never hold NUL or most C0 control bytes; an old
/// .xls, a PDF, an image or random bytes almost always do in their first few kilobytes.
fn looks_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8192).any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c))
}

/// Builds a [`Table`] from raw rows (1-based row number, untrimmed cells), shared by both
/// readers so the blank-row, padding and row-limit rules are the same for xlsx and CSV.
/// The first non-blank row is the header.
pub(crate) fn table_from_rows(rows: impl Iterator<Item = (usize, Vec<String>)>) -> Result<Table, DocumentError> {
    let mut header: Option<Vec<String>> = None;
    let mut data = Vec::new();
    for (row_no, cells) in rows {
        let mut cells: Vec<String> = cells.into_iter().map(|c| c.trim().to_string()).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        match &header {
            None => {
                trim_trailing_empty(&mut cells, 0);
                header = Some(cells);
            }
            Some(h) => {
                if data.len() == MAX_DATA_ROWS {
                    return Err(DocumentError::TooManyRows { limit: MAX_DATA_ROWS });
                }
                trim_trailing_empty(&mut cells, h.len());
                cells.resize(cells.len().max(h.len()), String::new());
                data.push((row_no, cells));
            }
        }
    }
    let header = header.ok_or(DocumentError::Empty)?;
    Ok(Table { header, rows: data })
}

/// Drops empty cells at the end of a row, but never below `keep` cells.
fn trim_trailing_empty(cells: &mut Vec<String>, keep: usize) {
    while cells.len() > keep && cells.last().is_some_and(String::is_empty) {
        cells.pop();
    }
}

/// The name to show for a 0-based column: the header's text when there is one, else the
/// Excel column letters the office sees above the grid.
pub(crate) fn column_name(header: Option<&[String]>, col: usize) -> String {
    match header.and_then(|h| h.get(col)).map(|s| s.trim()) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => excel_column_letters(col),
    }
}

/// 0 → "A", 25 → "Z", 26 → "AA".
pub(crate) fn excel_column_letters(col: usize) -> String {
    let mut n = col + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_follow_excel() {
        assert_eq!(excel_column_letters(0), "A");
        assert_eq!(excel_column_letters(25), "Z");
        assert_eq!(excel_column_letters(26), "AA");
        assert_eq!(excel_column_letters(701), "ZZ");
        assert_eq!(excel_column_letters(702), "AAA");
    }

    #[test]
    fn rows_are_padded_and_extras_kept() {
        let rows = vec![
            (1, vec!["学号".into(), "姓名".into(), "".into()]),
            (2, vec!["".into(), " ".into()]),
            (3, vec!["1".into()]),
            (4, vec!["2".into(), "李".into(), "".into(), "多余".into(), "".into()]),
        ];
        let t = table_from_rows(rows.into_iter()).unwrap();
        assert_eq!(t.header, vec!["学号", "姓名"]);
        assert_eq!(t.rows, vec![(3, vec!["1".into(), "".into()]), (4, vec!["2".into(), "李".into(), "".into(), "多余".into()])]);
    }

    #[test]
    fn messages_are_for_the_office() {
        assert_eq!(DocumentError::TooLarge { limit_bytes: MAX_UPLOAD_BYTES }.to_string(), "文件超过 20 MB，请拆分成几个文件后再上传");
        assert!(DocumentError::Formula { row: 3, column: "金额".into() }.to_string().starts_with("第 3 行“金额”列是公式"));
    }
}
