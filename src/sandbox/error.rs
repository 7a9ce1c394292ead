//! API-level errors: `{"status":"error","error_code":N,"error_message":"token"}` with HTTP 200.

use super::render::{obj, J};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiError {
    pub code: i32,
    pub message: &'static str,
}

impl ApiError {
    pub const fn new(code: i32, message: &'static str) -> ApiError {
        ApiError { code, message }
    }

    pub fn body(self) -> J {
        obj([("status", "error".into()), ("error_code", self.code.into()), ("error_message", self.message.into())])
    }
}

// Standard errors (reference §2), valid for every method.
pub(crate) const PLEASE_USE_POST: ApiError = ApiError::new(-1, "please_use_post_method");
pub(crate) const INVALID_SHOPID: ApiError = ApiError::new(-2, "invalid_shopid");
pub(crate) const INVALID_SIGNATURE: ApiError = ApiError::new(-3, "invalid_signature");
pub(crate) const SHOP_NOT_ACTIVE: ApiError = ApiError::new(-4, "shop_not_active");
pub(crate) const INVALID_METHOD: ApiError = ApiError::new(-5, "invalid_method");
pub(crate) const MARKET_DISABLED: ApiError = ApiError::new(-6, "market_disabled");
pub(crate) const REQUEST_LIMIT: ApiError = ApiError::new(-7, "request_limit_reached");

// market_buy (reference §5.3); 4-7 are also the per-item reasons of market_batch_buy.
pub(crate) const MISSING_NAME_AND_ID: ApiError = ApiError::new(1, "missing_name_and_id");
pub(crate) const NAME_MIN_LENGTH: ApiError = ApiError::new(2, "name_min_length_3");
pub(crate) const MISSING_PARTNER_OR_TOKEN: ApiError = ApiError::new(3, "missing_partner_or_token");
pub(crate) const INSUFFICIENT_FUNDS: ApiError = ApiError::new(4, "insufficient_funds");
pub(crate) const SKIN_UNAVAILABLE: ApiError = ApiError::new(5, "skin_unavailable");
pub(crate) const NOT_AT_PRICE: ApiError = ApiError::new(6, "skins_not_found_at_specified_price");
pub(crate) const CUSTOM_ID_EXISTS: ApiError = ApiError::new(7, "custom_id_already_exists");

// market_batch_buy (reference §5.4 PROPOSAL; `too_many_items` is ours, the real limit is unknown).
pub(crate) const MISSING_ITEMS: ApiError = ApiError::new(1, "missing_items");
pub(crate) const TOO_MANY_ITEMS: ApiError = ApiError::new(2, "too_many_items");

// market_search (§5.2).
pub(crate) const NAME_OR_NAMES_REQUIRED: ApiError = ApiError::new(1, "name_or_names_required");

// market_getinfo (§5.5).
pub(crate) const MISSING_BUY_ID: ApiError = ApiError::new(1, "missing_buy_id");
pub(crate) const OFFER_NOT_FOUND: ApiError = ApiError::new(2, "offer_not_found");

// market_history (§5.6; the number is inferred).
pub(crate) const MISSING_STARTING_OR_ENDING: ApiError = ApiError::new(1, "missing_starting_or_ending");
