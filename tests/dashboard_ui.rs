//! The dashboard against a bot trading on the sandbox: over HTTP (token, cookie, 401, CSRF) and in
//! Debian's headless Chromium driven through chromedriver (WebDriver). The browser test needs
//! `/usr/bin/chromium` and `/usr/bin/chromedriver` (`apt-get install chromium chromium-driver`,
//! done by `.ci/run`): without them it fails under CI and is skipped with a message elsewhere.
//! Screenshots of each section go to `<target>/ui-screenshots/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use rust_decimal::Decimal;
use skinbot::dashboard::{self, Dashboard, Source};
use skinbot::domain::{Game, PurchaseState, Usd};
use skinbot::engine::Engine;
use skinbot::ledger::remote::Token;
use skinbot::sandbox::{OfferConfig, Sandbox};
use tokio::sync::watch;

use crate::engine::{buy_requests, engine_for, example, strategy};
use crate::helpers::{requests_for, sandbox_with};

const SCRIPT_NAME: &str = "<script>alert(1)</script>";
const LIVE_NAME: &str = "Dashboard Live Case";
const AFTER_HALT_NAME: &str = "Dashboard After Halt Case";

/// A bot on the sandbox with the shopping list and a strategy for the test's own items, after one
/// tick (the four shopping-list items and the `<script>` item bought), and its dashboard.
struct Bot {
    sb: Sandbox,
    engine: Arc<Engine>,
    dashboard: Dashboard,
    _stop: watch::Sender<bool>,
}

async fn bot() -> Bot {
    bot_with(false).await
}

async fn bot_with(allow_remote: bool) -> Bot {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    sb.add_listing(SCRIPT_NAME, Game::Cs2, Usd::parse("1.00").unwrap());
    let mut strategies = example("shopping-list.toml");
    strategies.extend(strategy(&format!(
        "name = \"dash-test\"\n[[rules]]\nname = \"watched\"\nselect = {{ names = [{:?}, {:?}, {:?}] }}\nmax_price = \"5 usd\"\nper_item_total = 1\n",
        SCRIPT_NAME, LIVE_NAME, AFTER_HALT_NAME
    )));
    let engine = engine_for(&sb, "", strategies);
    engine.tick().await;
    let (stop, rx) = watch::channel(false);
    let source =
        Source { ledger: engine.ledger().clone(), engine: Some(Arc::clone(&engine)), state_dir: None, config: None };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dashboard = dashboard::serve(listener, Token::random(), source, rx, allow_remote).await.unwrap();
    Bot { sb, engine, dashboard, _stop: stop }
}

impl Bot {
    fn base(&self) -> String {
        format!("http://{}", self.dashboard.addr())
    }

    fn count(&self) -> usize {
        self.engine.ledger().list().unwrap().len()
    }
}

