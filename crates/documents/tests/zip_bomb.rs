//! The zip-bomb guard, against an honest bomb: a real, valid archive whose one entry inflates
//! to 300 MB of zeros. Compressing 300 MB through zlib in a debug build takes ~20 s, so the
//! deflate stream is written here directly (fixed Huffman codes: a literal zero, then
//! "repeat 258 bytes at distance 1" over and over), which takes milliseconds and never holds
//! the 300 MB in memory. A small one is inflated with the zip crate to prove the builder honest.

use std::io::{Cursor, Read};

use campuspay_documents::{DocumentError, read_table};

const BOMB_BYTES: usize = 300 * 1024 * 1024;

/// Bits go out least-significant first, as deflate (RFC 1951 §3.1.1) packs them.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    len: u32,
}

impl Bits {
    fn put(&mut self, value: u64, count: u32) {
        self.acc |= value << self.len;
        self.len += count;
        while self.len >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.len -= 8;
        }
    }

    /// Huffman codes are defined most-significant bit first, so they go out reversed.
    fn code(&mut self, code: u64, count: u32) {
        self.put(code.reverse_bits() >> (64 - count), count);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.len > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// One final fixed-Huffman block inflating to `n` zero bytes.
fn deflated_zeros(n: usize) -> Vec<u8> {
    let mut bits = Bits::default();
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // BTYPE = 01, fixed Huffman
    let literal_zero = |bits: &mut Bits| bits.code(0x30, 8); // literals 0–143: 0x30 + value, 8 bits
    if n > 0 {
        literal_zero(&mut bits);
    }
    let rest = n.saturating_sub(1);
    for _ in 0..rest / 258 {
        bits.code(0xc0 + (285 - 280), 8); // length 258 = code 285, no extra bits
        bits.code(0, 5); // distance 1 = code 0, no extra bits
    }
    for _ in 0..rest % 258 {
        literal_zero(&mut bits);
    }
    bits.code(0, 7); // end of block (256)
    bits.finish()
}

fn crc_of_zeros(n: usize) -> u32 {
    let mega = 1024 * 1024;
    let mut block = crc32fast::Hasher::new();
    block.update(&vec![0u8; mega]);
    let mut crc = crc32fast::Hasher::new();
    for _ in 0..n / mega {
        crc.combine(&block);
    }
    crc.update(&vec![0u8; n % mega]);
    crc.finalize()
}

/// A one-entry zip (RFC: PKWARE APPNOTE 4.3): local header, data, central directory, end record.
fn zip_of_zeros(name: &str, n: usize) -> Vec<u8> {
    let data = deflated_zeros(n);
    let crc = crc_of_zeros(n);
    let (packed, size) = (data.len() as u32, u32::try_from(n).unwrap());
    let name_len = name.len() as u16;
    let mut out = Vec::new();
    let u16le = |out: &mut Vec<u8>, v: u16| out.extend_from_slice(&v.to_le_bytes());
    let u32le = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());

    u32le(&mut out, 0x0403_4b50);
    for v in [20, 0, 8, 0, 0x21] {
        u16le(&mut out, v); // version needed, flags, method deflate, time, date 1980-01-01
    }
    for v in [crc, packed, size] {
        u32le(&mut out, v);
    }
    u16le(&mut out, name_len);
    u16le(&mut out, 0);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&data);

    let directory_at = out.len() as u32;
    u32le(&mut out, 0x0201_4b50);
    for v in [20, 20, 0, 8, 0, 0x21] {
        u16le(&mut out, v); // made by, needed, flags, method, time, date
    }
    for v in [crc, packed, size] {
        u32le(&mut out, v);
    }
    for v in [name_len, 0, 0, 0, 0] {
        u16le(&mut out, v); // name, extra, comment, disk, internal attributes
    }
    u32le(&mut out, 0); // external attributes
    u32le(&mut out, 0); // local header at offset 0
    out.extend_from_slice(name.as_bytes());
    let directory_len = out.len() as u32 - directory_at;

    u32le(&mut out, 0x0605_4b50);
    for v in [0, 0, 1, 1] {
        u16le(&mut out, v);
    }
    u32le(&mut out, directory_len);
    u32le(&mut out, directory_at);
    u16le(&mut out, 0);
    out
}

#[test]
fn the_bomb_builder_makes_real_archives() {
    for n in [0, 1, 259, 100_000] {
        let bytes = zip_of_zeros("a.bin", n);
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(entry.size(), n as u64);
        let mut inflated = Vec::new();
        entry.read_to_end(&mut inflated).unwrap(); // also checks the CRC
        assert_eq!(inflated, vec![0u8; n]);
    }
}

/// Refused from the central directory alone: the deflate data is damaged after building, so
/// any attempt to inflate it would end in a different error, not `Expanded`.
#[test]
fn a_zip_bomb_is_refused_before_inflating() {
    let mut bytes = zip_of_zeros("xl/worksheets/sheet1.xml", BOMB_BYTES);
    assert!(bytes.len() < 3 * 1024 * 1024, "the bomb itself is small: {} bytes", bytes.len());
    let archive = zip::ZipArchive::new(Cursor::new(&bytes)).unwrap();
    assert_eq!(archive.decompressed_size(), Some(BOMB_BYTES as u128));
    drop(archive);
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 64] {
        *b ^= 0x5a;
    }
    assert_eq!(read_table("名单.xlsx", &bytes), Err(DocumentError::Expanded { limit_bytes: 200 * 1024 * 1024 }));
}
