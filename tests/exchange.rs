//! The typed client against a sandbox: every method, every documented error, the signature, both
//! body encodings, malformed answers, timeouts and the other faults.

use std::time::Duration;

use rust_decimal_macros::dec;
use secrecy::SecretString;
use skinbot::domain::{CustomId, Game, OfferStatus, Usd};
use skinbot::exchange::{AuthMode, BatchItem, BodyEncoding, BuyOrder, BuyTarget, ExchangeError, Rejection};
use skinbot::sandbox::Faults;

use crate::helpers::{client, client_with, link, requests_for, sandbox, sandbox_with, shared_data};

const REDLINE: &str = "AK-47 | Redline (Field-Tested)";

fn cid(s: &str) -> CustomId {
    s.parse().unwrap()
}

fn by_name(name: &str, max: Option<Usd>, custom: &str) -> BuyOrder {
    BuyOrder {
        target: BuyTarget::Name { name: name.into(), game: Game::Cs2 },
        max_price: max,
        custom_id: Some(cid(custom)),
    }
}

#[tokio::test]
async fn the_grouped_price_list_shows_each_names_lowest_price_and_count() {
    let sb = sandbox().await;
    let list = client(&sb).pricelist(Game::Cs2).await.unwrap();
    let listings = sb.listings_named(REDLINE);
    let group = list.items.iter().find(|g| g.name == REDLINE).expect("redline listed");
    assert_eq!(group.count as usize, listings.len());
    assert_eq!(group.price, listings.iter().map(|l| l.1).min().unwrap());
    assert!(list.last_update.is_some());
}

