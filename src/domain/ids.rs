//! Identifiers. Each is its own type so that a `buy_id` can never be passed where an item `id` belongs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(u64);

        impl $name {
            pub const fn new(value: u64) -> Self {
                $name(value)
            }
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim()
                    .parse::<u64>()
                    .map($name)
                    .map_err(|_| IdError::NotANumber { kind: stringify!($name), text: s.to_string() })
            }
        }
    };
}

numeric_id!(
    /// A listing on the market (`id` in the price list, search results and purchases).
    ItemId
);
numeric_id!(
    /// A purchase made by the project (`buy_id`).
    BuyId
);

/// Our own unique id for a purchase (`custom_id`), the ledger's key. Printable ASCII, 1..=64 characters,
/// so that it survives both JSON and form encoding unchanged and signs the same everywhere.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CustomId(String);

impl CustomId {
    pub(crate) const MAX_LEN: usize = 64;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CustomId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        if ok {
            Ok(CustomId(s.to_string()))
        } else {
            Err(IdError::BadCustomId(s.to_string()))
        }
    }
}

impl TryFrom<String> for CustomId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<CustomId> for String {
    fn from(c: CustomId) -> String {
        c.0
    }
}

impl fmt::Display for CustomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("`{text}` is not a valid {kind} (expected a non-negative integer)")]
    NotANumber { kind: &'static str, text: String },
    #[error("`{0}` is not a valid custom_id (1-64 characters of A-Z a-z 0-9 - _ . :)")]
    BadCustomId(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_from_text() {
        assert_eq!("2715".parse::<ItemId>().unwrap().get(), 2715);
        assert!("27x".parse::<BuyId>().is_err());
        assert!("-1".parse::<BuyId>().is_err());
    }

    #[test]
    fn custom_ids_are_restricted_to_safe_characters() {
        assert!("order-42".parse::<CustomId>().is_ok());
        assert!("sb:20261126:0001".parse::<CustomId>().is_ok());
        assert!("".parse::<CustomId>().is_err());
        assert!("a b".parse::<CustomId>().is_err());
        assert!("x".repeat(65).parse::<CustomId>().is_err());
    }
}
