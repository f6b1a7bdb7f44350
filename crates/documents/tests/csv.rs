//! CSV uploads as offices produce them (Excel's GBK "CSV", "CSV UTF-8" with BOM, plain UTF-8),
//! CSV downloads, and the limits every upload goes through.

use campuspay_documents::{DocumentError, MAX_DATA_ROWS, MAX_UPLOAD_BYTES, Table, read_table, write_csv};

fn strings(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

const ROSTER: &str = "学号,姓名,金额\r\n20240001,张三,1234.50\r\n20240002,李四,0.01\r\n";

fn roster() -> Table {
    Table {
        header: strings(&["学号", "姓名", "金额"]),
        rows: vec![(2, strings(&["20240001", "张三", "1234.50"])), (3, strings(&["20240002", "李四", "0.01"]))],
    }
}

#[test]
fn utf8_with_and_without_bom_and_gbk_read_the_same() {
    let plain = ROSTER.as_bytes().to_vec();
    let with_bom = [b"\xef\xbb\xbf".as_slice(), ROSTER.as_bytes()].concat();
    let (gbk, _, lossy) = encoding_rs::GBK.encode(ROSTER);
    assert!(!lossy);
    assert!(std::str::from_utf8(&gbk).is_err(), "the GBK bytes really are not UTF-8");
    for (what, bytes) in [("utf-8", plain), ("bom", with_bom), ("gbk", gbk.into_owned())] {
        assert_eq!(read_table("名单.csv", &bytes), Ok(roster()), "{what}");
    }
}

#[test]
fn bytes_in_no_known_encoding_are_refused() {
    // 0xFF never starts a UTF-8 or a GBK character.
    let soup = b"\xd1\xa7\xba\xc5,\xff\xfe\xfa\r\n1,\xff\xff\r\n";
    assert_eq!(read_table("x.csv", soup), Err(DocumentError::Encoding));
}

#[test]
fn quoted_cells_keep_commas_quotes_and_newlines() {
    let text = "姓名,备注\n\"张三\",\"住址：北京,海淀\"\n李四,\"两行\n备注，有\"\"引号\"\"\"\n王五,  前后空格  \n";
    let table = read_table("x.csv", text.as_bytes()).unwrap();
    assert_eq!(
        table.rows,
        vec![
            (2, strings(&["张三", "住址：北京,海淀"])),
            (3, strings(&["李四", "两行\n备注，有\"引号\""])),
            (4, strings(&["王五", "前后空格"])),
        ]
    );
}

#[test]
fn blank_rows_are_skipped_but_counted_and_short_rows_padded() {
    let text = "\n学号,姓名,金额,,\n1,张三\n,,\n2,李四,5,,多余\n";
    let table = read_table("x.csv", text.as_bytes()).unwrap();
    assert_eq!(table.header, strings(&["学号", "姓名", "金额"]));
    assert_eq!(table.rows, vec![(3, strings(&["1", "张三", ""])), (5, strings(&["2", "李四", "5", "", "多余"]))]);
}

#[test]
fn a_formula_cell_is_refused_but_signed_numbers_are_not() {
    let err = read_table("x.csv", "学号,金额\n1,-5\n2,+5\n3, =1+1\n".as_bytes()).unwrap_err();
    assert_eq!(err, DocumentError::Formula { row: 4, column: "金额".into() });
    let err = read_table("x.csv", "学号\n1,=HYPERLINK(\"x\")\n".as_bytes()).unwrap_err();
    assert_eq!(err, DocumentError::Formula { row: 2, column: "B".into() });
}

#[test]
fn too_large_is_refused_before_parsing() {
    let mut bytes = vec![b'a'; MAX_UPLOAD_BYTES + 1];
    assert_eq!(read_table("big.csv", &bytes), Err(DocumentError::TooLarge { limit_bytes: MAX_UPLOAD_BYTES }));
    // Even when it claims to be an xlsx: the size check comes before any parsing.
    bytes[..4].copy_from_slice(b"PK\x03\x04");
    assert_eq!(read_table("big.xlsx", &bytes), Err(DocumentError::TooLarge { limit_bytes: MAX_UPLOAD_BYTES }));
    // Exactly at the limit is fine.
    let mut at_limit = b"a\n".to_vec();
    at_limit.resize(MAX_UPLOAD_BYTES, b'x');
    assert_eq!(read_table("ok.csv", &at_limit).map(|t| t.rows[0].1[0].len()), Ok(MAX_UPLOAD_BYTES - 2));
}

#[test]
fn random_bytes_and_old_xls_are_not_accepted() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let err = read_table("x.xlsx", &random).unwrap_err();
    assert!(matches!(err, DocumentError::UnknownFormat | DocumentError::Unreadable(_)), "{err:?}");
    let xls = [b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1".as_slice(), &[0u8; 504]].concat();
    assert_eq!(read_table("old.xls", &xls), Err(DocumentError::UnknownFormat));
}

#[test]
fn nothing_but_blanks_is_empty() {
    assert_eq!(read_table("x.csv", b""), Err(DocumentError::Empty));
    assert_eq!(read_table("x.csv", b"\xef\xbb\xbf"), Err(DocumentError::Empty));
    assert_eq!(read_table("x.csv", b"\r\n ,  ,\r\n"), Err(DocumentError::Empty));
}

#[test]
fn a_header_alone_is_a_table_without_rows() {
    assert_eq!(read_table("x.csv", "学号,姓名".as_bytes()), Ok(Table { header: strings(&["学号", "姓名"]), rows: vec![] }));
}

#[test]
fn too_many_rows_are_refused() {
    let mut text = String::from("n\n");
    text.push_str(&"1\n".repeat(MAX_DATA_ROWS));
    assert_eq!(read_table("x.csv", text.as_bytes()).map(|t| t.rows.len()), Ok(MAX_DATA_ROWS));
    text.push_str("1\n");
    assert_eq!(read_table("x.csv", text.as_bytes()), Err(DocumentError::TooManyRows { limit: MAX_DATA_ROWS }));
}

#[test]
fn written_csv_has_a_bom_quotes_and_the_injection_guard() {
    let rows = vec![strings(&["=1+1", "+SUM(A1)", "-A1", "@cmd"]), strings(&["-5", "+8613800000000", "张三", "a,\"b\"\nc"])];
    let bytes = write_csv(&["公式", "加号", "减号", "备注"], &rows);
    assert!(bytes.starts_with(b"\xef\xbb\xbf"));
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert_eq!(text, "公式,加号,减号,备注\r\n'=1+1,'+SUM(A1),'-A1,'@cmd\r\n-5,+8613800000000,张三,\"a,\"\"b\"\"\nc\"\r\n");
    // What we write, we read back (the guard's quote stays: the cell is text now).
    let table = read_table("out.csv", &bytes).unwrap();
    assert_eq!(table.rows[0], (2, strings(&["'=1+1", "'+SUM(A1)", "'-A1", "'@cmd"])));
    assert_eq!(table.rows[1], (3, rows[1].clone()));
}