#[tokio::test]
async fn the_full_price_list_has_every_listing_with_its_id() {
    let sb = sandbox().await;
    let full = client(&sb).pricelist_full(Game::Cs2).await.unwrap();
    let mut ids: Vec<_> = full.items.iter().filter(|l| l.name == REDLINE).map(|l| (l.id, l.price)).collect();
    let mut expected = sb.listings_named(REDLINE);
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn search_finds_listings_by_one_name_or_several() {
    let sb = sandbox().await;
    let c = client(&sb);
    let one = c.search(Game::Cs2, &[REDLINE]).await.unwrap();
    assert!(!one.is_empty() && one.iter().any(|l| l.name == REDLINE));
    let two = c.search(Game::Cs2, &[REDLINE, "AWP | Atheris (Field-Tested)"]).await.unwrap();
    assert!(two.iter().any(|l| l.name == "AWP | Atheris (Field-Tested)"));
    let e = c.search(Game::Cs2, &["AK"]).await.unwrap_err();
    assert_eq!(e.rejection(), Some(&Rejection::NameMinLength3), "{e}");
    let e = c.search(Game::Cs2, &[]).await.unwrap_err();
    assert_eq!(e.rejection(), Some(&Rejection::NameOrNamesRequired), "{e}");
}

#[tokio::test]
async fn buying_by_name_debits_the_balance_and_removes_the_listing() {
    let sb = sandbox().await;
    let c = client(&sb);
    let before = sb.balance();
    let cheapest = sb.listings_named(REDLINE).into_iter().min_by_key(|l| l.1).unwrap();
    let p = c.buy(&link(), &by_name(REDLINE, Some(Usd::new(dec!(100))), "t-1")).await.unwrap();
    assert_eq!((p.item.id, p.item.price), cheapest);
    assert_eq!(p.balance_debited_sum, cheapest.1);
    assert_eq!(p.offer_status, OfferStatus::CreatingTrade);
    assert_eq!(p.custom_id.as_deref(), Some("t-1"));
    assert_eq!(sb.balance(), before.checked_sub(cheapest.1).unwrap());
    assert!(!sb.listings_named(REDLINE).contains(&cheapest));
    assert_eq!(c.balance().await.unwrap().balance, sb.balance());
}

#[tokio::test]
async fn each_documented_buy_error_comes_back_as_its_own_rejection() {
    let sb = sandbox().await;
    let c = client(&sb);
    let e = c.buy(&link(), &by_name(REDLINE, Some(Usd::new(dec!(0.01))), "t-6")).await.unwrap_err();
    assert_eq!(e.rejection(), Some(&Rejection::SkinsNotFoundAtSpecifiedPrice), "{e}");
    let unknown = BuyOrder {
        target: BuyTarget::Id(skinbot::domain::ItemId::new(999_999_999)),
        max_price: None,
        custom_id: Some(cid("t-5")),
    };
    assert_eq!(c.buy(&link(), &unknown).await.unwrap_err().rejection(), Some(&Rejection::SkinUnavailable));
    let e = c.buy(&link(), &by_name("AK", None, "t-2")).await.unwrap_err();
    assert_eq!(e.rejection(), Some(&Rejection::NameMinLength3), "{e}");
    sb.set_balance(Usd::new(dec!(1.00)));
    let e = c.buy(&link(), &by_name(REDLINE, None, "t-4")).await.unwrap_err();
    assert_eq!(e.rejection(), Some(&Rejection::InsufficientFunds), "{e}");
    assert!(matches!(e, ExchangeError::Rejected { code: 4, .. }));
}

#[tokio::test]
async fn a_custom_id_can_be_used_once_across_buy_and_batch_buy() {
    let sb = sandbox().await;
    let c = client(&sb);
    c.buy(&link(), &by_name(REDLINE, None, "dup-1")).await.unwrap();
    let e = c.buy(&link(), &by_name(REDLINE, None, "dup-1")).await.unwrap_err();
    assert_eq!(e.rejection(), Some(&Rejection::CustomIdAlreadyExists));
    let id = sb.listings_named(REDLINE)[0].0;
    let r = c.batch_buy(&link(), &[BatchItem { id, max_price: None, custom_id: Some(cid("dup-1")) }]).await.unwrap();
    assert!(r.purchased.is_empty());
    assert_eq!(r.unavailable[0].reason(), Rejection::CustomIdAlreadyExists);
}

#[tokio::test]
async fn a_batch_buys_what_it_can_and_says_why_not_for_the_rest() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut redlines = sb.listings_named(REDLINE);
    redlines.sort_by_key(|l| l.1);
    let (a, b) = (redlines[0], redlines[1]);
    let items = [
        BatchItem { id: a.0, max_price: Some(a.1), custom_id: Some(cid("b-1")) },
        BatchItem { id: b.0, max_price: Some(Usd::new(dec!(0.01))), custom_id: Some(cid("b-2")) },
        BatchItem { id: skinbot::domain::ItemId::new(987_654_321), max_price: None, custom_id: Some(cid("b-3")) },
    ];
    let r = c.batch_buy(&link(), &items).await.unwrap();
    assert_eq!(r.purchased.len(), 1);
    assert_eq!(r.purchased[0].custom_id.as_deref(), Some("b-1"));
    let reasons: Vec<_> = r.unavailable.iter().map(|u| (u.custom_id.clone().unwrap(), u.reason())).collect();
    assert_eq!(
        reasons,
        vec![
            ("b-2".to_string(), Rejection::SkinsNotFoundAtSpecifiedPrice),
            ("b-3".to_string(), Rejection::SkinUnavailable)
        ]
    );
}

#[tokio::test]
async fn getinfo_answers_by_buy_id_by_buy_ids_and_by_custom_ids() {
    let sb = sandbox().await;
    let c = client(&sb);
    let p = c.buy(&link(), &by_name(REDLINE, None, "g-1")).await.unwrap();
    let one = c.getinfo(p.buy_id).await.unwrap();
    assert_eq!((one.buy_id, one.custom_id.as_deref()), (p.buy_id, Some("g-1")));
    assert_eq!(c.getinfo_buy_ids(&[p.buy_id]).await.unwrap()[0].buy_id, p.buy_id);
    let by_custom = c.getinfo_custom_ids(&[cid("g-1"), cid("never-used")]).await.unwrap();
    assert_eq!(by_custom.len(), 1, "unknown custom ids are absent");
    let e = c.getinfo(skinbot::domain::BuyId::new(424_242)).await.unwrap_err();
    assert_eq!(e.rejection(), Some(&Rejection::OfferNotFound), "{e}");
}

#[tokio::test]
async fn offers_resolve_as_the_sandbox_clock_advances() {
    let sb = sandbox_with(|c| c.offers = skinbot::sandbox::OfferConfig::always_accept()).await;
    let c = client(&sb);
    let p = c.buy(&link(), &by_name(REDLINE, None, "o-1")).await.unwrap();
    sb.advance(Duration::from_secs(3600));
    let info = c.getinfo(p.buy_id).await.unwrap();
    assert_eq!(info.offer_status, OfferStatus::Accepted);
    assert!(info.tradeofferid.is_some());
}

