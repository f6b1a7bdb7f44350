//! A receipt as a PDF laid out like a Chinese fiscal e-receipt (财政电子票据): the heading and
//! the issuing authority, the QR to the verify page top left, code/number/check code/date top
//! right, the payer, a bordered table of 项目编码 / 项目名称 / 金额 with the total in figures and
//! in capitals (大写), the order and channel transaction, and the payee, 复核人 and 收款人.
//!
//! One page, drawn directly with `pdf-writer` (a receipt is a fixed form: no layout engine).
//! Text is in the vendored CJK font, subset to the glyphs used, with a ToUnicode map.

mod font;

pub use font::{FontError, covers};

use campuspay_domain::Fen;
use campuspay_domain::receipt::capitals;
use font::FontUse;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// One line of a receipt.
#[derive(Debug, Clone)]
pub struct ReceiptDocLine {
    /// 项目编码
    pub code: String,
    /// 项目名称
    pub name: String,
    pub amount: Fen,
}

/// Everything printed on a receipt.
#[derive(Debug, Clone, Default)]
pub struct ReceiptDoc {
    pub heading: String,
    /// 监制单位
    pub authority: String,
    pub code: String,
    pub number: String,
    pub check_code: String,
    /// `2026-12-04`
    pub issued_date: String,
    pub payer: String,
    /// The company payer's 统一社会信用代码, empty for a person.
    pub payer_credit_code: String,
    pub lines: Vec<ReceiptDocLine>,
    pub total: Fen,
    pub payee: String,
    pub payee_credit_code: String,
    pub order_no: String,
    /// e.g. 微信支付, 现金
    pub channel: String,
    pub txn_id: String,
    pub collector: String,
    pub reviewer: String,
    pub verify_url: String,
    /// A red-letter receipt's note (冲红 of which receipt); empty for a normal one.
    pub red_letter_of: String,
    /// Printed across the receipt when it no longer stands (已冲红, 已作废); empty if valid.
    pub stamp: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiptPdfError {
    #[error(transparent)]
    Font(#[from] FontError),
    #[error("the verify link does not fit a QR code")]
    Qr,
}

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 420.0;
const LEFT: f32 = 36.0;
const RIGHT: f32 = PAGE_W - 36.0;
/// Table columns: 项目编码 | 项目名称 | 金额（元）
const COL1: f32 = LEFT + 110.0;
const COL2: f32 = RIGHT - 140.0;
const ROW_H: f32 = 20.0;
/// Lines shown; more are summed into the last row so the form keeps its shape.
const MAX_LINES: usize = 6;

enum Align {
    Left,
    Center,
    Right,
}

/// The page being drawn: its content stream and the font glyphs used so far.
struct Page {
    content: Content,
    font: FontUse,
}

impl Page {
    fn text(&mut self, s: &str, x: f32, y: f32, size: f32, align: Align) -> Result<(), FontError> {
        if s.is_empty() {
            return Ok(());
        }
        let runs = self.font.encode(s, size)?;
        let width: f32 = runs.iter().map(|r| r.width).sum();
        let mut x = match align {
            Align::Left => x,
            Align::Center => x - width / 2.0,
            Align::Right => x - width,
        };
        // One text object: the runs follow each other, each in its font.
        self.content.begin_text();
        let mut at = 0.0;
        for (i, r) in runs.iter().enumerate() {
            self.content.set_font(Name(font::FONT_NAMES[r.font]), size);
            if i == 0 {
                self.content.next_line(x, y);
            } else {
                self.content.next_line(at, 0.0);
            }
            self.content.show(Str(&r.bytes));
            at = r.width;
            x += r.width;
        }
        self.content.end_text();
        Ok(())
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32) {
        self.content.move_to(x1, y1).line_to(x2, y2).stroke();
    }
}

/// Shrinks `s` to at most `max` chars with an ellipsis (a long company title must not run
/// over the frame).
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { s.chars().take(max - 1).chain(['…']).collect() }
}

/// Renders one receipt.
pub fn render_receipt(doc: &ReceiptDoc) -> Result<Vec<u8>, ReceiptPdfError> {
    let mut page = Page { content: Content::new(), font: FontUse::new() };
    let red = !doc.red_letter_of.is_empty();
    // Fiscal receipt forms are printed in a dark red-brown; text is black.
    page.content.set_stroke_rgb(0.55, 0.15, 0.1).set_line_width(0.8);
    page.content.set_fill_rgb(0.0, 0.0, 0.0);

    // Heading and authority.
    page.text(&doc.heading, PAGE_W / 2.0 - 10.0, PAGE_H - 48.0, 15.0, Align::Center)?;
    page.line(PAGE_W / 2.0 - 130.0, PAGE_H - 54.0, PAGE_W / 2.0 + 110.0, PAGE_H - 54.0);
    // A red-letter receipt says so under its heading (the heading itself is the form's name).
    let mut under = if doc.authority.is_empty() { String::new() } else { format!("监制单位：{}", doc.authority) };
    if red {
        under = format!("红字票据　{under}");
    }
    page.text(&under, PAGE_W / 2.0 - 10.0, PAGE_H - 70.0, 9.0, Align::Center)?;

    // QR to the verify page, top left, as vector modules.
    draw_qr(&mut page.content, &doc.verify_url, LEFT, PAGE_H - 94.0, 62.0)?;

    // Code, number, check code, date: top right.
    let mut y = PAGE_H - 38.0;
    for (label, value) in
        [("票据代码：", &doc.code), ("票据号码：", &doc.number), ("校 验 码：", &doc.check_code), ("开票日期：", &doc.issued_date)]
    {
        page.text(label, RIGHT - 128.0, y, 9.0, Align::Left)?;
        page.text(value, RIGHT - 128.0 + FontUse::measure(label, 9.0)?, y, 9.0, Align::Left)?;
        y -= 13.0;
    }

    // Payer.
    let top = PAGE_H - 122.0;
    page.text(&format!("交款人：{}", clip(&doc.payer, 30)), LEFT, top + 6.0, 10.0, Align::Left)?;
    if !doc.payer_credit_code.is_empty() {
        page.text(&format!("统一社会信用代码：{}", doc.payer_credit_code), RIGHT, top + 6.0, 10.0, Align::Right)?;
    }

    // The table: header, lines, total in capitals and figures.
    let shown: Vec<ReceiptDocLine> = if doc.lines.len() > MAX_LINES {
        let rest = Fen::sum(doc.lines[MAX_LINES - 1..].iter().map(|l| l.amount)).unwrap_or(Fen::ZERO);
        let mut v = doc.lines[..MAX_LINES - 1].to_vec();
        v.push(ReceiptDocLine { code: String::new(), name: format!("其他{}项", doc.lines.len() - MAX_LINES + 1), amount: rest });
        v
    } else {
        doc.lines.clone()
    };
    let rows = MAX_LINES.max(shown.len()) + 2;
    let bottom = top - ROW_H * rows as f32;
    page.content.rect(LEFT, bottom, RIGHT - LEFT, top - bottom).stroke();
    for i in 1..rows {
        let y = top - ROW_H * i as f32;
        page.line(LEFT, y, RIGHT, y);
    }
    let total_row = top - ROW_H * (rows - 1) as f32;
    page.line(COL1, top, COL1, total_row);
    page.line(COL2, top, COL2, bottom);
    let base = |row: usize| top - ROW_H * row as f32 - 14.0;
    page.text("项目编码", (LEFT + COL1) / 2.0, base(0), 10.0, Align::Center)?;
    page.text("项目名称", (COL1 + COL2) / 2.0, base(0), 10.0, Align::Center)?;
    page.text("金额（元）", (COL2 + RIGHT) / 2.0, base(0), 10.0, Align::Center)?;
    for (i, l) in shown.iter().enumerate() {
        page.text(&clip(&l.code, 16), LEFT + 6.0, base(i + 1), 10.0, Align::Left)?;
        page.text(&clip(&l.name, 26), COL1 + 6.0, base(i + 1), 10.0, Align::Left)?;
        page.text(&l.amount.to_yuan_string(), RIGHT - 8.0, base(i + 1), 10.0, Align::Right)?;
    }
    page.text(&format!("金额合计（大写）：{}", capitals(doc.total)), LEFT + 6.0, base(rows - 1), 10.0, Align::Left)?;
    page.text(&format!("（小写）¥{}", doc.total.to_yuan_string()), RIGHT - 8.0, base(rows - 1), 10.0, Align::Right)?;

    // Other information, then the payee and the people.
    let mut y = bottom - 16.0;
    let mut other = format!("订单号：{}", doc.order_no);
    if !doc.channel.is_empty() {
        other.push_str(&format!("　支付方式：{}", doc.channel));
    }
    page.text(&other, LEFT, y, 9.0, Align::Left)?;
    if !doc.txn_id.is_empty() {
        y -= 13.0;
        page.text(&format!("交易流水号：{}", doc.txn_id), LEFT, y, 9.0, Align::Left)?;
    }
    if red {
        y -= 13.0;
        page.text(&format!("冲红原票据：{}", doc.red_letter_of), LEFT, y, 9.0, Align::Left)?;
    }
    let y = 34.0;
    let payee = if doc.payee_credit_code.is_empty() { doc.payee.clone() } else { format!("{}（{}）", doc.payee, doc.payee_credit_code) };
    page.text(&format!("收款单位（章）：{}", clip(&payee, 40)), LEFT, y, 10.0, Align::Left)?;
    page.text(&format!("复核人：{}", doc.reviewer), RIGHT - 150.0, y, 10.0, Align::Left)?;
    page.text(&format!("收款人：{}", doc.collector), RIGHT - 70.0, y, 10.0, Align::Left)?;

    if !doc.stamp.is_empty() {
        // A void or red-lettered receipt re-downloaded says so across its face.
        page.content.save_state().set_fill_rgb(0.8, 0.1, 0.1);
        page.text(&doc.stamp, PAGE_W / 2.0, PAGE_H / 2.0 - 20.0, 36.0, Align::Center)?;
        page.content.restore_state();
    }
    finish(page)
}

/// Draws the QR of `url` as filled squares, `size` points wide, bottom-left at (x, y).
fn draw_qr(content: &mut Content, url: &str, x: f32, y: f32, size: f32) -> Result<(), ReceiptPdfError> {
    let qr = qrcode::QrCode::new(url.as_bytes()).map_err(|_| ReceiptPdfError::Qr)?;
    let n = qr.width();
    let m = size / n as f32;
    content.save_state().set_fill_rgb(0.0, 0.0, 0.0);
    for (i, c) in qr.to_colors().iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (col, row) = (i % n, i / n);
            content.rect(x + col as f32 * m, y + size - (row + 1) as f32 * m, m, m);
        }
    }
    content.fill_nonzero().restore_state();
    Ok(())
}

fn finish(page: Page) -> Result<Vec<u8>, ReceiptPdfError> {
    let mut pdf = Pdf::new();
    let mut id = 0;
    let mut next = || {
        id += 1;
        Ref::new(id)
    };
    let (catalog, tree, page_id, content_id) = (next(), next(), next(), next());
    let fonts = [next(), next()];
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut p = pdf.page(page_id);
    p.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H)).parent(tree).contents(content_id);
    let mut resources = p.resources();
    let mut dict = resources.fonts();
    for (name, id) in font::FONT_NAMES.iter().zip(fonts) {
        dict.pair(Name(name), id);
    }
    dict.finish();
    resources.finish();
    p.finish();
    let data = page.content.finish();
    pdf.stream(content_id, &data);
    page.font.write(&mut pdf, fonts, &mut next)?;
    pdf.document_info(next()).producer(TextStr("campuspay"));
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests;
