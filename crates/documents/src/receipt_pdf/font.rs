//! The receipt's fonts: Droid Sans Fallback for Chinese and DejaVu Sans for digits and Latin
//! (the CJK font has none), both vendored in `fonts/` so a fresh machine needs nothing
//! installed. Each is embedded as a subset CIDFontType2 with Identity-H and a ToUnicode CMap,
//! which is what lets `pdftotext` and screen readers get the text back.

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Chunk, Finish, Name, Rect, Ref, Str};
use std::collections::BTreeMap;
use std::sync::LazyLock;

static CJK_DATA: &[u8] = include_bytes!("../../fonts/DroidSansFallbackFull.ttf");
static LATIN_DATA: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");

static CJK: LazyLock<Option<ttf_parser::Face<'static>>> = LazyLock::new(|| ttf_parser::Face::parse(CJK_DATA, 0).ok());
static LATIN: LazyLock<Option<ttf_parser::Face<'static>>> = LazyLock::new(|| ttf_parser::Face::parse(LATIN_DATA, 0).ok());

/// The fonts of a page, by resource name: `F0` Latin, `F1` CJK.
pub const FONT_NAMES: [&[u8]; 2] = [b"F0", b"F1"];
const BASE_NAMES: [&str; 2] = ["DejaVuSans", "DroidSansFallback"];

#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error("a vendored receipt font does not parse")]
    Unparsable,
    #[error("subsetting the receipt font failed: {0}")]
    Subset(String),
}

fn face(i: usize) -> Result<&'static ttf_parser::Face<'static>, FontError> {
    let f = if i == 0 { &LATIN } else { &CJK };
    f.as_ref().ok_or(FontError::Unparsable)
}

fn data(i: usize) -> &'static [u8] {
    if i == 0 { LATIN_DATA } else { CJK_DATA }
}

/// Which font draws `c`: Latin where it has the glyph (digits, letters, ¥), else CJK.
fn font_of(c: char) -> Result<(usize, u16), FontError> {
    if let Some(g) = face(0)?.glyph_index(c) {
        return Ok((0, g.0));
    }
    // A char neither font has prints as the CJK font's .notdef rather than failing the receipt.
    Ok((1, face(1)?.glyph_index(c).map(|g| g.0).unwrap_or(0)))
}

fn advance(i: usize, gid: u16) -> Result<f32, FontError> {
    let f = face(i)?;
    Ok(f32::from(f.glyph_hor_advance(ttf_parser::GlyphId(gid)).unwrap_or(0)) * 1000.0 / f32::from(f.units_per_em()))
}

/// One font's glyphs used on a page: each glyph gets a CID (its id in the subset), and the
/// ToUnicode map says which char each CID stands for.
struct Used {
    remapper: subsetter::GlyphRemapper,
    /// CID → (char, advance in 1/1000 em)
    cids: BTreeMap<u16, (char, f32)>,
}

/// A piece of text in one font: the font's index, its 2-byte codes and its width.
pub struct Run {
    pub font: usize,
    pub bytes: Vec<u8>,
    pub width: f32,
}

pub struct FontUse {
    used: [Used; 2],
}

impl FontUse {
    pub fn new() -> FontUse {
        let used = || {
            let mut remapper = subsetter::GlyphRemapper::new();
            // Glyph 0 (.notdef) stays glyph 0, as TrueType requires.
            remapper.remap(0);
            Used { remapper, cids: BTreeMap::new() }
        };
        FontUse { used: [used(), used()] }
    }

    /// `text` as runs of one font each, at `size` points.
    pub fn encode(&mut self, text: &str, size: f32) -> Result<Vec<Run>, FontError> {
        let mut runs: Vec<Run> = Vec::new();
        for c in text.chars() {
            let (font, gid) = font_of(c)?;
            let adv = advance(font, gid)?;
            let used = &mut self.used[font];
            let cid = used.remapper.remap(gid);
            used.cids.entry(cid).or_insert((c, adv));
            match runs.last_mut() {
                Some(r) if r.font == font => {}
                _ => runs.push(Run { font, bytes: Vec::new(), width: 0.0 }),
            }
            let r = runs.last_mut().ok_or(FontError::Unparsable)?;
            r.bytes.extend_from_slice(&cid.to_be_bytes());
            r.width += adv * size / 1000.0;
        }
        Ok(runs)
    }

