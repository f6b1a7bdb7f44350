//! Chinese first, English where the user chose it.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// From an `Accept-Language` header or a `lang` cookie/query value.
    pub fn from_tag(tag: &str) -> Lang {
        if tag.trim_start().to_ascii_lowercase().starts_with("en") { Lang::En } else { Lang::Zh }
    }

    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn is_en(self) -> bool {
        self == Lang::En
    }

    /// Picks the text for this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}
