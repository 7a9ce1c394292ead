//! Request parameters as a PHP backend sees them (reference §1, §3.3).
//!
//! Both body encodings end up in one tree: scalars are the strings PHP would hold (`true` → `"1"`,
//! `false`/`null` → `""`, a JSON number → its literal text) and arrays/objects are ordered maps, as
//! PHP arrays are. Signature checks and method handlers read only this tree, so a JSON client and a
//! form client are treated alike.

use serde_json::Value;

/// One parameter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Php {
    Str(String),
    /// An ordered map; list indices are the keys `"0"`, `"1"`, ….
    Arr(Vec<(String, Php)>),
}

impl Php {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Php::Str(s) => Some(s),
            Php::Arr(_) => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Php> {
        match self {
            Php::Arr(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Php::Str(_) => None,
        }
    }

    /// The values of an array in order; a scalar counts as a one-element list (lenient on purpose:
    /// `buy_ids=5` in a form is read as `[5]`).
    pub fn values(&self) -> Vec<&Php> {
        match self {
            Php::Arr(entries) => entries.iter().map(|(_, v)| v).collect(),
            Php::Str(_) => vec![self],
        }
    }

    fn from_json(v: Value) -> Php {
        match v {
            Value::String(s) => Php::Str(s),
            // serde_json prints a number as its literal digits (integers) or shortest text (floats),
            // which is what PHP's string conversion of a decoded number gives for ordinary values.
            Value::Number(n) => Php::Str(n.to_string()),
            Value::Bool(true) => Php::Str("1".into()),
            Value::Bool(false) | Value::Null => Php::Str(String::new()),
            Value::Array(items) => {
                Php::Arr(items.into_iter().enumerate().map(|(i, v)| (i.to_string(), Php::from_json(v))).collect())
            }
            Value::Object(map) => Php::Arr(map.into_iter().map(|(k, v)| (k, Php::from_json(v))).collect()),
        }
    }
}

/// All parameters of one request, in the order received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    entries: Vec<(String, Php)>,
    /// Top-level JSON numbers whose literal text differs from PHP's rendering (`12.50` vs `12.5`).
    /// The reference's simulator rule signs floats as their literal text, PHP's table as `12.5`;
    /// a signature over either is accepted.
    literals: Vec<(String, String)>,
    /// Top-level JSON booleans and nulls, as a JavaScript client signs them (reference §3.3):
    /// `true`/`false` as words (PHP: `1`/empty), `null` left out (`typeof null` is `'object'`,
    /// which those clients skip). `None` = left out.
    js: Vec<(String, Option<&'static str>)>,
}

impl Params {
    /// Decodes a body. JSON when the content type says so or the body looks like a JSON object,
    /// form encoding otherwise. A body that is neither yields no parameters (the request then fails
    /// authentication like an empty PHP `$_POST` would).
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Params {
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        let trimmed = body.iter().position(|b| !b.is_ascii_whitespace()).map(|i| &body[i..]).unwrap_or(&[]);
        let json = ct.contains("json") || (!ct.contains("x-www-form-urlencoded") && trimmed.first() == Some(&b'{'));
        if json {
            Params::from_json_bytes(body)
        } else {
            Params::from_form(body)
        }
    }

    pub(crate) fn from_json_bytes(body: &[u8]) -> Params {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => {
                let js = map
                    .iter()
                    .filter_map(|(k, v)| match v {
                        Value::Bool(true) => Some((k.clone(), Some("true"))),
                        Value::Bool(false) => Some((k.clone(), Some("false"))),
                        Value::Null => Some((k.clone(), None)),
                        _ => None,
                    })
                    .collect();
                let entries: Vec<(String, Php)> = map.into_iter().map(|(k, v)| (k, Php::from_json(v))).collect();
                let literals = number_literals(body)
                    .into_iter()
                    .filter(|(k, lit)| entries.iter().any(|(ek, ev)| ek == k && ev.as_str() != Some(lit.as_str())))
                    .collect();
                Params { entries, literals, js }
            }
            _ => Params::default(),
        }
    }

