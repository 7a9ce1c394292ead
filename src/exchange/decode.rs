//! Turning an answer's bytes into a typed value or an [`ExchangeError`], in one parse.
//!
//! The fast path reads the typed body once and picks up the envelope's `status`, `error_code` and
//! `error_message` on the way (see [`Tap`]). Anything unusual — an error answer, a bad field, a
//! duplicate key, trailing bytes — falls back to the checked path: the envelope first, then the typed
//! body through `serde_path_to_error` for the path of the bad field. So a malformed answer costs a
//! second parse, and a good one does not pay for the path bookkeeping.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::error::ExchangeError;
use super::wire;

/// Decodes an answer of `method`: the typed body, or the API's error, or a malformed-answer error
/// naming the field.
pub(crate) fn decode<T: DeserializeOwned>(
    method: &'static str,
    http: reqwest::StatusCode,
    body: &[u8],
) -> Result<T, ExchangeError> {
    match decode_fast(body) {
        Some(t) => Ok(t),
        None => decode_checked(method, http, body),
    }
}

/// One parse; `None` unless the answer is a well-formed success.
fn decode_fast<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    let mut env = Captured::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    let t = T::deserialize(Tap { de: &mut de, env: &mut env }).ok()?;
    de.end().ok()?;
    let success = !env.duplicate && env.status.as_ref().and_then(Value::as_str) == Some("success");
    success.then_some(t)
}

/// Envelope first (is it an error?), then the typed body with the path of any bad field.
fn decode_checked<T: DeserializeOwned>(
    method: &'static str,
    http: reqwest::StatusCode,
    body: &[u8],
) -> Result<T, ExchangeError> {
    let malformed = |field: &str, detail: String| ExchangeError::Malformed { method, field: field.into(), detail };
    let env: wire::Envelope = serde_json::from_slice(body).map_err(|e| {
        let snippet: String = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        malformed("<body>", format!("not a JSON object (HTTP {http}): {e}; body starts with {snippet:?}"))
    })?;
    match env.status.as_ref().and_then(Value::as_str) {
        Some("success") => {}
        Some("error") => {
            let code = match &env.error_code {
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(|| malformed("error_code", format!("expected an integer, got {:?}", env.error_code)))?;
            let message = match &env.error_message {
                Some(Value::String(s)) => s.clone(),
                other => return Err(malformed("error_message", format!("expected a string, got {other:?}"))),
            };
            return Err(ExchangeError::from_api(method, code, message));
        }
        _ => {
            return Err(malformed(
                "status",
                format!("expected \"success\" or \"error\", got {:?} (HTTP {http})", env.status),
            ))
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        malformed(if path == "." { "<body>" } else { &path }, e.into_inner().to_string())
    })
}

/// The envelope's fields, as met while the body is read.
#[derive(Default)]
struct Captured {
    status: Option<Value>,
    error_code: Option<Value>,
    error_message: Option<Value>,
    /// An envelope key seen twice: left to the checked path, which refuses it.
    duplicate: bool,
}

/// A deserializer that hands the top-level object to the typed body, minus the envelope keys, which
/// it keeps in `env`. (No body type has a top-level field of those names; one that had would only
/// ever take the checked path.)
struct Tap<'c, D> {
    de: D,
    env: &'c mut Captured,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Tap<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_any(TapVisitor { inner: visitor, env: self.env })
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_map(TapVisitor { inner: visitor, env: self.env })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_struct(name, fields, TapVisitor { inner: visitor, env: self.env })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct enum identifier ignored_any
    }
}

struct TapVisitor<'c, V> {
    inner: V,
    env: &'c mut Captured,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for TapVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(TapMap { map, env: self.env })
    }
}

