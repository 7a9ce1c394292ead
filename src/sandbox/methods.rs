//! The methods of `POST /api.php`, each a function of the sandbox state and the request's
//! parameters (reference §5). The request handling around them (faults, authentication, the order
//! of checks) is in `api.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use rust_decimal::Decimal;

use super::error::{self, ApiError};
use super::faults::ErrorAnswer;
use super::php::{Params, Php};
use super::render::{self, balance_text, obj, success, Render, J};
use super::state::{Ceiling, State as Sb, Terms};
use crate::domain::{Game, ItemId, Usd};

/// The rates `currencies` lists: units of each currency per 1 USD (reference §4.2, §8.14).
const CURRENCIES: &[(&str, &str, &str)] = &[
    ("usd", "US Dollar", "1"),
    ("eur", "Euro", "0.92"),
    ("rub", "Russian ruble", "89.5"),
    ("uah", "Ukrainian hryvnia", "41.2"),
    ("cny", "Chinese yuan", "7.25"),
    ("kzt", "Kazakhstani tenge", "478.3"),
    ("aud", "Australian dollar", "1.52"),
    ("cad", "Canadian dollar", "1.37"),
    ("brl", "Brazilian real", "5.45"),
    ("nzd", "New Zealand dollar", "1.66"),
];

/// Most rows one `market_search` by substring returns.
const SEARCH_CAP: usize = 1000;

pub(super) enum Reply {
    Ok(J),
    /// Pre-serialized success body (the price list can be tens of megabytes).
    Raw(Vec<u8>),
    Err(ApiError),
    /// An error answer chosen by a fault (any code, any message).
    Fault(ErrorAnswer),
}
/// `game`: absent → cs2, `csgo` → cs2; anything else is a game with nothing on sale (`None`).
pub(super) fn game(params: &Params) -> Option<Game> {
    match params.non_empty("game") {
        None => Some(Game::Cs2),
        Some(g) => g.parse().ok(),
    }
}

pub(super) fn pricelist(st: &Sb, r: Render, params: &Params, malformed: bool) -> Reply {
    let price = |p| if malformed { J::Str(render::NOT_A_NUMBER.into()) } else { r.money(p) };
    let full = params.truthy("full");
    let mut out = Vec::with_capacity(if full { st.market.listing_count() * 100 } else { 4096 });
    out.extend_from_slice(b"{\"status\":\"success\",\"last_update\":");
    render::push_value(&mut out, &r.int(st.market.last_update()));
    out.extend_from_slice(b",\"items\":[");
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b',');
        }
        first = false;
    };
    if let Some(g) = game(params) {
        if full {
            for l in st.market.all(g) {
                sep(&mut out);
                out.extend_from_slice(b"{\"id\":");
                render::push_value(&mut out, &r.int(l.id.get()));
                out.extend_from_slice(b",\"name\":");
                render::push_json_str(&mut out, l.name);
                out.extend_from_slice(b",\"price\":");
                render::push_value(&mut out, &price(l.price));
                out.extend_from_slice(b",\"classid\":");
                render::push_json_str(&mut out, l.classid);
                out.push(b'}');
            }
        } else {
            for grp in st.market.groups(g) {
                sep(&mut out);
                out.extend_from_slice(b"{\"name\":");
                render::push_json_str(&mut out, grp.name);
                out.extend_from_slice(b",\"price\":");
                render::push_value(&mut out, &price(grp.price));
                out.extend_from_slice(b",\"classid\":");
                render::push_json_str(&mut out, grp.classid);
                out.extend_from_slice(b",\"count\":");
                render::push_value(&mut out, &r.int(u64::try_from(grp.count).unwrap_or(u64::MAX)));
                out.push(b'}');
            }
        }
    }
    out.extend_from_slice(b"]}");
    Reply::Raw(out)
}

/// `name`: listings whose name contains it (case-insensitive, like a search box); `names`: listings
/// of exactly those names. Both at least 3 characters.
pub(super) fn search(st: &Sb, r: Render, params: &Params) -> Reply {
    let names: Vec<String> = match params.get("names") {
        Some(v) => v
            .values()
            .iter()
            .filter_map(|n| n.as_str())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => Vec::new(),
    };
    let name = params.non_empty("name");
    if name.is_none() && names.is_empty() {
        return Reply::Err(error::NAME_OR_NAMES_REQUIRED);
    }
    if name.iter().map(|s| s.to_string()).chain(names.iter().cloned()).any(|n| n.chars().count() < 3) {
        return Reply::Err(error::NAME_MIN_LENGTH);
    }
    let mut items = Vec::new();
    if let Some(g) = game(params) {
        if let Some(q) = name {
            items.extend(st.market.search(g, q, SEARCH_CAP).iter().map(|l| r.listing(l)));
        }
        for n in &names {
            items.extend(st.market.named(g, n).iter().map(|l| r.listing(l)));
        }
    }
    Reply::Ok(success(vec![("items", J::Arr(items))]))
}

