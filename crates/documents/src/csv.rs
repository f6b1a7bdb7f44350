//! CSV in and out. The reader is a small RFC 4180 parser of our own: the rules are short, and
//! owning them lets the row numbers match what Excel shows and keeps a dependency off 2-core
//! builds.

use encoding_rs::GBK;

use crate::{DocumentError, Table, column_name, table_from_rows};

const UTF8_BOM: &str = "\u{feff}";

/// Decodes (UTF-8 with or without BOM, else GBK), splits into records, refuses formulas.
pub(crate) fn read_csv(bytes: &[u8]) -> Result<Table, DocumentError> {
    let text = decode(bytes)?;
    let records = parse_records(&text);
    // Formula check before the table is built so the header is known for the message; a cell
    // starting with "=" would become a live formula the moment someone re-opens it in Excel.
    let header = records.iter().find(|r| r.iter().any(|c| !c.trim().is_empty()));
    for (i, record) in records.iter().enumerate() {
        if let Some(col) = record.iter().position(|c| c.trim().starts_with('=')) {
            return Err(DocumentError::Formula { row: i + 1, column: column_name(header.map(Vec::as_slice), col) });
        }
    }
    table_from_rows(records.into_iter().enumerate().map(|(i, r)| (i + 1, r)))
}

/// Excel on Chinese Windows saves "CSV (逗号分隔)" in GBK and "CSV UTF-8" with a BOM; other
/// tools write UTF-8 without one. Valid UTF-8 wins: GBK text is almost never valid UTF-8,
/// while the reverse guess would garble real UTF-8.
fn decode(bytes: &[u8]) -> Result<String, DocumentError> {
    let bytes = bytes.strip_prefix(UTF8_BOM.as_bytes()).unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(s.to_string());
    }
    GBK.decode_without_bom_handling_and_without_replacement(bytes).map(|s| s.into_owned()).ok_or(DocumentError::Encoding)
}

/// RFC 4180 records, one per row as Excel counts them (a blank line is a record too, so numbers
/// stay aligned with the screen). Lenient where Excel is: text after a closing quote is kept,
/// an unterminated quote runs to the end of the file, and a lone CR also ends a line.
fn parse_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                in_quotes = true;
                at_field_start = false;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                at_field_start = true;
            }
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    // The last line usually has no newline; a file ending in one has no extra record.
    if !field.is_empty() || !record.is_empty() || !at_field_start {
        record.push(field);
        records.push(record);
    }
    records
}

/// CSV in UTF-8 with BOM (so Excel on Windows opens Chinese correctly), RFC 4180 quoting and
/// CRLF line ends. Cells starting with `=` `+` `-` `@` (or a tab / CR, which Excel skips before
/// looking for one) are prefixed with `'` so a name or remark typed by a parent cannot run as a
/// formula on the office's machine; plain numbers such as `-5` or `+8613800000000` are left alone.
pub fn write_csv(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = String::from(UTF8_BOM);
    write_record(&mut out, header.iter().copied());
    for row in rows {
        write_record(&mut out, row.iter().map(String::as_str));
    }
    out.into_bytes()
}

fn write_record<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let guarded;
        let cell = if needs_guard(cell) {
            guarded = format!("'{cell}");
            guarded.as_str()
        } else {
            cell
        };
        if cell.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(cell);
        }
    }
    out.push_str("\r\n");
}

fn needs_guard(cell: &str) -> bool {
    let Some(first) = cell.chars().next() else { return false };
    if !matches!(first, '=' | '+' | '-' | '@' | '\t' | '\r') {
        return false;
    }
    !is_plain_number(cell)
}

/// `-5`, `+86138…`, `-1,234.50`: a sign then digits (with `.`/`,`) is no formula in Excel.
fn is_plain_number(cell: &str) -> bool {
    let rest = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    rest.starts_with(|c: char| c.is_ascii_digit()) && rest.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn records_follow_rfc4180() {
        let text = "a,\"b,1\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",x\r\n\r\nlast,\"\"";
        assert_eq!(parse_records(text), vec![s(&["a", "b,1", "say \"hi\""]), s(&["multi\nline", "x"]), s(&[""]), s(&["last", ""])]);
        assert_eq!(parse_records("a,b\n"), vec![s(&["a", "b"])]);
        assert_eq!(parse_records("a,\n"), vec![s(&["a", ""])]);
        assert_eq!(parse_records("a\rb"), vec![s(&["a"]), s(&["b"])]);
        assert_eq!(parse_records("\"open,to end"), vec![s(&["open,to end"])]);
        assert!(parse_records("").is_empty());
    }

    #[test]
    fn guard_leaves_numbers_alone() {
        for cell in ["=1+1", "+SUM(A1)", "-A1", "@cmd", "\t=1", "-", "+"] {
            assert!(needs_guard(cell), "{cell:?}");
        }
        for cell in ["-5", "+8613800000000", "-1,234.50", "5", "", "张三", "a=b"] {
            assert!(!needs_guard(cell), "{cell:?}");
        }
    }
}