/// Polls `check` until it gives a value, for at most 20 s.
async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_token_every_page_is_401_and_the_token_becomes_a_cookie() {
    let bot = bot().await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for path in ["/", "/frag/now", "/frag/purchases", "/frag/spend", "/frag/item", "/events", "/assets/dashboard.js"] {
        let resp = http.get(format!("{}{path}", bot.base())).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path}");
    }
    let resp = http.get(format!("{}/?token=wrong", bot.base())).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = http.post(format!("{}/halt", bot.base())).form(&[("reason", "x")]).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    let resp = http.get(bot.dashboard.url_with_token()).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    let port = bot.dashboard.addr().port();
    assert!(cookie.starts_with(&format!("skinbot_dashboard_{port}=")), "named after the port: {cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP on loopback: {cookie}");
    let token = bot.dashboard.url_with_token().rsplit('=').next().unwrap().to_string();
    assert!(!cookie.contains(&token), "the cookie holds a value derived from the token, not the token");
    let session = cookie.split(';').next().unwrap().to_string();

    let page = http.get(format!("{}/", bot.base())).header("cookie", &session).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    let html = page.text().await.unwrap();
    // The item name is text, never markup.
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "escaped name missing");
    assert!(!html.contains(SCRIPT_NAME), "the raw <script> name reached the page");
    let csrf = html.split("name=\"csrf\" content=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    // A decoy cookie of the same name set first (by another service on 127.0.0.1) does not lock
    // the dashboard out; the decoy alone is refused, and so is the session under another port's name.
    let status = |cookie: String| {
        let req = http.get(format!("{}/frag/now", bot.base())).header("cookie", cookie);
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(status(format!("skinbot_dashboard_{port}=decoy; {session}")).await, 200);
    assert_eq!(status(format!("{session}; skinbot_dashboard_{port}=decoy")).await, 200);
    assert_eq!(status(format!("skinbot_dashboard_{port}=decoy")).await, 401);
    let value = session.split_once('=').unwrap().1;
    assert_eq!(status(format!("skinbot_dashboard_{}={value}", port.wrapping_add(1))).await, 401);

    // A POST with the cookie but from another site, or without the page's CSRF token, is refused.
    let halt = |origin: Option<&str>, csrf: &str| {
        let mut req = http
            .post(format!("{}/halt", bot.base()))
            .header("cookie", &session)
            .form(&[("reason", "forged"), ("csrf", csrf)]);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    assert_eq!(halt(Some("http://evil.example"), &csrf).await.unwrap().status(), 403);
    assert_eq!(halt(Some(&format!("http://127.0.0.1:{}", port.wrapping_add(1))), &csrf).await.unwrap().status(), 403);
    // The dashboard's other loopback names are its own.
    assert_eq!(halt(Some(&format!("http://localhost:{port}")), "0000").await.unwrap().status(), 403, "still the CSRF");
    assert_eq!(halt(None, "").await.unwrap().status(), 403);
    assert_eq!(halt(None, "0000").await.unwrap().status(), 403);
    assert_eq!(bot.engine.ledger().current_halt().unwrap(), None);
    // The page's own form, from the page's origin, halts.
    let ok = halt(Some(&bot.base()), &csrf).await.unwrap();
    assert_eq!(ok.status(), 303);
    let h = bot.engine.ledger().current_halt().unwrap().expect("halted");
    assert_eq!((h.by.as_str(), h.reason.as_str()), ("dashboard", "forged"));
}

/// Only a request for 127.0.0.1, localhost or [::1] with the dashboard's port is served: a page
/// on a name that resolves to 127.0.0.1 (DNS rebinding) gets 421, even with the token. With
/// `allow_remote` (behind a TLS proxy) any name is served and the cookie is `Secure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_another_host_is_refused() {
    let bot = bot().await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let port = bot.dashboard.addr().port();
    let url = bot.dashboard.url_with_token();
    let with_host = |host: String| {
        let req = http.get(&url).header("host", host);
        async move { req.send().await.unwrap().status() }
    };
    for forged in
        ["evil.example".to_string(), format!("evil.example:{port}"), format!("127.0.0.1:{}", port.wrapping_add(1))]
    {
        assert_eq!(with_host(forged.clone()).await, 421, "{forged}");
    }
    for own in
        [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("LOCALHOST:{port}"), format!("[::1]:{port}")]
    {
        assert_eq!(with_host(own.clone()).await, 303, "{own}");
    }
    let token = url.rsplit('=').next().unwrap().to_string();
    let forged = http
        .post(format!("{}/halt", bot.base()))
        .header("host", "evil.example")
        .header("x-skinbot-token", &token)
        .form(&[("reason", "rebound")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 421);
    assert_eq!(bot.engine.ledger().current_halt().unwrap(), None);

    let remote = bot_with(true).await;
    let resp = http.get(remote.dashboard.url_with_token()).header("host", "skinbot.example.org").send().await.unwrap();
    assert_eq!(resp.status(), 303);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

/// Each open live feed holds a connection: beyond 16 at once the dashboard answers 503, so a
/// browser's few connections per host are never all held by feeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_feeds_are_capped_so_a_connection_stays_free() {
    let bot = bot().await;
    let http = reqwest::Client::new();
    let token = bot.dashboard.url_with_token().rsplit('=').next().unwrap().to_string();
    let feed = || http.get(format!("{}/events", bot.base())).header("x-skinbot-token", &token).send();
    let mut open = Vec::new();
    for _ in 0..16 {
        let resp = feed().await.unwrap();
        assert_eq!(resp.status(), 200);
        open.push(resp);
    }
    let refused = feed().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.text().await.unwrap().contains("live feeds are open already"));
    // The page and its POSTs still answer.
    let page = http.get(format!("{}/frag/now", bot.base())).header("x-skinbot-token", &token).send().await.unwrap();
    assert_eq!(page.status(), 200);
    // A closed feed frees its place.
    drop(open.pop());
    until("a feed's place to be freed", || async { (feed().await.unwrap().status() == 200).then_some(()) }).await;
}

/// chromedriver on a free port, and a headless Chromium session with a fresh profile; `None` (the
/// test is skipped) when Debian's chromium-driver is not installed, except under CI.
async fn browser() -> Option<(tokio::process::Child, Client, tempfile::TempDir)> {
    let driver = Path::new("/usr/bin/chromedriver");
    if !driver.exists() || !Path::new("/usr/bin/chromium").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)"
        );
        eprintln!("skipped: the browser test needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = tokio::process::Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    until("chromedriver to listen", || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok().map(|_| ())
    })
    .await;
    let profile = tempfile::tempdir().unwrap();
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let serde_json::Value::Object(caps) = caps else { unreachable!() };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    Some((child, client, profile))
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn attr(c: &Client, css: &str, name: &str) -> Option<String> {
    c.find(Locator::Css(css)).await.ok()?.attr(name).await.ok().flatten()
}