/// Trade URL parts, required for any buy.
pub(super) fn trade_link(params: &Params) -> Result<(&str, &str), ApiError> {
    match (params.non_empty("partner"), params.non_empty("token")) {
        (Some(p), Some(t)) => Ok((p, t)),
        _ => Err(error::MISSING_PARTNER_OR_TOKEN),
    }
}

pub(super) fn buy(st: &mut Sb, r: Render, params: &Params, now: Duration, over_debit: Usd) -> Result<J, ApiError> {
    let id = params.non_empty("id");
    let name = params.non_empty("name");
    if id.is_none() && name.is_none() {
        return Err(error::MISSING_NAME_AND_ID);
    }
    if id.is_none() && name.is_some_and(|n| n.chars().count() < 3) {
        return Err(error::NAME_MIN_LENGTH);
    }
    let link = trade_link(params)?;
    let terms = Terms { link, now, over_debit };
    let custom_id = params.non_empty("custom_id");
    let ceiling = Ceiling::parse(params.str("max_price"));
    let idx = match (id, name) {
        (Some(id), _) => {
            if custom_id.is_some_and(|c| st.custom_id_taken(c)) {
                return Err(error::CUSTOM_ID_EXISTS);
            }
            let id: ItemId = id.parse().map_err(|_| error::SKIN_UNAVAILABLE)?;
            st.buy_listing(id, ceiling, custom_id, &terms)?
        }
        (None, Some(name)) => match game(params) {
            Some(g) => st.buy_by_name(g, name, ceiling, custom_id, &terms)?,
            None if custom_id.is_some_and(|c| st.custom_id_taken(c)) => return Err(error::CUSTOM_ID_EXISTS),
            None => return Err(error::SKIN_UNAVAILABLE),
        },
        (None, None) => return Err(error::MISSING_NAME_AND_ID),
    };
    let mut body = success(Vec::new());
    body.extend(r.bought(st.purchase_at(idx)));
    Ok(body)
}

pub(super) fn batch_buy(st: &mut Sb, r: Render, params: &Params, now: Duration, over_debit: Usd) -> (Reply, bool) {
    let items: Vec<&Php> = match params.get("items") {
        Some(v @ Php::Arr(_)) => v.values(),
        _ => Vec::new(),
    };
    if items.is_empty() {
        return (Reply::Err(error::MISSING_ITEMS), false);
    }
    if items.len() > st.batch_max {
        return (Reply::Err(error::TOO_MANY_ITEMS), false);
    }
    let terms = match trade_link(params) {
        Ok(link) => Terms { link, now, over_debit },
        Err(e) => return (Reply::Err(e), false),
    };
    let mut purchased = Vec::new();
    let mut unavailable = Vec::new();
    for item in items {
        let text = |k: &str| item.get(k).and_then(Php::as_str).map(str::trim).filter(|s| !s.is_empty());
        let raw_id = text("id");
        let custom_id = text("custom_id");
        let parsed: Option<ItemId> = raw_id.and_then(|s| s.parse().ok());
        let result = match parsed {
            Some(id) => st.buy_listing(id, Ceiling::parse(text("max_price")), custom_id, &terms),
            None => Err(error::SKIN_UNAVAILABLE),
        };
        match result {
            Ok(idx) => purchased.push(r.bought(st.purchase_at(idx))),
            Err(e) => {
                let id = match parsed {
                    Some(id) => r.int(id.get()),
                    // Echo what was sent; "0" when nothing was.
                    None => J::Str(raw_id.unwrap_or("0").to_string()),
                };
                unavailable.push(obj([
                    ("id", id),
                    ("custom_id", custom_id.map(str::to_string).into()),
                    ("error_code", e.code.into()),
                    ("error_message", e.message.into()),
                ]));
            }
        }
    }
    let committed = !purchased.is_empty();
    (Reply::Ok(success(vec![("purchased", J::Arr(purchased)), ("unavailable", J::Arr(unavailable))])), committed)
}