#[tokio::test]
async fn history_comes_in_pages_that_history_all_walks_to_the_end() {
    let sb = sandbox_with(|c| c.history_page = 3).await;
    let c = client(&sb);
    let start = sb.now_unix();
    for i in 0..7 {
        c.buy(&link(), &by_name("Revolution Case", None, &format!("h-{i}"))).await.unwrap();
    }
    let end = start + 10;
    let first = c.history(start, end, None).await.unwrap();
    assert_eq!((first.total_count, first.items.len(), first.has_more), (7, 3, true));
    let all = c.history_all(start, end).await.unwrap();
    let mut seen: Vec<_> = all.iter().filter_map(|p| p.custom_id.clone()).collect();
    seen.sort();
    assert_eq!(seen, (0..7).map(|i| format!("h-{i}")).collect::<Vec<_>>());
    assert_eq!(requests_for(&sb, "market_history"), 1 + 3);
}

#[tokio::test]
async fn currencies_and_status_parse() {
    let sb = sandbox().await;
    let c = client(&sb);
    let rates = skinbot::exchange::wire::rates_from(&c.currencies().await.unwrap()).unwrap();
    assert!(rates.get(&"eur".parse().unwrap()).is_some());
    assert!(c.status().await.unwrap().available);
    sb.set_faults(Faults { unavailable: Some("no_bots".into()), ..Faults::none() });
    let s = c.status().await.unwrap();
    assert_eq!((s.available, s.reason.as_deref()), (false, Some("no_bots")));
}

#[tokio::test]
async fn a_wrong_secret_or_shop_id_is_fatal() {
    let sb = sandbox().await;
    let e = client_with(&sb, |c| c.secret = SecretString::from("wrong".to_string())).balance().await.unwrap_err();
    assert!(matches!(e, ExchangeError::Fatal { code: -3, .. }), "{e}");
    let e = client_with(&sb, |c| c.client_id = "999".into()).balance().await.unwrap_err();
    assert!(matches!(e, ExchangeError::Fatal { code: -2, .. }), "{e}");
    assert!(!e.to_string().contains(sb.secret()));
}