async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.map(|v| v.len()).unwrap_or(0)
}

async fn text(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Clicks `el` as a person would: scrolled to the middle of the window first (the sticky header
/// would take a click at the top edge).
async fn click(c: &Client, el: fantoccini::elements::Element) {
    let arg = serde_json::to_value(&el).unwrap();
    c.execute("arguments[0].scrollIntoView({block: 'center'}); return null;", vec![arg]).await.unwrap();
    el.click().await.unwrap();
}

async fn click_css(c: &Client, css: &str) {
    click(c, c.find(Locator::Css(css)).await.unwrap()).await
}

async fn shoot(c: &Client, section: &str, dir: &Path) {
    let el = c.find(Locator::Css(&format!("#{section}-section"))).await.unwrap();
    let png = el.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{section}.png")), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_chromium_shows_the_ledger_live_and_halts_the_bot() {
    let Some((_driver, c, _profile)) = browser().await else { return };
    let result = in_browser(&c).await;
    let _ = c.close().await;
    result
}

async fn in_browser(c: &Client) {
    let bot = bot().await;
    let shots = screenshots();
    assert_eq!(bot.count(), 5, "four shopping-list items and the <script> one");

    // No token: 401, and nothing of the ledger.
    c.goto(&format!("{}/", bot.base())).await.unwrap();
    // Chromium fills a text/plain page's <pre> as the body arrives: wait for it, not for `goto`.
    let source = until("the 401 page", || async {
        c.source().await.ok().filter(|s| s.contains("401 Unauthorized") || s.contains("purchase-table"))
    })
    .await;
    assert!(source.contains("401 Unauthorized") && !source.contains("purchase-table"), "{source}");

    // The printed URL: the token becomes a cookie and leaves the address bar.
    c.goto(&bot.dashboard.url_with_token()).await.unwrap();
    until("the page", || async { attr(c, "#purchase-count", "data-count").await }).await;
    assert_eq!(c.current_url().await.unwrap().as_str(), format!("{}/", bot.base()));

    // The table shows exactly the ledger's purchases.
    assert_eq!(attr(c, "#purchase-count", "data-count").await.unwrap(), bot.count().to_string());
    assert_eq!(count(c, "#purchase-table tbody tr").await, bot.count());

    // The <script> name is shown as text, and nothing ran.
    let names: Vec<String> = {
        let mut v = Vec::new();
        for e in c.find_all(Locator::Css("#purchase-table td.item")).await.unwrap() {
            v.push(e.text().await.unwrap());
        }
        v
    };
    assert!(names.iter().any(|n| n == SCRIPT_NAME), "{names:?}");
    assert!(c.get_alert_text().await.is_err(), "an alert is open: the name ran as script");

    // A filter narrows the table to what the same filter finds in the ledger.
    let expected = bot.engine.ledger().list().unwrap().iter().filter(|r| r.intent.strategy == "dash-test").count();
    assert!(expected > 0 && expected < bot.count());
    c.find(Locator::Css("#purchase-filters input[name=strategy]")).await.unwrap().send_keys("dash-test").await.unwrap();
    click_css(c, "#purchase-filters button").await;
    until("the filtered table", || async {
        (attr(c, "#purchase-count", "data-count").await == Some(expected.to_string())).then_some(())
    })
    .await;
    assert_eq!(count(c, "#purchase-table tbody tr").await, expected);
    // A row opens the purchase's history.
    click_css(c, "#purchase-table tbody tr td").await;
    until("the purchase history", || async {
        (count(c, "#purchase-detail ol.transitions li").await >= 2).then_some(())
    })
    .await;
    shoot(c, "purchases", &shots).await;
    click_css(c, "#purchase-filters a").await;
    until("the whole table again", || async {
        (attr(c, "#purchase-count", "data-count").await == Some(bot.count().to_string())).then_some(())
    })
    .await;

    // The spend chart adds up to what the ledger debited, under the daily budget line.
    let spent: Decimal = bot
        .engine
        .ledger()
        .list()
        .unwrap()
        .iter()
        .filter_map(|r| match &r.state {
            PurchaseState::Bought { debited, .. } => Some(debited.amount()),
            _ => None,
        })
        .sum();
    assert!(spent > Decimal::ZERO);
    let mut drawn = Decimal::ZERO;
    for bar in c.find_all(Locator::Css("#spend-chart rect.bar")).await.unwrap() {
        drawn += bar.attr("data-value").await.unwrap().unwrap().parse::<Decimal>().unwrap();
    }
    assert_eq!(drawn, spent, "the bars of the spend chart");
    assert_eq!(count(c, "#spend-chart path.limit").await, 1, "the daily budget line");
    assert!(count(c, "#outcome-chart rect.bar").await > 0);
    shoot(c, "spend", &shots).await;

    // The item chart of the <script> item: its recorded prices as a line, its purchase as a point.
    click(c, c.find(Locator::XPath(&format!("//td[@class='item']/a[text()={SCRIPT_NAME:?}]"))).await.unwrap()).await;
    until("the item chart", || async { text(c, "#item-title").await.contains(SCRIPT_NAME).then_some(()) }).await;
    let d = attr(c, "#item-chart path.price", "d").await.expect("a price line");
    assert!(d.starts_with('M') && d.contains('H'), "{d}");
    assert_eq!(count(c, "#item-chart circle.purchase").await, 1);
    // The limit of the one rule that selects it (`dash-test/watched`, max_price 5 USD): a line
    // across the chart at 5 USD on the value axis, named in the legend.
    assert_eq!(count(c, "#item-chart path.limit").await, 1);
    assert_eq!(attr(c, "#item-chart path.limit", "data-rule").await.as_deref(), Some("dash-test/watched"));
    let last: Decimal = attr(c, "#item-chart path.limit", "data-last").await.unwrap().parse().unwrap();
    assert_eq!(last, Decimal::from(5));
    let d = attr(c, "#item-chart path.limit", "d").await.expect("a limit line");
    let (x0, rest) = d.strip_prefix('M').and_then(|m| m.split_once(',')).expect("a line from a point");
    let (y, x1) = rest.split_once('H').expect("a horizontal line");
    let (x0, y, x1): (f64, f64, f64) = (x0.parse().unwrap(), y.parse().unwrap(), x1.parse().unwrap());
    assert!(x1 - x0 > 600.0, "across the chart: {d}");
    let mut grid = Vec::new();
    for line in c.find_all(Locator::Css("#item-chart line.grid")).await.unwrap() {
        let value: f64 = line.attr("data-value").await.unwrap().unwrap().parse().unwrap();
        let at: f64 = line.attr("y1").await.unwrap().unwrap().parse().unwrap();
        grid.push((value, at));
    }
    let ((v0, y0), (v1, y1)) = (grid[0], grid[grid.len() - 1]);
    let expected = y0 + (5.0 - v0) * (y1 - y0) / (v1 - v0);
    assert!((y - expected).abs() < 0.5, "the limit line at y {y}, 5 USD is at y {expected} ({grid:?})");
    assert!(text(c, "#item-section .legend").await.contains("limit of dash-test/watched: max_price 5.00 USD"));
    shoot(c, "item", &shots).await;

    // A new purchase appears without a reload.
    c.execute("window.__same_page = 42; return null;", vec![]).await.unwrap();
    until("the live feed", || async { (attr(c, "body", "data-live").await.as_deref() == Some("open")).then_some(()) })
        .await;
    bot.sb.add_listing(LIVE_NAME, Game::Cs2, Usd::parse("1.00").unwrap());
    bot.engine.tick().await;
    assert_eq!(bot.count(), 6, "the bot bought the new listing");
    until("the new purchase on the page", || async {
        (attr(c, "#purchase-count", "data-count").await == Some("6".into())).then_some(())
    })
    .await;
    assert!(text(c, "#purchase-table").await.contains(LIVE_NAME));
    let same = c.execute("return window.__same_page;", vec![]).await.unwrap();
    assert_eq!(same, serde_json::json!(42), "the page was reloaded");

    // Only an HTML fragment becomes markup: an error or another type is shown as text.
    for (href, shown) in
        [("/frag/purchase/sb-19990101T000000Z-000001", "404 Not Found"), ("/assets/dashboard.js", "text/javascript")]
    {
        let js = format!(
            "const a = document.createElement('a'); a.id = 'probe'; a.dataset.target = 'detail'; a.href = '{href}'; \
             a.textContent = 'probe'; document.body.appendChild(a); return null;"
        );
        c.execute(&js, vec![]).await.unwrap();
        click_css(c, "#probe").await;
        until("the answer as text", || async { text(c, "#detail").await.contains(shown).then_some(()) }).await;
        assert_eq!(count(c, "#detail *").await, 0, "{href}: no markup inserted");
        c.execute("document.getElementById('probe').remove(); return null;", vec![]).await.unwrap();
    }

    // A hidden tab gives its live feed's connection back (a browser has 6 per host and port across
    // tabs); shown again, it reopens the feed and loads every section.
    let visibility = |state: &str| {
        format!(
            "Object.defineProperty(document, 'visibilityState', {{ value: '{state}', configurable: true }}); \
             document.dispatchEvent(new Event('visibilitychange')); return null;"
        )
    };
    c.execute(&visibility("hidden"), vec![]).await.unwrap();
    assert_eq!(attr(c, "body", "data-live").await.as_deref(), Some("closed"));
    assert!(text(c, "#live").await.contains("hidden"));
    let loads: u64 = attr(c, "body", "data-loads").await.unwrap_or_default().parse().unwrap_or(0);
    c.execute(&visibility("visible"), vec![]).await.unwrap();
    until("the live feed again, and every section loaded", || async {
        let now: u64 = attr(c, "body", "data-loads").await.unwrap_or_default().parse().unwrap_or(0);
        (attr(c, "body", "data-live").await.as_deref() == Some("open") && now >= loads + 4).then_some(())
    })
    .await;

    // Halt from the page: the next tick fetches prices but sends no order.
    c.find(Locator::Css("#halt-reason")).await.unwrap().send_keys("checking from the browser").await.unwrap();
    // A tick refreshes Now while the reason is being typed: the text stays.
    let loads = attr(c, "body", "data-loads").await.unwrap_or_default();
    bot.engine.tick().await;
    until("Now to be refreshed by the tick", || async {
        (attr(c, "body", "data-loads").await.unwrap_or_default() != loads).then_some(())
    })
    .await;
    let typed = c.find(Locator::Css("#halt-reason")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(typed.as_deref(), Some("checking from the browser"));
    click_css(c, "#halt-form button").await;
    until("the halt on the page", || async { text(c, "#buying").await.contains("HALTED").then_some(()) }).await;
    let h = bot.engine.ledger().current_halt().unwrap().expect("halted in the ledger");
    assert_eq!((h.by.as_str(), h.reason.as_str()), ("dashboard", "checking from the browser"));
    shoot(c, "now", &shots).await;
    let full = c.screenshot().await.unwrap();
    std::fs::write(shots.join("dashboard.png"), full).unwrap();
    let (buys, lists) = (buy_requests(&bot.sb), requests_for(&bot.sb, "market_pricelist"));
    bot.sb.add_listing(AFTER_HALT_NAME, Game::Cs2, Usd::parse("1.00").unwrap());
    bot.engine.tick().await;
    assert!(requests_for(&bot.sb, "market_pricelist") > lists, "the engine kept ticking");
    assert_eq!(buy_requests(&bot.sb), buys, "no order left after the halt");
    assert!(bot.engine.ledger().list().unwrap().iter().all(|r| r.intent.name != AFTER_HALT_NAME));

    // Resume from the page, then a page on another origin posts a halt to the dashboard: the
    // browser sends the cookie (same site), the dashboard refuses it.
    click_css(c, "#resume-form button").await;
    until("the resume", || async { (text(c, "#buying").await == "on").then_some(()) }).await;
    let attacker = attacker_page(&bot.base()).await;
    c.goto(&attacker).await.unwrap();
    until("the forged post's answer", || async {
        c.source().await.ok().filter(|s| s.contains("403 Forbidden")).map(|_| ())
    })
    .await;
    assert_eq!(bot.engine.ledger().current_halt().unwrap(), None, "a cross-site POST halted the bot");
}

/// A page on another port (another origin, the same site) that posts a halt form to `target` as
/// soon as it loads.
async fn attacker_page(target: &str) -> String {
    let html = format!(
        "<!doctype html><form id=f method=post action=\"{target}/halt\"><input name=reason value=forged>\
         <input name=csrf value=guess></form><script>document.getElementById('f').submit()</script>"
    );
    let app = axum::Router::new().route("/", axum::routing::get(move || async move { axum::response::Html(html) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/")
}

/// `skinbot dashboard` on a ledger whose bot is not running: it prints its URL, asks for the token,
/// shows the ledger, lets `skinbot ledger` read through it, and a second one names the first's URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skinbot_dashboard_serves_a_ledger_whose_bot_is_not_running() {
    use tokio::io::AsyncBufReadExt;
    let state = tempfile::tempdir().unwrap();
    drop(crate::ledger_cli::fixed_ledger(state.path()));
    let dir = state.path().to_str().unwrap().to_string();
    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_skinbot"))
            .args(["dashboard", "--state-dir", &dir, "--listen", "127.0.0.1:0"])
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    // sled lets go of this process's lock on the ledger a moment after the handle is dropped.
    let (mut child, url) = until("skinbot dashboard to print its URL", || async {
        let mut child = spawn();
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                return Some((child, url.to_string()));
            }
        }
        None
    })
    .await;
    let base = url.split("/?token=").next().unwrap().to_string();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert_eq!(http.get(format!("{base}/")).send().await.unwrap().status(), 401);
    let login = http.get(&url).send().await.unwrap();
    assert_eq!(login.status(), 303);
    let session = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let page = http.get(format!("{base}/")).header("cookie", session).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("data-count=\"3\""), "the fixed ledger's three purchases");
    assert!(page.contains("not running"), "it says the bot is not running");

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_skinbot"))
        .args(["ledger", "list", "--format", "json", "--state-dir", &dir])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().len(), 3);
    // `status` does not take the dashboard for a running bot.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_skinbot"))
        .args(["status", "--state-dir", &dir])
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("running     no: `skinbot dashboard` (pid"), "{text}");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_skinbot"))
        .args(["status", "--state-dir", &dir, "--format", "json"])
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["running"], false, "{v}");
    assert!(v["ledger_held_by_dashboard"].is_u64(), "{v}");

    let second = tokio::process::Command::new(env!("CARGO_BIN_EXE_skinbot"))
        .args(["dashboard", "--state-dir", &dir, "--listen", "127.0.0.1:0"])
        .output()
        .await
        .unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains(&format!("{base}/ ")), "the second names the first's dashboard: {err}");
    let token = url.rsplit('=').next().unwrap();
    assert!(!err.contains(token), "the token stays out of the message: {err}");
    assert!(err.contains("control.json"), "it says where the token is: {err}");
    child.kill().await.unwrap();
}
