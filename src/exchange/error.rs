//! Client errors, grouped by the reaction they need.

use std::fmt;
use std::time::Duration;

/// What went wrong with one API call. The variant says what the caller may do next:
///
/// | variant | safe to retry? |
/// |---|---|
/// | [`NotSent`](ExchangeError::NotSent) | yes: the request never left this machine |
/// | [`OutcomeUnknown`](ExchangeError::OutcomeUnknown) | not a buy: it may have happened; resolve with `market_getinfo(custom_ids)` |
/// | [`RateLimited`](ExchangeError::RateLimited) | yes, after backing off |
/// | [`Rejected`](ExchangeError::Rejected) | no: the exchange said no, for the reason given |
/// | [`Fatal`](ExchangeError::Fatal) | no: credentials or project are wrong; stop trading |
/// | [`Malformed`](ExchangeError::Malformed) | not a buy: the exchange answered something we cannot read |
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// Connecting failed (refused, DNS, TLS, connect timeout): nothing reached the server.
    #[error("{method}: request not sent: {reason}")]
    NotSent { method: &'static str, reason: String },
    /// The request may have reached the server (timeout while waiting, connection dropped, HTTP 5xx):
    /// whether it took effect is unknown.
    #[error("{method}: outcome unknown: {reason}")]
    OutcomeUnknown { method: &'static str, reason: String, timed_out: bool },
    /// `-7 request_limit_reached`: the project is blocked for a while.
    #[error("{method}: rate limited by the exchange (-7 request_limit_reached)")]
    RateLimited { method: &'static str },
    /// The exchange refused this request (its error code and message are kept as received).
    #[error("{method}: rejected by the exchange: {code} {message}")]
    Rejected { method: &'static str, reason: Rejection, code: i64, message: String },
    /// Bad credentials or an inactive project (`-2`, `-3`, `-4`): nothing will work until fixed.
    #[error("{method}: fatal: {code} {message} (check shop_id, the secret and that the project is active)")]
    Fatal { method: &'static str, code: i64, message: String },
    /// The response is not what the reference says; names the method and the field.
    #[error("{method}: malformed response at `{field}`: {detail}")]
    Malformed { method: &'static str, field: String, detail: String },
}

impl ExchangeError {
    pub fn method(&self) -> &'static str {
        match self {
            ExchangeError::NotSent { method, .. }
            | ExchangeError::OutcomeUnknown { method, .. }
            | ExchangeError::RateLimited { method }
            | ExchangeError::Rejected { method, .. }
            | ExchangeError::Fatal { method, .. }
            | ExchangeError::Malformed { method, .. } => method,
        }
    }

    /// Whether sending the same request again is safe and may succeed. Never true for an outcome
    /// that is unknown: a buy must be resolved, not repeated.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ExchangeError::NotSent { .. } | ExchangeError::RateLimited { .. })
    }

    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            ExchangeError::Rejected { reason, .. } => Some(reason),
            _ => None,
        }
    }

    pub(crate) fn from_api(method: &'static str, code: i64, message: String) -> Self {
        match code {
            -7 => ExchangeError::RateLimited { method },
            -4..=-2 => ExchangeError::Fatal { method, code, message },
            _ => ExchangeError::Rejected { method, reason: Rejection::from_token(code, &message), code, message },
        }
    }

    pub(crate) fn from_transport(method: &'static str, err: reqwest::Error, timeout: Duration) -> Self {
        // reqwest marks a connect failure (including a connect timeout) with `is_connect`: the
        // request bytes were never written. Anything else may have reached the server.
        if err.is_connect() {
            return ExchangeError::NotSent { method, reason: describe(&err) };
        }
        if err.is_builder() {
            return ExchangeError::NotSent {
                method,
                reason: format!("could not build the request: {}", describe(&err)),
            };
        }
        let timed_out = err.is_timeout();
        let reason = if timed_out { format!("no answer within {} ms", timeout.as_millis()) } else { describe(&err) };
        ExchangeError::OutcomeUnknown { method, reason, timed_out }
    }
}

/// The error chain of a transport error, without the URL (it may carry credentials in a query).
fn describe(err: &reqwest::Error) -> String {
    let mut out = err.to_string();
    if let Some(url) = err.url() {
        out = out.replace(url.as_str(), "<api url>");
    }
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Why the exchange refused a request: the documented error tokens, each with its own variant.
/// The numeric code is per method on SkinsBack (code 2 is `name_min_length_3` for a buy but
/// `offer_not_found` for getinfo), so the token decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    PleaseUsePost,
    InvalidMethod,
    MarketDisabled,
    NameOrNamesRequired,
    MissingNameAndId,
    NameMinLength3,
    MissingPartnerOrToken,
    InsufficientFunds,
    SkinUnavailable,
    SkinsNotFoundAtSpecifiedPrice,
    CustomIdAlreadyExists,
    MissingItems,
    MissingBuyId,
    OfferNotFound,
    MissingStartingOrEnding,
    InvalidGame,
    /// A code/token this build does not know; kept verbatim in the error.
    Other,
}

impl Rejection {
    pub(crate) fn from_token(code: i64, token: &str) -> Rejection {
        Rejection::by_token(token).unwrap_or(match code {
            -1 => Rejection::PleaseUsePost,
            -5 => Rejection::InvalidMethod,
            -6 => Rejection::MarketDisabled,
            _ => Rejection::Other,
        })
    }

    /// The documented reason this exact token names, if any.
    fn by_token(token: &str) -> Option<Rejection> {
        Some(match token {
            "please_use_post_method" => Rejection::PleaseUsePost,
            "invalid_method" => Rejection::InvalidMethod,
            "market_disabled" => Rejection::MarketDisabled,
            "name_or_names_required" | "missing_name" => Rejection::NameOrNamesRequired,
            "missing_name_and_id" => Rejection::MissingNameAndId,
            "name_min_length_3" => Rejection::NameMinLength3,
            "missing_partner_or_token" => Rejection::MissingPartnerOrToken,
            "insufficient_funds" => Rejection::InsufficientFunds,
            "skin_unavailable" => Rejection::SkinUnavailable,
            "skins_not_found_at_specified_price" => Rejection::SkinsNotFoundAtSpecifiedPrice,
            "custom_id_already_exists" => Rejection::CustomIdAlreadyExists,
            "missing_items" => Rejection::MissingItems,
            "missing_buy_id" => Rejection::MissingBuyId,
            "offer_not_found" => Rejection::OfferNotFound,
            "missing_starting_or_ending" => Rejection::MissingStartingOrEnding,
            "invalid_game" => Rejection::InvalidGame,
            _ => return None,
        })
    }

    /// The code the reference documents with this reason, for the buy methods (`market_buy`,
    /// `market_batch_buy`); `None` for reasons a buy never answers with.
    fn documented_buy_code(&self) -> Option<i64> {
        Some(match self {
            Rejection::PleaseUsePost => -1,
            Rejection::InvalidMethod => -5,
            Rejection::MarketDisabled => -6,
            Rejection::MissingNameAndId | Rejection::MissingItems => 1,
            Rejection::NameMinLength3 => 2,
            Rejection::MissingPartnerOrToken => 3,
            Rejection::InsufficientFunds => 4,
            Rejection::SkinUnavailable => 5,
            Rejection::SkinsNotFoundAtSpecifiedPrice => 6,
            _ => return None,
        })
    }

    /// True only when a buy was answered with a documented refusal — a documented message with its
    /// documented code — that means nothing was bought, so the reservation can be released.
    /// Anything else (a code this build does not know, a known code with an unexpected message,
    /// `custom_id` already used) may hide a purchase: it is an unknown outcome, resolved by
    /// `custom_id`.
    pub(crate) fn buy_bought_nothing(code: i64, message: &str) -> bool {
        Rejection::by_token(message).and_then(|r| r.documented_buy_code()) == Some(code)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_codes_are_grouped_by_reaction() {
        assert!(matches!(
            ExchangeError::from_api("balance", -7, "request_limit_reached".into()),
            ExchangeError::RateLimited { .. }
        ));
        for code in [-2, -3, -4] {
            assert!(matches!(ExchangeError::from_api("balance", code, "x".into()), ExchangeError::Fatal { .. }));
        }
        let e = ExchangeError::from_api("market_buy", 6, "skins_not_found_at_specified_price".into());
        assert_eq!(e.rejection(), Some(&Rejection::SkinsNotFoundAtSpecifiedPrice));
        assert!(!e.is_retryable());
        let e = ExchangeError::from_api("market_getinfo", 2, "offer_not_found".into());
        assert_eq!(e.rejection(), Some(&Rejection::OfferNotFound));
        let e = ExchangeError::from_api("market_buy", 99, "brand_new_error".into());
        assert!(e.to_string().contains("99 brand_new_error"));
    }

    #[test]
    fn only_a_documented_refusal_means_nothing_was_bought() {
        let released = Rejection::buy_bought_nothing;
        assert!(released(6, "skins_not_found_at_specified_price"));
        assert!(released(5, "skin_unavailable"));
        assert!(released(4, "insufficient_funds"));
        assert!(released(-6, "market_disabled"));
        assert!(!released(7, "custom_id_already_exists"), "something was bought under that custom_id");
        assert!(!released(7, "custom_id_exists"), "a known code with an unexpected message");
        assert!(!released(99, "brand_new_error"), "an unknown code");
        assert!(!released(5, "insufficient_funds"), "a documented message with another code");
        assert!(!released(-6, "site_off"), "a standard code with an unexpected message");
    }
}