#[tokio::test]
async fn form_bodies_and_header_auth_work_for_every_kind_of_parameter() {
    let sb = sandbox().await;
    for (encoding, auth) in [
        (BodyEncoding::Form, AuthMode::Signature),
        (BodyEncoding::Json, AuthMode::Headers),
        (BodyEncoding::Form, AuthMode::Headers),
    ] {
        let c = client_with(&sb, |c| {
            c.encoding = encoding;
            c.auth = auth;
        });
        let tag = format!("{encoding:?}-{auth:?}").to_lowercase();
        sb.set_balance(Usd::new(dec!(10000)));
        // A name with ★ and ™: signed as UTF-8, percent-encoded in forms.
        let knife = "★ StatTrak™ Karambit | Doppler (Factory New)";
        sb.add_listing(knife, Game::Cs2, Usd::new(dec!(1500)));
        let p = c.buy(&link(), &by_name(knife, None, &format!("{tag}-1"))).await.unwrap();
        let id = sb.listings_named(REDLINE)[0].0;
        let b = c
            .batch_buy(
                &link(),
                &[BatchItem { id, max_price: Some(Usd::new(dec!(500))), custom_id: Some(cid(&format!("{tag}-2"))) }],
            )
            .await
            .unwrap();
        assert_eq!(b.purchased.len(), 1, "{tag}");
        let infos = c.getinfo_custom_ids(&[cid(&format!("{tag}-1")), cid(&format!("{tag}-2"))]).await.unwrap();
        assert_eq!(infos.len(), 2, "{tag}");
        assert_eq!(c.getinfo_buy_ids(&[p.buy_id]).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn numbers_sent_as_json_numbers_parse_the_same() {
    let sb = sandbox_with(|c| c.numbers_as_json = true).await;
    let c = client(&sb);
    let p = c.buy(&link(), &by_name(REDLINE, None, "n-1")).await.unwrap();
    assert_eq!(c.getinfo(p.buy_id).await.unwrap().balance_debited_sum, Some(p.balance_debited_sum));
    assert!(c.pricelist(Game::Cs2).await.unwrap().items.iter().all(|g| g.count > 0));
}

#[tokio::test]
async fn a_malformed_answer_is_an_error_naming_the_field() {
    let sb = sandbox().await;
    sb.set_faults(Faults { malformed_rate: 1.0, only_methods: vec!["balance".into()], ..Faults::none() });
    let e = client(&sb).balance().await.unwrap_err();
    match e {
        ExchangeError::Malformed { method, field, .. } => assert_eq!((method, field.as_str()), ("balance", "balance")),
        other => panic!("expected Malformed, got {other}"),
    }
}

#[tokio::test]
async fn a_request_that_hangs_past_the_timeout_has_an_unknown_outcome() {
    let sb = sandbox().await;
    sb.set_faults(Faults { hang_rate: 1.0, hang_for: Duration::from_secs(5), ..Faults::none() });
    let c = client_with(&sb, |c| c.timeout = Duration::from_millis(300));
    let e = c.buy(&link(), &by_name(REDLINE, None, "hang-1")).await.unwrap_err();
    assert!(matches!(e, ExchangeError::OutcomeUnknown { timed_out: true, .. }), "{e}");
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn a_connection_dropped_after_the_buy_is_unknown_and_getinfo_resolves_it() {
    let sb = sandbox().await;
    sb.set_faults(Faults { drop_after_commit_rate: 1.0, ..Faults::none() });
    let c = client(&sb);
    let e = c.buy(&link(), &by_name(REDLINE, None, "drop-1")).await.unwrap_err();
    assert!(matches!(e, ExchangeError::OutcomeUnknown { .. }), "{e}");
    sb.set_faults(Faults::none());
    let found = c.getinfo_custom_ids(&[cid("drop-1")]).await.unwrap();
    assert_eq!(found.len(), 1, "the purchase happened although the client never heard");
}

#[tokio::test]
async fn server_errors_rate_limits_and_a_disabled_market_each_have_their_own_error() {
    let sb = sandbox().await;
    let c = client(&sb);
    sb.set_faults(Faults { http_error_rate: 1.0, ..Faults::none() });
    assert!(matches!(c.balance().await.unwrap_err(), ExchangeError::OutcomeUnknown { .. }));
    sb.set_faults(Faults { market_disabled: true, ..Faults::none() });
    assert_eq!(c.pricelist(Game::Cs2).await.unwrap_err().rejection(), Some(&Rejection::MarketDisabled));
    sb.set_faults(Faults { shop_inactive: true, ..Faults::none() });
    assert!(matches!(c.balance().await.unwrap_err(), ExchangeError::Fatal { code: -4, .. }));
    sb.set_faults(Faults {
        rate_limit: Some(skinbot::sandbox::RateLimit { per_minute: 3, ..Default::default() }),
        ..Faults::none()
    });
    let mut limited = false;
    for _ in 0..5 {
        if let Err(ExchangeError::RateLimited { .. }) = c.balance().await {
            limited = true;
        }
    }
    assert!(limited);
}

#[tokio::test]
async fn nothing_is_sent_when_the_server_is_not_there() {
    let sb = sandbox().await;
    let url = sb.api_url();
    sb.shutdown().await;
    let cfg = skinbot::exchange::ClientConfig::new(url, "1490", SecretString::from("x".to_string()));
    let e = skinbot::exchange::Client::new(cfg).unwrap().balance().await.unwrap_err();
    assert!(matches!(e, ExchangeError::NotSent { .. }), "{e}");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn real_cs2_names_travel_through_search_and_buy_unchanged() {
    let Some(path) = shared_data("cs2-market-names.txt") else { return };
    let text = std::fs::read_to_string(path).unwrap();
    // Every 97th name: stars, trademarks, commas and parentheses all appear in the sample.
    let names: Vec<&str> = text.lines().step_by(97).collect();
    let sb =
        sandbox_with(|c| c.catalog = skinbot::sandbox::Catalog::from_names(names.iter().copied(), Game::Cs2)).await;
    let c = client_with(&sb, |c| c.encoding = BodyEncoding::Form);
    for (i, name) in names.iter().enumerate().take(60) {
        let found = c.search(Game::Cs2, &[name]).await.unwrap();
        assert!(found.iter().any(|l| l.name == *name), "search {name}");
        sb.set_balance(Usd::new(dec!(100000)));
        let p = c.buy(&link(), &by_name(name, None, &format!("real-{i}"))).await.unwrap();
        assert_eq!(p.item.name, *name);
    }
}