/// `buy_id` → one purchase, flat; else `buy_ids` / `custom_ids` → `items` (unknown ones left out).
pub(super) fn getinfo(st: &Sb, r: Render, params: &Params) -> Reply {
    if let Some(b) = params.non_empty("buy_id") {
        let found = b.parse::<u64>().ok().and_then(|id| st.purchase_by_buy_id(id));
        return match found {
            Some(p) => {
                let mut body = success(Vec::new());
                body.extend(r.info(p));
                Reply::Ok(body)
            }
            None => Reply::Err(error::OFFER_NOT_FOUND),
        };
    }
    let list = |key: &str| -> Vec<String> {
        params
            .get(key)
            .map(|v| {
                v.values()
                    .iter()
                    .filter_map(|x| x.as_str())
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let buy_ids = list("buy_ids");
    let custom_ids = list("custom_ids");
    let found: Vec<J> = if !buy_ids.is_empty() {
        buy_ids
            .iter()
            .filter_map(|b| b.parse::<u64>().ok())
            .filter_map(|id| st.purchase_by_buy_id(id))
            .map(|p| r.info(p))
            .collect()
    } else if !custom_ids.is_empty() {
        custom_ids.iter().filter_map(|c| st.purchase_by_custom_id(c)).map(|p| r.info(p)).collect()
    } else {
        return Reply::Err(error::MISSING_BUY_ID);
    };
    Reply::Ok(success(vec![("items", J::Arr(found))]))
}

pub(super) fn history(st: &Sb, r: Render, params: &Params) -> Reply {
    let bound = |k: &str| params.non_empty(k).and_then(|s| s.parse::<u64>().ok());
    let (Some(starting), Some(ending)) = (bound("starting"), bound("ending")) else {
        return Reply::Err(error::MISSING_STARTING_OR_ENDING);
    };
    let start_from = params.non_empty("start_from").and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);
    let rows = st.history(starting, ending);
    let total = rows.len();
    let from = start_from.min(total);
    let page: Vec<J> = rows[from..].iter().take(st.history_page).map(|p| r.info(p)).collect();
    let has_more = from + page.len() < total;
    // The cursor of the next page; 0 when there is none (as in the reference's example).
    let next = if has_more { from + page.len() } else { 0 };
    Reply::Ok(success(vec![
        ("total_count", r.int(u64::try_from(total).unwrap_or(u64::MAX))),
        ("has_more", has_more.into()),
        ("start_from", r.int(u64::try_from(next).unwrap_or(u64::MAX))),
        ("items", J::Arr(page)),
    ]))
}

pub(super) fn in_currencies(r: Render, usd: Decimal) -> J {
    J::Obj(
        CURRENCIES
            .iter()
            .map(|(code, _, rate)| {
                let rate: Decimal = rate.parse().unwrap_or(Decimal::ONE);
                (*code, r.num_text(balance_text(usd * rate)))
            })
            .collect(),
    )
}

pub(super) fn balance(st: &Sb, r: Render) -> J {
    success(vec![
        ("balance", r.balance(st.balance().amount())),
        ("balance_in_currencies", in_currencies(r, st.balance().amount())),
        ("deals_sum", r.balance(st.deals_sum())),
        ("deals_sum_in_currencies", in_currencies(r, st.deals_sum())),
        ("withdraw_sum", r.balance(st.withdraw_sum())),
        ("withdraw_sum_in_currencies", in_currencies(r, st.withdraw_sum())),
    ])
}

/// `overrides`: code → rate text that replaces the listed rate (a fault); unlisted codes are added
/// at the end, named by their code.
pub(super) fn currencies(overrides: &BTreeMap<String, String>) -> J {
    let item =
        |code: &str, name: &str, rate: &str| obj([("code", code.into()), ("name", name.into()), ("rate", rate.into())]);
    let mut items: Vec<J> = CURRENCIES
        .iter()
        .map(|(code, name, rate)| item(code, name, overrides.get(*code).map_or(*rate, String::as_str)))
        .collect();
    for (code, rate) in overrides {
        if !CURRENCIES.iter().any(|(c, _, _)| c == code) {
            items.push(item(code, &code.to_uppercase(), rate));
        }
    }
    success(vec![("items", J::Arr(items))])
}

pub(super) fn status(st: &Sb) -> J {
    match &st.faults.unavailable {
        None => success(vec![("available", true.into())]),
        Some(reason) => success(vec![("available", false.into()), ("reason", reason.clone().into())]),
    }
}
