//! The Steam trade link purchases are sent to.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The `partner` and `token` of a Steam trade URL
/// (`https://steamcommunity.com/tradeoffer/new/?partner=123456789&token=AbCd1234`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TradeLink {
    partner: String,
    token: String,
}

impl TradeLink {
    /// From the two parts. `partner` is the numeric account id; `token` is 8 letters and digits
    /// (accepted from 6 to 16, as tokens have changed length before).
    pub fn new(partner: &str, token: &str) -> Result<Self, TradeLinkError> {
        let partner = partner.trim();
        let token = token.trim();
        if partner.is_empty() || !partner.bytes().all(|b| b.is_ascii_digit()) || partner.len() > 20 {
            return Err(TradeLinkError::BadPartner(partner.to_string()));
        }
        if !(6..=16).contains(&token.len())
            || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(TradeLinkError::BadToken);
        }
        Ok(TradeLink { partner: partner.to_string(), token: token.to_string() })
    }

    /// From a whole Steam trade URL.
    pub(crate) fn parse_url(url: &str) -> Result<Self, TradeLinkError> {
        let query = url.split_once('?').map(|(_, q)| q).ok_or_else(|| TradeLinkError::NotATradeUrl(redact_url(url)))?;
        let mut partner = None;
        let mut token = None;
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "partner" => partner = Some(v.into_owned()),
                "token" => token = Some(v.into_owned()),
                _ => {}
            }
        }
        match (partner, token) {
            (Some(p), Some(t)) => Self::new(&p, &t),
            _ => Err(TradeLinkError::NotATradeUrl(redact_url(url))),
        }
    }

    pub fn partner(&self) -> &str {
        &self.partner
    }

    pub fn token(&self) -> &str {
        &self.token
    }
}

/// The token is a credential of sorts (it lets anyone send offers); keep it out of logs.
impl fmt::Debug for TradeLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TradeLink").field("partner", &self.partner).field("token", &"***").finish()
    }
}

fn redact_url(url: &str) -> String {
    match url.find("token=") {
        Some(i) => format!("{}token=***", &url[..i]),
        None => url.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TradeLinkError {
    #[error("trade link partner `{0}` is not a Steam account number")]
    BadPartner(String),
    #[error("trade link token is not 6-16 letters or digits")]
    BadToken,
    #[error("`{0}` is not a Steam trade URL (expected …/tradeoffer/new/?partner=…&token=…)")]
    NotATradeUrl(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_whole_trade_url() {
        let t = TradeLink::parse_url("https://steamcommunity.com/tradeoffer/new/?partner=123456789&token=AbCd1234")
            .unwrap();
        assert_eq!(t.partner(), "123456789");
        assert_eq!(t.token(), "AbCd1234");
        assert!(!format!("{t:?}").contains("AbCd1234"));
    }

    #[test]
    fn rejects_broken_links() {
        assert!(TradeLink::parse_url("https://steamcommunity.com/tradeoffer/new/").is_err());
        assert!(TradeLink::new("12ab", "AbCd1234").is_err());
        assert!(TradeLink::new("123", "a").is_err());
    }
}
