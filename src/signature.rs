//! Request signing (reference §3): HMAC-SHA1 over `key:value;` of every scalar parameter, keys sorted
//! by bytes, arrays and objects left out, `sign` itself left out; lowercase hex.
//!
//! Shared by the client (which signs what it sends) and the sandbox (which signs what it received, after
//! turning it into the strings a PHP server would see) — the algorithm is the spec, the inputs differ.
//! It sits below both, so the test double never depends on the client it tests.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// The exact text that is HMAC-ed, from scalar `(key, value)` pairs in any order.
pub(crate) fn signing_string<'a>(scalars: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = scalars.into_iter().filter(|(k, _)| *k != "sign").collect();
    // PHP ksort on string keys compares bytes; `str::cmp` does the same.
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(k);
        out.push(':');
        out.push_str(v);
        out.push(';');
    }
    out
}

/// `sign` for the given scalar parameters.
pub fn sign<'a>(scalars: impl IntoIterator<Item = (&'a str, &'a str)>, secret: &str) -> String {
    let text = signing_string(scalars);
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time comparison of a received `sign` with the expected one.
pub(crate) fn verify<'a>(scalars: impl IntoIterator<Item = (&'a str, &'a str)>, secret: &str, received: &str) -> bool {
    let text = signing_string(scalars);
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(text.as_bytes());
    match hex::decode(received.trim()) {
        Ok(bytes) => mac.verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

/// The websocket `signature`: lowercase hex md5 of client id followed by the secret (reference §6.1).
pub fn websocket_signature(client_id: &str, secret: &str) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    h.update(client_id.as_bytes());
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

/// The event-webhook `Signature` header: lowercase hex HMAC-SHA256 of the raw body (reference §6.2).
pub(crate) fn webhook_signature(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time check of a webhook `Signature` header.
pub fn verify_webhook(body: &[u8], secret: &str, header: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    match hex::decode(header.trim()) {
        Ok(bytes) => mac.verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    //! The worked examples of reference §3.4, §6.1 and §6.2.
    use super::*;

    const SECRET: &str = "test_secret_123";

    fn check(params: &[(&str, &str)], secret: &str, text: &str, hex: &str) {
        assert_eq!(signing_string(params.iter().copied()), text);
        assert_eq!(sign(params.iter().copied(), secret), hex);
        assert!(verify(params.iter().copied(), secret, hex));
    }

    #[test]
    fn example_1_official_orderstatus() {
        check(
            &[("method", "orderstatus"), ("order_id", "1"), ("shopid", "123")],
            "123",
            "method:orderstatus;order_id:1;shopid:123;",
            "abee99d476c736102c3d6062807761b6e4d31dd8",
        );
    }

    #[test]
    fn example_2_balance() {
        check(
            &[("method", "balance"), ("shopid", "1490")],
            SECRET,
            "method:balance;shopid:1490;",
            "13203227de8d02853c2a05cda5446f93cd11d530",
        );
    }

    #[test]
    fn example_3_pricelist() {
        check(
            &[("method", "market_pricelist"), ("shopid", "1490"), ("game", "cs2")],
            SECRET,
            "game:cs2;method:market_pricelist;shopid:1490;",
            "ac22ba4c0c79ce61203079cc4b836454c9e2a6ea",
        );
    }

    #[test]
    fn example_4_buy_by_name_with_max_price() {
        check(
            &[
                ("method", "market_buy"),
                ("shopid", "1490"),
                ("partner", "123456789"),
                ("token", "AbCd1234"),
                ("name", "AK-47 | Redline (Field-Tested)"),
                ("game", "cs2"),
                ("max_price", "12.50"),
                ("custom_id", "order-42"),
            ],
            SECRET,
            "custom_id:order-42;game:cs2;max_price:12.50;method:market_buy;name:AK-47 | Redline (Field-Tested);partner:123456789;shopid:1490;token:AbCd1234;",
            "743a09157431dc21bec1ef36b65d52047be3a24b",
        );
    }

    #[test]
    fn example_5_buy_by_non_ascii_name() {
        check(
            &[
                ("method", "market_buy"),
                ("shopid", "1490"),
                ("partner", "123456789"),
                ("token", "AbCd1234"),
                ("name", "★ StatTrak™ Karambit | Doppler (Factory New)"),
                ("game", "cs2"),
                ("custom_id", "order-43"),
            ],
            SECRET,
            "custom_id:order-43;game:cs2;method:market_buy;name:★ StatTrak™ Karambit | Doppler (Factory New);partner:123456789;shopid:1490;token:AbCd1234;",
            "9d64eb02faea269814069b80a8b497c228a49a25",
        );
    }

    #[test]
    fn example_6_buy_by_id() {
        check(
            &[
                ("method", "market_buy"),
                ("shopid", "1490"),
                ("partner", "123456789"),
                ("token", "AbCd1234"),
                ("id", "2715"),
                ("max_price", "80"),
                ("custom_id", "order-44"),
            ],
            SECRET,
            "custom_id:order-44;id:2715;max_price:80;method:market_buy;partner:123456789;shopid:1490;token:AbCd1234;",
            "fd519546b7a299f65de851d3ceeedd3f83a0d046",
        );
    }

    #[test]
    fn example_7_getinfo_arrays_are_not_signed() {
        check(
            &[("method", "market_getinfo"), ("shopid", "1490")],
            SECRET,
            "method:market_getinfo;shopid:1490;",
            "50c2855c255ec9a28babfd318ef5ac8c6bc2acf1",
        );
    }

    #[test]
    fn example_8_batch_buy() {
        check(
            &[("method", "market_batch_buy"), ("shopid", "1490"), ("partner", "123456789"), ("token", "AbCd1234")],
            SECRET,
            "method:market_batch_buy;partner:123456789;shopid:1490;token:AbCd1234;",
            "6115685355ef68bb77a4324e8cf70e8246ce9491",
        );
    }

    #[test]
    fn example_9_history() {
        check(
            &[("method", "market_history"), ("shopid", "1490"), ("starting", "1700000000"), ("ending", "1700086400")],
            SECRET,
            "ending:1700086400;method:market_history;shopid:1490;starting:1700000000;",
            "37fdeb38d2731aedc65dfb3321e4403d2f980306",
        );
    }

    #[test]
    fn example_10_history_cursor_sorts_before_starting() {
        check(
            &[
                ("method", "market_history"),
                ("shopid", "1490"),
                ("starting", "1700000000"),
                ("ending", "1700086400"),
                ("start_from", "1000"),
            ],
            SECRET,
            "ending:1700086400;method:market_history;shopid:1490;start_from:1000;starting:1700000000;",
            "ce100120774691110682cce00c3909e990834fb0",
        );
    }

    #[test]
    fn example_11_full_as_one_versus_true() {
        let base = [("method", "market_pricelist"), ("shopid", "1490"), ("game", "cs2")];
        let mut one = base.to_vec();
        one.push(("full", "1"));
        check(
            &one,
            SECRET,
            "full:1;game:cs2;method:market_pricelist;shopid:1490;",
            "939c6444b8d5b75432785491e47e023a317cee6c",
        );
        let mut t = base.to_vec();
        t.push(("full", "true"));
        check(
            &t,
            SECRET,
            "full:true;game:cs2;method:market_pricelist;shopid:1490;",
            "4209cf0c835ba89ef01a75b47979536bef8f2054",
        );
    }

    #[test]
    fn sign_parameter_is_never_signed_and_wrong_signs_fail() {
        let p = [("method", "balance"), ("shopid", "1490"), ("sign", "whatever")];
        assert_eq!(sign(p, SECRET), "13203227de8d02853c2a05cda5446f93cd11d530");
        assert!(!verify(p, SECRET, "13203227de8d02853c2a05cda5446f93cd11d531"));
        assert!(!verify(p, SECRET, "not hex"));
    }

    #[test]
    fn websocket_signature_examples() {
        assert_eq!(websocket_signature("1490", SECRET), "d7efddf49f9cd19a3ac80b2dc4873697");
        assert_eq!(websocket_signature("1", "123"), "2cfd4560539f887a5e420412b370b361");
    }

    #[test]
    fn webhook_signature_example() {
        let body = br#"{"event":"status_change","data":{"item":{"id":"2516"},"buy_id":"65","offer_status":"accepted","error_reason":null,"tradeofferid":"4176876858","custom_id":"123456"}}"#;
        let sig = "4155194dfc18b85a63566557dd754b037f2d1f8f5dc4df059aa791822cf8d2b9";
        assert_eq!(webhook_signature(body, SECRET), sig);
        assert!(verify_webhook(body, SECRET, sig));
    }

    #[test]
    fn deposit_callback_example() {
        let params = [
            ("amount", "10.5"),
            ("amount_currency", "usd"),
            ("date", "1700000000"),
            ("offer_date", "1700000100"),
            ("order_id", "636"),
            ("skins_send_date", "1700000200"),
            ("status", "success"),
            ("steam_id", "76561198000000000"),
            ("transaction_id", "65236"),
            ("user_amount", "9.45"),
        ];
        assert_eq!(sign(params, SECRET), "9b5e7dabb4ef501440bcd2134ce20a33d139abf5");
    }
}
