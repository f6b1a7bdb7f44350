//! Which characters text from outside may carry. A NUL byte breaks PostgreSQL's TEXT (500) and
//! is stored as-is by SQLite; other control characters (BEL, ESC) and the bidirectional
//! overrides (U+202E turns "gpj.exe" into what reads as "exe.jpg") are never typed by a person
//! into a name, an address or a number, only pasted by someone who wants to fool the reader.
//! Tab and line breaks stay allowed: announcements and notes have paragraphs.

/// The first character `s` may not carry, if any.
pub fn forbidden_char(s: &str) -> Option<char> {
    s.chars().find(|&c| is_forbidden(c))
}

/// Control characters other than tab, LF and CR (C0, DEL, C1), and the bidirectional
/// embedding, override and isolate controls.
pub fn is_forbidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || ('\u{202a}'..='\u{202e}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_forbidden_and_ordinary_text_is_not() {
        for bad in ["a\0b", "\u{7}", "\u{1b}[31m", "gpj\u{202e}exe", "\u{2066}x", "\u{7f}", "\u{85}"] {
            assert!(forbidden_char(bad).is_some(), "{bad:?}");
        }
        for good in ["兰州理工大学", "甘肃省兰州市七里河区\n兰工坪路287号", "a\tb", "Zoë O'Brien", "20230001", "😀"]
        {
            assert_eq!(forbidden_char(good), None, "{good:?}");
        }
    }
}