    /// Every rendering of the scalars that a client may have signed, PHP's first: then, when they
    /// differ from it, the JSON numbers as written, and the JSON booleans and nulls as a JavaScript
    /// client renders them (reference §3.3). A signature over any of them is accepted.
    pub(crate) fn signed_renderings(&self) -> Vec<Vec<(&str, &str)>> {
        let mut out = vec![self.scalars().collect::<Vec<_>>()];
        if !self.literals.is_empty() {
            out.push(
                self.scalars()
                    .map(|(k, v)| match self.literals.iter().find(|(lk, _)| lk == k) {
                        Some((_, lit)) => (k, lit.as_str()),
                        None => (k, v),
                    })
                    .collect(),
            );
        }
        if !self.js.is_empty() {
            out.push(
                self.scalars()
                    .filter_map(|(k, v)| match self.js.iter().find(|(jk, _)| jk == k) {
                        Some((_, word)) => word.map(|w| (k, w)),
                        None => Some((k, v)),
                    })
                    .collect(),
            );
        }
        out
    }

    /// `application/x-www-form-urlencoded` with PHP bracket arrays (`a[]=1&b[0][id]=2`).
    pub(crate) fn from_form(body: &[u8]) -> Params {
        let mut root = Vec::new();
        for (key, value) in form_urlencoded::parse(body) {
            let (base, path) = split_key(&key);
            if base.is_empty() {
                continue;
            }
            // PHP's max_input_nesting_level is 64; deeper keys are dropped (and cannot exhaust the stack).
            if path.len() > 64 {
                continue;
            }
            let mut full = vec![Seg::Key(base)];
            full.extend(path);
            insert(&mut root, &full, value.into_owned());
        }
        Params { entries: root, literals: Vec::new(), js: Vec::new() }
    }

    pub fn get(&self, key: &str) -> Option<&Php> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The scalar value of `key`; `None` when absent or an array.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Php::as_str)
    }

    /// Like PHP `!empty($_POST[key])` for scalars: present, not `""` and not `"0"`.
    pub(crate) fn truthy(&self, key: &str) -> bool {
        matches!(self.str(key), Some(s) if !s.is_empty() && s != "0")
    }

    /// A scalar that is present and not empty, trimmed.
    pub(crate) fn non_empty(&self, key: &str) -> Option<&str> {
        self.str(key).map(str::trim).filter(|s| !s.is_empty())
    }

    /// Every scalar parameter: what the signature covers (arrays and objects are not signed).
    pub fn scalars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), s)))
    }
}

/// The literal text of every top-level JSON number in `body`.
fn number_literals(body: &[u8]) -> Vec<(String, String)> {
    let raw: std::collections::HashMap<String, Box<serde_json::value::RawValue>> = match serde_json::from_slice(body) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    raw.into_iter()
        .filter(|(_, v)| v.get().starts_with(|c: char| c == '-' || c.is_ascii_digit()))
        .map(|(k, v)| (k, v.get().to_string()))
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Append,
}

/// Splits `items[0][id]` into `items` and `[Key("0"), Key("id")]` the way PHP's `parse_str` does:
/// dots and spaces in the base name become `_`, an unclosed `[` is taken literally as `_`.
fn split_key(key: &str) -> (String, Vec<Seg>) {
    let Some(open) = key.find('[') else {
        return (php_base_name(key), Vec::new());
    };
    let base = &key[..open];
    let rest = &key[open..];
    let mut segs = Vec::new();
    let mut pos = 0;
    let bytes = rest.as_bytes();
    while pos < bytes.len() && bytes[pos] == b'[' {
        match rest[pos + 1..].find(']') {
            Some(close) => {
                let inner = &rest[pos + 1..pos + 1 + close];
                segs.push(if inner.is_empty() { Seg::Append } else { Seg::Key(inner.to_string()) });
                pos += close + 2;
            }
            None => break,
        }
    }
    if segs.is_empty() {
        // `a[b` has no closing bracket: PHP keeps it as a plain name with `[` turned into `_`.
        return (php_base_name(&key.replacen('[', "_", 1)), Vec::new());
    }
    (php_base_name(base), segs)
}

fn php_base_name(name: &str) -> String {
    name.chars().map(|c| if c == '.' || c == ' ' { '_' } else { c }).collect()
}

fn insert(entries: &mut Vec<(String, Php)>, path: &[Seg], value: String) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let key = match first {
        Seg::Key(k) => k.clone(),
        Seg::Append => next_index(entries).to_string(),
    };
    if rest.is_empty() {
        match entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = Php::Str(value),
            None => entries.push((key, Php::Str(value))),
        }
        return;
    }
    let idx = match entries.iter().position(|(k, _)| *k == key) {
        Some(i) => i,
        None => {
            entries.push((key, Php::Arr(Vec::new())));
            entries.len() - 1
        }
    };
    // A later `a[x]=…` after `a=…` turns `a` into an array, as in PHP.
    if let Php::Str(_) = entries[idx].1 {
        entries[idx].1 = Php::Arr(Vec::new());
    }
    if let Php::Arr(children) = &mut entries[idx].1 {
        insert(children, rest, value);
    }
}

