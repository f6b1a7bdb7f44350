//! Real .xlsx files, built in memory with the same writer the app uses, read back.

use std::io::{Cursor, Write};

use campuspay_documents::{DocumentError, read_table, write_xlsx};
use rust_xlsxwriter::{Format, Workbook};
use zip::write::SimpleFileOptions;

fn strings(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

#[test]
fn written_xlsx_reads_back_unchanged() {
    let header = ["学号", "姓名", "身份证号", "班级编号", "金额", "备注"];
    let rows = vec![
        strings(&["20240001", "张三", "11010119900307803X", "0012", "1234.50", "含逗号,和\"引号\""]),
        strings(&["20240002", "李四", "110101199003077000", "0007", "0.01", ""]),
        strings(&["20240003", "王五", "", "", "3000", "两行\n备注"]),
    ];
    let bytes = write_xlsx("学生名单", &header, &rows).unwrap();
    let table = read_table("名单.xlsx", &bytes).unwrap();
    assert_eq!(table.header, strings(&header));
    let expected: Vec<(usize, Vec<String>)> = rows.into_iter().enumerate().map(|(i, r)| (i + 2, r)).collect();
    assert_eq!(table.rows, expected);
}

#[test]
fn the_file_name_does_not_decide_the_format() {
    let bytes = write_xlsx("Sheet1", &["a"], &[strings(&["1"])]).unwrap();
    let table = read_table("export.csv", &bytes).unwrap();
    assert_eq!(table.rows, vec![(2, strings(&["1"]))]);
}

#[test]
fn bad_sheet_names_are_a_write_error_not_a_panic() {
    assert!(matches!(write_xlsx("a/b", &["a"], &[]), Err(DocumentError::Unwritable(_))));
}

#[test]
fn number_cells_read_as_their_shortest_exact_decimal() {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "金额").unwrap();
    sheet.write_string(0, 1, "身份证号").unwrap();
    sheet.write_number(1, 0, 1234.5).unwrap();
    sheet.write_number(1, 1, 110101199003078035.0).unwrap();
    sheet.write_number(2, 0, 0.1 + 0.2).unwrap();
    sheet.write_number(3, 0, 1234.0).unwrap();
    sheet.write_boolean(4, 0, true).unwrap();
    let bytes = book.save_to_buffer().unwrap();

    let table = read_table("fees.xlsx", &bytes).unwrap();
    assert_eq!(
        table.rows,
        vec![
            // The 18-digit number has already lost its last digits inside Excel; it must show
            // as the digits it now holds, not as 1.10101E+17 and not "fixed".
            (2, strings(&["1234.5", "110101199003078030"])),
            (3, strings(&["0.30000000000000004", ""])),
            (4, strings(&["1234", ""])),
            (5, strings(&["TRUE", ""])),
        ]
    );
    assert!(campuspay_documents::fen_of_cell(&table.rows[1].1[0]).is_err());
}

#[test]
fn dates_read_as_iso_text() {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "入学日期").unwrap();
    let date = Format::new().set_num_format("yyyy/mm/dd");
    sheet.write_number_with_format(1, 0, 45536.0, &date).unwrap();
    let table = read_table("d.xlsx", &book.save_to_buffer().unwrap()).unwrap();
    assert_eq!(table.rows, vec![(2, strings(&["2024-09-01"]))]);
}

#[test]
fn a_formula_is_refused_with_its_row_and_column() {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, name) in ["学号", "姓名", "金额"].iter().enumerate() {
        sheet.write_string(0, c as u16, *name).unwrap();
    }
    sheet.write_string(1, 0, "1").unwrap();
    sheet.write_number(1, 2, 10.0).unwrap();
    sheet.write_string(2, 0, "2").unwrap();
    sheet.write_formula(2, 2, "=C2*2").unwrap();
    sheet.write_formula(3, 4, "=1+1").unwrap();
    let err = read_table("fees.xlsx", &book.save_to_buffer().unwrap()).unwrap_err();
    assert_eq!(err, DocumentError::Formula { row: 3, column: "金额".into() });
}

#[test]
fn a_formula_outside_the_header_is_named_by_its_letter() {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    // Header starts at column B, so the value range starts right of column A.
    sheet.write_string(1, 1, "学号").unwrap();
    sheet.write_string(2, 1, "1").unwrap();
    sheet.write_formula(2, 3, "=1+1").unwrap();
    let err = read_table("fees.xlsx", &book.save_to_buffer().unwrap()).unwrap_err();
    assert_eq!(err, DocumentError::Formula { row: 3, column: "D".into() });
}

