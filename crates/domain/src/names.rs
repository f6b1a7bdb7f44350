//! Closed vocabularies as text: each enum that is stored or sent as a word gets one mapping,
//! here, so the word for a state is written in exactly one place and an unknown word is an
//! error (never a default that could, say, make a future `refunding` order look `unpaid`).

/// A word that names none of an enum's variants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what}: {value:?}")]
pub struct UnknownName {
    /// The enum's name, for the error message.
    pub what: &'static str,
    pub value: String,
}

/// Gives an enum `ALL`, `as_str`, `FromStr` (unknown → [`UnknownName`]) and `Display` from one
/// list of `Variant => "word"` pairs. The words must match the enum's serde names, if it has
/// any: a test per enum checks that.
macro_rules! text_enum {
    ($t:ident { $($v:ident => $s:literal),+ $(,)? }) => {
        impl $t {
            pub const ALL: [$t; [$(stringify!($v)),+].len()] = [$($t::$v),+];

            /// The word stored in the database and sent in the API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($t::$v => $s),+
                }
            }
        }

        impl std::str::FromStr for $t {
            type Err = $crate::names::UnknownName;

            fn from_str(s: &str) -> Result<$t, Self::Err> {
                match s {
                    $($s => Ok($t::$v),)+
                    _ => Err($crate::names::UnknownName { what: stringify!($t), value: s.to_string() }),
                }
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_enum;
