//! Identifiers that are valid by construction ("parse, don't validate").
//!
//! Ids end up inside sled keys, URLs and log lines, so they are restricted to a
//! small URL-safe alphabet: that keeps keys free of the `0x00` separator the store
//! uses and makes them safe to print.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::limits::MAX_ID_LEN;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    Empty,
    TooLong { len: usize },
    BadChar { ch: char },
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::Empty => write!(f, "must not be empty"),
            IdError::TooLong { len } => {
                write!(f, "is {len} characters long, the limit is {MAX_ID_LEN}")
            }
            IdError::BadChar { ch } => write!(
                f,
                "contains {ch:?}; only ASCII letters, digits and - _ . : are allowed"
            ),
        }
    }
}

impl core::error::Error for IdError {}

fn check_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { len: s.len() });
    }
    match s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        Some(ch) => Err(IdError::BadChar { ch }),
        None => Ok(()),
    }
}

/// The JSON schema every id shares: a string of the URL-safe alphabet.
#[cfg(feature = "openapi")]
fn id_schema(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .min_length(Some(1))
        .max_length(Some(MAX_ID_LEN))
        .pattern(Some("^[A-Za-z0-9._:-]+$"))
        .into()
}

macro_rules! id_type {
    ($(#[doc = $doc:literal])* $name:ident) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Accepts 1 to [`MAX_ID_LEN`] characters of `[A-Za-z0-9-_.:]`.
            pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
                Self::parse_string(s.into())
            }

            // The checking part is not generic: one copy per id type, not
            // one per argument type (what the recorder's page downloads).
            fn parse_string(s: String) -> Result<Self, IdError> {
                check_id(&s)?;
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // By hand rather than derived: the schema carries the alphabet and
        // length that `parse` enforces, which a derive would not know.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                id_schema(concat!($($doc),*).trim())
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// The co-browsing session: shared by the customer's and the agent's pages.
    SessionId
);
id_type!(
    /// One browser tab inside a session; sequence numbers count per tab.
    TabId
);
id_type!(
    /// The platform's id of a support agent.
    AgentId
);
id_type!(
    /// A customer of cotrail: owns site keys, users and all data recorded
    /// through them. One tenant never sees another's data.
    TenantId
);
id_type!(
    /// A tenant's user on the platform (agent or admin), as the platform names it.
    UserId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_url_safe_alphabet() {
        assert!(SessionId::parse("s-1_a.b:c").is_ok());
    }

    #[test]
    fn ids_reject_empty_long_and_odd_strings() {
        assert_eq!(SessionId::parse(""), Err(IdError::Empty));
        assert_eq!(
            TabId::parse("x".repeat(MAX_ID_LEN + 1)),
            Err(IdError::TooLong {
                len: MAX_ID_LEN + 1
            })
        );
        assert_eq!(AgentId::parse("a\0b"), Err(IdError::BadChar { ch: '\0' }));
        assert_eq!(AgentId::parse("a/b"), Err(IdError::BadChar { ch: '/' }));
    }

    #[test]
    fn ids_are_checked_when_deserialised() {
        let err = serde_json::from_str::<SessionId>("\"a b\"").unwrap_err();
        assert!(err.to_string().contains("only ASCII letters"), "{err}");
    }
}