struct TapMap<'c, A> {
    map: A,
    env: &'c mut Captured,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TapMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(Key(key)) = self.map.next_key::<Key<'de>>()? else { return Ok(None) };
            let slot = match key.as_ref() {
                "status" => &mut self.env.status,
                "error_code" => &mut self.env.error_code,
                "error_message" => &mut self.env.error_message,
                _ => {
                    return match key {
                        Cow::Borrowed(k) => seed.deserialize(de::value::BorrowedStrDeserializer::new(k)).map(Some),
                        Cow::Owned(k) => seed.deserialize(de::value::StringDeserializer::new(k)).map(Some),
                    }
                }
            };
            let value: Value = self.map.next_value()?;
            if slot.replace(value).is_some() {
                self.env.duplicate = true;
            }
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// An object key, borrowed from the body when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// What a look at the head of a price list tells, without reading its items.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Head {
    pub status_success: bool,
    pub last_update: Option<String>,
}

/// Reads the top-level keys of `body` up to `items` (or until `status` and `last_update` are both
/// known), skipping nothing large: the items are never parsed. `None` when the head does not say.
pub(crate) fn scan_head(body: &[u8]) -> Option<Head> {
    let mut head = Head::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    // The visitor stops early on purpose; the error that follows is expected and ignored.
    let _ = de.deserialize_map(HeadVisitor { head: &mut head });
    (head.status_success && head.last_update.is_some()).then_some(head)
}

struct HeadVisitor<'h> {
    head: &'h mut Head,
}

impl<'de> Visitor<'de> for HeadVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an answer object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut status, mut update) = (false, false);
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match key.as_ref() {
                "status" if !status => {
                    status = true;
                    self.head.status_success = map.next_value::<Option<&str>>().ok().flatten() == Some("success");
                }
                "last_update" if !update => {
                    update = true;
                    let text: Option<String> =
                        map.next_value_seed(LastUpdate).map_err(|_| de::Error::custom("stop"))?;
                    self.head.last_update = text;
                }
                "status" | "last_update" => {
                    // Said twice: the head does not tell.
                    *self.head = Head::default();
                    return Err(de::Error::custom("stop"));
                }
                _ => return Err(de::Error::custom("stop")),
            }
            if status && update {
                return Err(de::Error::custom("stop"));
            }
        }
        Ok(())
    }
}

/// `last_update` as the decoded list keeps it (see [`wire::lenient::opt_text`]).
struct LastUpdate;

