//! Checked values: a [`RoomName`], a [`MessageId`] and a message [`Body`] exist only once they
//! follow the rules in [`limits`](crate::limits), so code that holds one never checks again. A
//! refusal is the wire [`ErrorCode`] the server would answer with, so a client refuses exactly
//! what a server would.

use crate::ErrorCode;
use crate::limits;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A valid room name (see [`limits::valid_room`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

impl RoomName {
    /// Exactly `name`, or [`ErrorCode::BadRoom`]: for names that come from a machine.
    pub fn parse(name: &str) -> Result<Self, ErrorCode> {
        Self::try_from(name.to_owned())
    }

    /// What a person typed: surrounding space and a leading `#` dropped, lower-cased (room names
    /// are lower case, so `#General` means `general`), then checked as [`RoomName::parse`].
    pub fn from_input(input: &str) -> Result<Self, ErrorCode> {
        let name = input.trim();
        let name = name.strip_prefix('#').unwrap_or(name);
        Self::parse(&name.to_ascii_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoomName {
    type Error = ErrorCode;
    fn try_from(name: String) -> Result<Self, ErrorCode> {
        if limits::valid_room(&name) {
            Ok(Self(name))
        } else {
            Err(ErrorCode::BadRoom)
        }
    }
}

impl From<RoomName> for String {
    fn from(name: RoomName) -> Self {
        name.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RoomName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A message body a server accepts: not blank, at most `max` bytes of UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body(String);

impl Body {
    /// Checks `text` against the protocol's default limit ([`limits::MAX_BODY_BYTES`]).
    pub fn new(text: &str) -> Result<Self, ErrorCode> {
        Self::within(text, limits::MAX_BODY_BYTES)
    }

    /// Checks `text` against a server's own limit (`max_body_bytes` of its `ready`).
    pub fn within(text: &str, max: usize) -> Result<Self, ErrorCode> {
        if text.trim().is_empty() {
            Err(ErrorCode::EmptyBody)
        } else if text.len() > max {
            Err(ErrorCode::BodyTooLong)
        } else {
            Ok(Self(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A message's id: the idempotency key its author's client chose (see [`limits::valid_id`]).
/// The wire carries it as a string; a server answers a bad one with `bad_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageId(String);

impl MessageId {
    /// A fresh random id (a UUID v4): what a client sends a new message with.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MessageId {
    type Error = ErrorCode;
    fn try_from(id: String) -> Result<Self, ErrorCode> {
        if limits::valid_id(&id) {
            Ok(Self(id))
        } else {
            Err(ErrorCode::BadId)
        }
    }
}

impl From<MessageId> for String {
    fn from(id: MessageId) -> Self {
        id.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Maps keyed by id can be searched with the `&str` of a frame (hashes like the `String`).
impl std::borrow::Borrow<str> for MessageId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_are_checked_once_and_typed_names_normalised() {
        assert_eq!(
            RoomName::parse("general").map(String::from).ok(),
            Some("general".into())
        );
        assert_eq!(RoomName::parse("General"), Err(ErrorCode::BadRoom));
        assert_eq!(RoomName::parse(""), Err(ErrorCode::BadRoom));
        assert_eq!(
            RoomName::from_input("  #General ").map(String::from).ok(),
            Some("general".into())
        );
        assert_eq!(RoomName::from_input("no spaces"), Err(ErrorCode::BadRoom));
        let wire: Result<RoomName, _> = serde_json::from_str("\"Bad Room\"");
        assert!(wire.is_err(), "a bad name never deserialises");
    }

    #[test]
    fn message_ids_are_checked_and_fresh_ones_valid_and_distinct() {
        assert_eq!(MessageId::try_from(String::new()), Err(ErrorCode::BadId));
        assert_eq!(
            MessageId::try_from("a\nb".to_owned()),
            Err(ErrorCode::BadId)
        );
        assert_eq!(
            MessageId::try_from("c1".to_owned()).map(String::from).ok(),
            Some("c1".into())
        );
        let (a, b) = (MessageId::random(), MessageId::random());
        assert_ne!(a, b);
        assert_eq!(MessageId::try_from(a.to_string()).ok(), Some(a));
        let wire: Result<MessageId, _> = serde_json::from_str("\"\"");
        assert!(wire.is_err(), "an empty id never deserialises");
    }

    #[test]
    fn bodies_are_not_blank_and_not_too_long() {
        assert_eq!(Body::new(" \n\t"), Err(ErrorCode::EmptyBody));
        assert_eq!(Body::within("12345", 4), Err(ErrorCode::BodyTooLong));
        assert_eq!(
            Body::within("1234", 4).map(Body::into_string).ok(),
            Some("1234".into())
        );
    }
}