    /// Width of `text` at `size` points, without recording anything.
    pub fn measure(text: &str, size: f32) -> Result<f32, FontError> {
        let mut w = 0.0;
        for c in text.chars() {
            let (font, gid) = font_of(c)?;
            w += advance(font, gid)? * size / 1000.0;
        }
        Ok(w)
    }

    /// Writes the two Type0 fonts (`refs`, Latin then CJK) and everything they need into
    /// `chunk`, allocating ids from `next`.
    pub fn write(self, chunk: &mut Chunk, refs: [Ref; 2], next: &mut impl FnMut() -> Ref) -> Result<(), FontError> {
        for (i, used) in self.used.into_iter().enumerate() {
            write_font(chunk, i, used, refs[i], next)?;
        }
        Ok(())
    }
}

fn write_font(chunk: &mut Chunk, i: usize, used: Used, type0: Ref, next: &mut impl FnMut() -> Ref) -> Result<(), FontError> {
    let face = face(i)?;
    let data = subsetter::subset(data(i), 0, &used.remapper).map_err(|e| FontError::Subset(format!("{e:?}")))?;
    let (cid_ref, descriptor_ref, cmap_ref, file_ref) = (next(), next(), next(), next());
    // A subset font's name carries a six-letter tag unique to its glyph set (PDF 9.6.4).
    let mut h: u32 = 2_166_136_261;
    for (ch, _) in used.cids.values() {
        h = (h ^ u32::from(*ch)).wrapping_mul(16_777_619);
    }
    let tag: String = (0..6).map(|k| char::from(b'A' + ((h >> (k * 5)) % 26) as u8)).collect();
    let base = format!("{tag}+{}", BASE_NAMES[i]);
    let system = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };

    chunk
        .type0_font(type0)
        .base_font(Name(base.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_ref)
        .to_unicode(cmap_ref);

    let mut cid = chunk.cid_font(cid_ref);
    cid.subtype(CidFontType::Type2).base_font(Name(base.as_bytes())).system_info(system).font_descriptor(descriptor_ref);
    cid.cid_to_gid_map_predefined(Name(b"Identity"));
    cid.default_width(1000.0);
    let mut widths = cid.widths();
    for (c, (_, advance)) in &used.cids {
        widths.consecutive(*c, [*advance]);
    }
    widths.finish();
    cid.finish();

    let per_em = f32::from(face.units_per_em());
    let scale = |v: i16| f32::from(v) * 1000.0 / per_em;
    let bbox = face.global_bounding_box();
    chunk
        .font_descriptor(descriptor_ref)
        .name(Name(base.as_bytes()))
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(scale(bbox.x_min), scale(bbox.y_min), scale(bbox.x_max), scale(bbox.y_max)))
        .italic_angle(0.0)
        .ascent(scale(face.ascender()))
        .descent(scale(face.descender()))
        .cap_height(scale(face.capital_height().unwrap_or(face.ascender())))
        .stem_v(80.0)
        .font_file2(file_ref);

    let mut cmap = UnicodeCmap::new(Name(b"Custom"), system);
    for (c, (ch, _)) in &used.cids {
        if *c != 0 {
            cmap.pair(*c, *ch);
        }
    }
    chunk.stream(cmap_ref, &cmap.finish());
    chunk.stream(file_ref, &data).pair(Name(b"Length1"), data.len() as i32);
    Ok(())
}

/// Whether the vendored fonts cover every char of `text` (tests check the receipt's wording).
pub fn covers(text: &str) -> bool {
    match (face(0), face(1)) {
        (Ok(l), Ok(c)) => text.chars().all(|ch| ch.is_whitespace() || l.glyph_index(ch).is_some() || c.glyph_index(ch).is_some()),
        _ => false,
    }
}