impl<'de> DeserializeSeed<'de> for LastUpdate {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        wire::lenient::opt_text(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::wire::Balance;

    const OK: reqwest::StatusCode = reqwest::StatusCode::OK;

    #[test]
    fn decode_maps_error_envelopes_and_bad_bodies() {
        let e = decode::<Balance>(
            "balance",
            OK,
            br#"{"status":"error","error_code":"-3","error_message":"invalid_signature"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, ExchangeError::Fatal { code: -3, .. }), "{e}");
        let e = decode::<Balance>("balance", OK, b"<html>busy</html>").unwrap_err();
        assert!(matches!(&e, ExchangeError::Malformed { field, .. } if field == "<body>"), "{e}");
        let e = decode::<Balance>("balance", OK, br#"{"status":"success","balance":null}"#).unwrap_err();
        assert!(matches!(&e, ExchangeError::Malformed { field, .. } if field == "balance"), "{e}");
        let e = decode::<Balance>("balance", OK, br#"{"status":"weird"}"#).unwrap_err();
        assert!(matches!(&e, ExchangeError::Malformed { field, .. } if field == "status"), "{e}");
    }

    #[test]
    fn the_one_pass_path_agrees_with_the_checked_path() {
        let bodies: [&[u8]; 9] = [
            br#"{"status":"success","balance":"12.5"}"#,
            br#"{"balance":"12.5","status":"success"}"#,
            br#"{"balance":"12.5"}"#,
            br#"{"status":"success","status":"success","balance":"12.5"}"#,
            br#"{"status":"success","balance":"12.5"} x"#,
            br#"{"status":"error","balance":"12.5","error_code":5,"error_message":"item_not_available"}"#,
            br#"{"status":"success","balance":"12.5","balance":"13"}"#,
            br#"{"status":"succes","balance":"12.5"}"#,
            br#"["status","success"]"#,
        ];
        for body in bodies {
            let one = decode::<Balance>("balance", OK, body).map_err(|e| e.to_string());
            let checked = decode_checked::<Balance>("balance", OK, body).map_err(|e| e.to_string());
            assert_eq!(one, checked, "{}", String::from_utf8_lossy(body));
        }
        assert!(decode_fast::<Balance>(bodies[0]).is_some() && decode_fast::<Balance>(bodies[1]).is_some());
    }

    #[test]
    fn the_head_says_status_and_last_update_without_reading_items() {
        let head = scan_head(br#"{"status":"success","last_update":"1718000000","items":[{"broken"#).unwrap();
        assert_eq!(head.last_update.as_deref(), Some("1718000000"));
        let head = scan_head(br#"{"last_update":1718000000,"status":"success","items":[]}"#).unwrap();
        assert_eq!(head.last_update.as_deref(), Some("1718000000"));
        assert!(scan_head(br#"{"status":"success","items":[],"last_update":"1"}"#).is_none(), "items first");
        assert!(scan_head(br#"{"status":"error","last_update":"1"}"#).is_none());
        assert!(scan_head(br#"{"status":"success","status":"success","last_update":"1"}"#).is_none());
        assert!(scan_head(br#"{"status":"success","last_update":null,"items":[]}"#).is_none());
        assert!(scan_head(b"<html>").is_none());
    }

    #[test]
    fn a_table_reads_what_a_listing_list_reads_and_refuses_the_same() {
        use crate::exchange::wire::{Listing, PriceList, TablePriceList};
        let body = br#"{"status":"success","last_update":1718000000,"items":[
            {"id":"1","name":"AK-47 | Redline (Field-Tested)","price":"11.87","classid":"310777185"},
            {"id":2,"name":"Sticker | \u0041 \"Q\"","price":0.5,"classid":310777186},
            {"id":"3","name":"AK-47 | Redline (Field-Tested)","price":"12","classid":null}]}"#;
        let table: TablePriceList = decode("market_pricelist", OK, body).unwrap();
        let list: PriceList<Listing> = decode("market_pricelist", OK, body).unwrap();
        assert_eq!(table.last_update.as_deref(), Some("1718000000"));
        let plain: Vec<crate::domain::Listing> = list.items.into_iter().map(Into::into).collect();
        assert_eq!(table.items.0.to_listings(), plain);
        assert_eq!(table.items.0.names().len(), 2);

        for (bad, field) in [
            (r#"{"id":"1","name":"A","price":true}"#, "items[1].price"),
            (r#"{"id":"1","name":"A","price":"12,5"}"#, "items[1].price"),
            (r#"{"id":"x","name":"A","price":"1"}"#, "items[1].id"),
            (r#"{"id":"1","price":"1"}"#, "items[1]"),
            (r#"{"id":"1","name":5,"price":"1"}"#, "items[1].name"),
            (r#"{"id":"1","name":"A","price":"1","classid":true}"#, "items[1].classid"),
            (r#"{"id":"1","name":"A","name":"B","price":"1"}"#, "items[1]"),
        ] {
            let body = format!(r#"{{"status":"success","items":[{{"id":"9","name":"A","price":"1"}},{bad}]}}"#);
            for e in [
                decode::<TablePriceList>("market_pricelist", OK, body.as_bytes()).unwrap_err(),
                decode::<PriceList<Listing>>("market_pricelist", OK, body.as_bytes()).unwrap_err(),
            ] {
                match &e {
                    ExchangeError::Malformed { method: "market_pricelist", field: f, .. } => {
                        assert_eq!(f, field, "{bad}: {e}")
                    }
                    other => panic!("{bad}: {other}"),
                }
            }
        }
    }
}