#[test]
fn a_sheet_starting_below_and_right_keeps_excel_row_numbers() {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(2, 1, "学号").unwrap();
    sheet.write_string(3, 1, "1").unwrap();
    sheet.write_string(5, 1, "2").unwrap();
    let table = read_table("t.xlsx", &book.save_to_buffer().unwrap()).unwrap();
    assert_eq!(table.header, strings(&["学号"]));
    assert_eq!(table.rows, vec![(4, strings(&["1"])), (6, strings(&["2"]))]);
}

#[test]
fn an_empty_workbook_has_no_header() {
    let mut book = Workbook::new();
    book.add_worksheet();
    assert_eq!(read_table("t.xlsx", &book.save_to_buffer().unwrap()), Err(DocumentError::Empty));
}

#[test]
fn a_highly_compressed_entry_is_refused_even_under_the_total() {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("xl/sharedStrings.xml", options).unwrap();
    // zlib packs a long run at about 1030:1, just over the limit: 4 MB stays fast in a debug build.
    zip.write_all(&vec![0u8; 4 * 1024 * 1024]).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    assert_eq!(read_table("x.xlsx", &bytes), Err(DocumentError::Expanded { limit_bytes: 200 * 1024 * 1024 }));
}

#[test]
fn a_zip_that_is_not_a_workbook_is_unreadable() {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("readme.txt", SimpleFileOptions::default()).unwrap();
    zip.write_all(b"hello").unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    assert!(matches!(read_table("x.xlsx", &bytes), Err(DocumentError::Unreadable(_))));

    // Zip magic followed by garbage: not even a zip.
    let mut garbage = b"PK\x03\x04".to_vec();
    garbage.extend((0..4000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    let err = read_table("x.xlsx", &garbage).unwrap_err();
    assert!(matches!(err, DocumentError::Unreadable(_)), "{err:?}");
    assert!(err.to_string().starts_with("无法读取 Excel 文件："));
}

/// The workbook with cell C3's number replaced by Excel's error value `#DIV/0!` (what a sheet
/// holds when a formula's result was pasted as a value): rust_xlsxwriter writes no error
/// cells, so the sheet's XML is edited and the archive rebuilt.
fn with_error_in_c3(book: &mut Workbook) -> Vec<u8> {
    let original = book.save_to_buffer().unwrap();
    let mut archive = zip::ZipArchive::new(Cursor::new(original)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut text).unwrap();
        if name == "xl/worksheets/sheet1.xml" {
            let xml = String::from_utf8(text).unwrap();
            assert!(xml.contains("<v>12345</v>"), "{xml}");
            text = xml.replacen("r=\"C3\"", "r=\"C3\" t=\"e\"", 1).replacen("<v>12345</v>", "<v>#DIV/0!</v>", 1).into_bytes();
        }
        out.start_file(name, SimpleFileOptions::default()).unwrap();
        out.write_all(&text).unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn an_error_value_is_refused_with_its_row_and_column() {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, name) in ["学号", "姓名", "金额"].iter().enumerate() {
        sheet.write_string(0, c as u16, *name).unwrap();
    }
    sheet.write_string(1, 0, "1").unwrap();
    sheet.write_string(2, 0, "2").unwrap();
    sheet.write_number(2, 2, 12345.0).unwrap();
    let err = read_table("fees.xlsx", &with_error_in_c3(&mut book)).unwrap_err();
    assert_eq!(err, DocumentError::Unreadable("第 3 行“金额”列是错误值 #DIV/0!，请改正后再上传".into()));
}

#[test]
fn a_formula_anywhere_is_named_before_an_earlier_error_value() {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, name) in ["学号", "姓名", "金额"].iter().enumerate() {
        sheet.write_string(0, c as u16, *name).unwrap();
    }
    sheet.write_number(2, 2, 12345.0).unwrap();
    sheet.write_formula(5, 1, "=A1").unwrap();
    let err = read_table("fees.xlsx", &with_error_in_c3(&mut book)).unwrap_err();
    assert_eq!(err, DocumentError::Formula { row: 6, column: "姓名".into() });
}