fn next_index(entries: &[(String, Php)]) -> u64 {
    entries.iter().filter_map(|(k, _)| k.parse::<u64>().ok()).max().map_or(0, |m| m.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bracket_arrays_become_nested_arrays() {
        let p = Params::from_form(b"method=market_getinfo&custom_ids%5B%5D=a&custom_ids[]=b&items[0][id]=1&items[0][max_price]=2.5&items[1][id]=7");
        assert_eq!(p.str("method"), Some("market_getinfo"));
        let ids: Vec<_> = p.get("custom_ids").map(|v| v.values()).unwrap_or_default();
        assert_eq!(ids, vec![&Php::Str("a".into()), &Php::Str("b".into())]);
        let items = p.get("items").map(|v| v.values()).unwrap_or_default();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].get("max_price"), Some(&Php::Str("2.5".into())));
        assert_eq!(items[1].get("id"), Some(&Php::Str("7".into())));
        let scalars: Vec<_> = p.scalars().collect();
        assert_eq!(scalars, vec![("method", "market_getinfo")]);
    }

    #[test]
    fn json_scalars_are_stringified_like_php() {
        let p =
            Params::from_json_bytes(br#"{"a":"x","b":12,"c":12.50,"d":true,"e":false,"f":null,"g":[1],"h":{"k":1}}"#);
        let scalars: Vec<_> = p.scalars().collect();
        assert_eq!(scalars, vec![("a", "x"), ("b", "12"), ("c", "12.5"), ("d", "1"), ("e", ""), ("f", "")]);
        assert!(p.get("g").is_some() && p.str("g").is_none());
    }

    #[test]
    fn json_booleans_and_nulls_may_be_signed_as_php_or_javascript_renders_them() {
        let p = Params::from_json_bytes(br#"{"full":true,"off":false,"none":null,"n":12.50,"g":"cs2"}"#);
        let r = p.signed_renderings();
        assert_eq!(r.len(), 3, "{r:?}");
        let sorted = |v: &[(&str, &str)]| {
            let mut o: Vec<String> = v.iter().map(|(k, v)| format!("{k}:{v};")).collect();
            o.sort();
            o.concat()
        };
        assert_eq!(sorted(&r[0]), "full:1;g:cs2;n:12.5;none:;off:;");
        assert_eq!(sorted(&r[1]), "full:1;g:cs2;n:12.50;none:;off:;");
        assert_eq!(sorted(&r[2]), "full:true;g:cs2;n:12.5;off:false;");
        // Nothing to render differently: PHP's rendering alone.
        assert_eq!(Params::from_json_bytes(br#"{"full":1}"#).signed_renderings().len(), 1);
        assert_eq!(Params::from_form(b"full=true").signed_renderings().len(), 1);
    }

    #[test]
    fn absurdly_deep_or_large_bracket_keys_do_not_crash() {
        let deep = format!("a{}=1&b=2", "[]".repeat(100_000));
        let p = Params::from_form(deep.as_bytes());
        assert!(p.get("a").is_none());
        assert_eq!(p.str("b"), Some("2"));
        let p = Params::from_form(b"a[18446744073709551615]=1&a[]=2");
        assert!(p.get("a").is_some());
    }

    #[test]
    fn php_name_mangling_and_broken_brackets_do_not_panic() {
        let p = Params::from_form(b"max.price=1&a[b=2&[x]=3&=4&c[]]=5");
        assert_eq!(p.str("max_price"), Some("1"));
        assert_eq!(p.str("a_b"), Some("2"));
        assert!(p.get("").is_none());
        assert!(p.get("c").is_some());
    }

    #[test]
    fn content_type_and_sniffing_choose_the_decoder() {
        assert_eq!(Params::parse(Some("application/json"), br#"{"a":"1"}"#).str("a"), Some("1"));
        assert_eq!(Params::parse(None, br#" {"a":"1"}"#).str("a"), Some("1"));
        assert_eq!(Params::parse(Some("application/x-www-form-urlencoded"), b"a=1").str("a"), Some("1"));
        assert_eq!(Params::parse(Some("application/json"), b"not json"), Params::default());
    }
}
