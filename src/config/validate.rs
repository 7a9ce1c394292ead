//! Stage two: one validator per section of the file, each turning its raw section into settings or
//! a [`FileError`] that names the file, the line and the field. [`super::Config`] calls them in the
//! order of the file; the first error wins.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use secrecy::SecretString;
use toml::Spanned;

use super::raw::{
    Amount, RawBudget, RawDashboard, RawEvents, RawExchange, RawHalt, RawMetrics, RawNotify, RawOrders, RawRecipient,
    RawSandbox, RawSanity, RawSchedule, RawState, RawStrategies, RawTradeLink,
};
use super::{
    BudgetSettings, Cron, DashboardSettings, Endpoint, EventsSettings, ExchangeSettings, FileError, HaltSettings,
    MetricsSettings, NotifySettings, OrderSettings, Recipient, SandboxSettings, SanitySettings, Schedules,
    SecretSource, SANDBOX_TRADE_URL,
};
use crate::domain::{CurrencyCode, Game, Money, TradeLink, Usd};

/// What every validator needs besides its section: the file (for errors and relative paths) and
/// where secrets come from.
pub(crate) struct Ctx<'a> {
    path: &'a Path,
    source: &'a str,
    /// The file's folder: relative paths inside the file are relative to it.
    base: PathBuf,
    env: &'a dyn SecretSource,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(path: &'a Path, source: &'a str, env: &'a dyn SecretSource) -> Self {
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ctx { path, source, base, env }
    }

    /// An error at the value spanning `span`: file, line and field.
    fn at(&self, span: Range<usize>, field: &str, msg: String) -> FileError {
        FileError::at(self.path, self.source, span, field, msg)
    }

    /// An error about a field with no position (it is missing, or not echoed on purpose).
    fn field(&self, field: &str, msg: impl Into<String>) -> FileError {
        FileError { field: Some(field.into()), ..FileError::new(self.path, msg) }
    }

    /// A path as written, relative to the file's folder unless absolute.
    fn resolve(&self, p: &str) -> PathBuf {
        let p = PathBuf::from(p);
        if p.is_absolute() || self.base.as_os_str().is_empty() {
            p
        } else {
            self.base.join(p)
        }
    }
}

/// `[exchange]`: where orders go, who we are there, and how requests are made.
pub(crate) fn exchange(raw: &RawExchange, ctx: &Ctx) -> Result<ExchangeSettings, FileError> {
    if let Some(s) = &raw.secret {
        return Err(ctx.at(
            s.span(),
            "exchange.secret",
            "a secret does not belong in a config file; set exchange.secret_env (an environment variable name) or exchange.secret_file".into(),
        ));
    }
    let endpoint = endpoint(raw.api_url.as_ref(), ctx)?;
    let shop_id = match &raw.shop_id {
        Some(s) if s.get_ref().trim().is_empty() => {
            return Err(ctx.at(s.span(), "exchange.shop_id", "is empty".into()));
        }
        Some(s) => s.get_ref().trim().to_string(),
        None if endpoint == Endpoint::Sandbox => String::new(),
        None => return Err(ctx.field("exchange.shop_id", "is required with a live api_url")),
    };
    let secret = if endpoint == Endpoint::Sandbox { None } else { Some(secret(raw, ctx)?) };
    let rpm = match &raw.requests_per_minute {
        Some(r) if *r.get_ref() == 0 || *r.get_ref() > 500 => {
            return Err(ctx.at(
                r.span(),
                "exchange.requests_per_minute",
                format!("{} is outside 1..=500 (SkinsBack allows 500 a minute)", r.get_ref()),
            ));
        }
        Some(r) => *r.get_ref(),
        None => 400,
    };
    let share = match &raw.background_share_percent {
        Some(s) if *s.get_ref() == 0 || *s.get_ref() > 100 => {
            return Err(ctx.at(
                s.span(),
                "exchange.background_share_percent",
                format!("{} is outside 1..=100", s.get_ref()),
            ));
        }
        Some(s) => *s.get_ref(),
        None => 60,
    };
    Ok(ExchangeSettings {
        endpoint,
        shop_id,
        secret,
        timeout: Duration::from_millis(raw.timeout_ms.unwrap_or(15_000).max(100)),
        connect_timeout: Duration::from_millis(raw.connect_timeout_ms.unwrap_or(5_000).max(100)),
        encoding: raw.encoding.unwrap_or_default(),
        auth: raw.auth.unwrap_or_default(),
        requests_per_minute: std::num::NonZeroU32::new(rpm).unwrap_or(std::num::NonZeroU32::MIN),
        background_share_percent: share,
    })
}

/// `exchange.api_url`: `"sandbox"` (or nothing) is the in-process sandbox; anything else must be
/// https, or http on this machine.
fn endpoint(api_url: Option<&Spanned<String>>, ctx: &Ctx) -> Result<Endpoint, FileError> {
    let u = match api_url {
        None => return Ok(Endpoint::Sandbox),
        Some(u) if u.get_ref() == "sandbox" => return Ok(Endpoint::Sandbox),
        Some(u) => u,
    };
    let text = u.get_ref();
    let not_url =
        || ctx.at(u.span(), "exchange.api_url", format!("`{text}` is neither \"sandbox\" nor an http(s) URL"));
    let url = url::Url::parse(text).map_err(|_| not_url())?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(not_url());
    }
    // The host as a URL parser reads it (after any `user@`), and only a literal loopback address or
    // `localhost` itself: `127.0.0.1.nip.io` resolves wherever its owner likes.
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if url.scheme() == "http" && !loopback {
        // Signatures and header secrets must not cross a network in clear text.
        return Err(ctx.at(
            u.span(),
            "exchange.api_url",
            format!("`{text}` is plain http; use https (http is only for a sandbox on this machine)"),
        ));
    }
    Ok(Endpoint::Url(text.clone()))
}

/// The secret of a live endpoint: the first line of `secret_file`, else the variable `secret_env`
/// names (default `SKINBOT_SECRET`).
fn secret(raw: &RawExchange, ctx: &Ctx) -> Result<SecretString, FileError> {
    if let Some(file) = &raw.secret_file {
        let p = ctx.resolve(file.get_ref());
        let text = std::fs::read_to_string(&p)
            .map_err(|e| ctx.at(file.span(), "exchange.secret_file", format!("cannot read {}: {e}", p.display())))?;
        let first = text.lines().next().unwrap_or("").trim().to_string();
        if first.is_empty() {
            return Err(ctx.at(file.span(), "exchange.secret_file", format!("{} is empty", p.display())));
        }
        return Ok(SecretString::from(first));
    }
    let var = raw.secret_env.clone().unwrap_or_else(|| "SKINBOT_SECRET".into());
    if var.is_empty() || !var.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
        // Not echoed: a user may have pasted the secret itself here.
        return Err(
            ctx.field("exchange.secret_env", "must name an environment variable (A-Z, 0-9 and _), not hold the secret")
        );
    }
    match ctx.env.var(&var) {
        Some(v) if !v.trim().is_empty() => Ok(SecretString::from(v.trim().to_string())),
        _ => Err(ctx.field(
            "exchange.secret_env",
            format!("the secret is read from the environment variable {var}, which is not set"),
        )),
    }
}

/// `[[recipients]]` or `[trade_link]` (one recipient named `default`), not both; on the sandbox
/// nothing is needed (it takes any well-formed link).
pub(crate) fn recipients(
    trade_link: Option<&RawTradeLink>,
    raw: &[Spanned<RawRecipient>],
    endpoint: &Endpoint,
    ctx: &Ctx,
) -> Result<Vec<Recipient>, FileError> {
    if raw.is_empty() {
        let link = self::trade_link(trade_link, endpoint, ctx)?;
        return Ok(vec![Recipient { name: "default".into(), link }]);
    }
    if trade_link.is_some() {
        return Err(ctx.field("trade_link", "give `[[recipients]]` or `[trade_link]`, not both"));
    }
    let mut out: Vec<Recipient> = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        let field = format!("recipients[{i}]");
        let name = r.get_ref().name.get_ref().trim().to_string();
        if name.is_empty() || out.iter().any(|o| o.name == name) {
            return Err(ctx.at(r.get_ref().name.span(), &format!("{field}.name"), "needs a name of its own".into()));
        }
        let l = r.get_ref();
        let link = match (&l.url, &l.partner, &l.token) {
            (Some(url), None, None) => TradeLink::parse_url(url.get_ref())
                .map_err(|e| ctx.at(url.span(), &format!("{field}.url"), e.to_string()))?,
            (None, Some(p), Some(tok)) => {
                TradeLink::new(p.get_ref(), tok.get_ref()).map_err(|e| ctx.at(p.span(), &field, e.to_string()))?
            }
            _ => return Err(ctx.at(r.span(), &field, "give either `url`, or both `partner` and `token`".into())),
        };
        out.push(Recipient { name, link });
    }
    Ok(out)
}

/// `[trade_link]`: where bought items are sent. Optional only on the sandbox, which takes any
/// well-formed link.
fn trade_link(raw: Option<&RawTradeLink>, endpoint: &Endpoint, ctx: &Ctx) -> Result<TradeLink, FileError> {
    match raw {
        None if *endpoint == Endpoint::Sandbox => {
            TradeLink::parse_url(SANDBOX_TRADE_URL).map_err(|e| FileError::new(ctx.path, e.to_string()))
        }
        None => Err(ctx.field(
            "trade_link",
            "is required with a live api_url: set trade_link.url, or trade_link.partner and trade_link.token",
        )),
        Some(t) => match (&t.url, &t.partner, &t.token) {
            (Some(url), None, None) => {
                TradeLink::parse_url(url.get_ref()).map_err(|e| ctx.at(url.span(), "trade_link.url", e.to_string()))
            }
            (None, Some(p), Some(tok)) => {
                TradeLink::new(p.get_ref(), tok.get_ref()).map_err(|e| ctx.at(p.span(), "trade_link", e.to_string()))
            }
            _ => Err(ctx.field("trade_link", "give either `url`, or both `partner` and `token`")),
        },
    }
}

/// `[schedule]`: the timezone and the cron expressions of the jobs.
pub(crate) fn schedule(raw: &RawSchedule, ctx: &Ctx) -> Result<Schedules, FileError> {
    let timezone: Tz = match &raw.timezone {
        Some(t) => t.get_ref().parse().map_err(|_| {
            ctx.at(
                t.span(),
                "schedule.timezone",
                format!("`{}` is not an IANA timezone (e.g. Europe/Berlin, UTC)", t.get_ref()),
            )
        })?,
        None => Tz::UTC,
    };
    let cron = |v: &Option<Spanned<String>>, field: &str, default: &str| -> Result<Cron, FileError> {
        match v {
            Some(text) => Cron::parse(text.get_ref()).map_err(|m| ctx.at(text.span(), field, m)),
            None => Cron::parse(default).map_err(|m| FileError::new(ctx.path, m)),
        }
    };
    Ok(Schedules {
        timezone,
        pricelist: cron(&raw.pricelist, "schedule.pricelist", "*/3 * * * * *")?,
        currencies: cron(&raw.currencies, "schedule.currencies", "0 * * * * *")?,
        balance: cron(&raw.balance, "schedule.balance", "*/10 * * * * *")?,
        poll: cron(&raw.poll, "schedule.poll", "*/2 * * * * *")?,
        status: cron(&raw.status, "schedule.status", "*/30 * * * * *")?,
    })
}

/// `[budget]`: the limits, each in the budget currency unless it names its own.
pub(crate) fn budget(raw: &RawBudget, ctx: &Ctx) -> Result<BudgetSettings, FileError> {
    let currency = match &raw.currency {
        Some(c) => c
            .get_ref()
            .parse()
            .and_then(CurrencyCode::listed)
            .map_err(|e: crate::domain::money::MoneyError| ctx.at(c.span(), "budget.currency", e.to_string()))?,
        None => CurrencyCode::usd(),
    };
    let money = |v: &Option<Spanned<Amount>>, field: &str| -> Result<Option<Money>, FileError> {
        let Some(text) = v else { return Ok(None) };
        let t = text.get_ref().0.trim();
        let with_currency =
            if t.split_whitespace().count() == 1 { format!("{t} {}", currency.as_str()) } else { t.to_string() };
        with_currency
            .parse::<Money>()
            .and_then(Money::listed)
            .map(Some)
            .map_err(|e| ctx.at(text.span(), field, e.to_string()))
    };
    Ok(BudgetSettings {
        per_order: money(&raw.per_order, "budget.per_order")?.or_else(|| default_money("50", &currency)),
        per_item_per_day: money(&raw.per_item_per_day, "budget.per_item_per_day")?,
        per_hour: money(&raw.per_hour, "budget.per_hour")?.or_else(|| default_money("200", &currency)),
        per_day: money(&raw.per_day, "budget.per_day")?.or_else(|| default_money("500", &currency)),
        balance_floor: money(&raw.balance_floor, "budget.balance_floor")?
            .or_else(|| default_money("100", &currency))
            .unwrap_or_else(|| Money::usd(Usd::ZERO)),
        balance_max_age: Duration::from_secs(raw.balance_max_age_secs.unwrap_or(30).max(1)),
        rates_max_age: Duration::from_secs(raw.rates_max_age_secs.unwrap_or(3600).max(1)),
        currency,
    })
}

fn default_money(amount: &str, currency: &CurrencyCode) -> Option<Money> {
    format!("{amount} {}", currency.as_str()).parse().ok()
}

/// `[orders]`: batch size, games, and how long an unanswered buy waits — at least twice the
/// request timeout of `exchange`.
pub(crate) fn orders(raw: &RawOrders, exchange: &ExchangeSettings, ctx: &Ctx) -> Result<OrderSettings, FileError> {
    let batch_size = match &raw.batch_size {
        Some(n) if *n.get_ref() == 0 || *n.get_ref() > 100 => {
            return Err(ctx.at(n.span(), "orders.batch_size", format!("{} is outside 1..=100", n.get_ref())));
        }
        Some(n) => *n.get_ref(),
        None => 10,
    };
    let games = match &raw.games {
        None => vec![Game::Cs2],
        Some(list) => {
            let mut games = Vec::new();
            for g in list {
                let game: Game = g
                    .get_ref()
                    .parse()
                    .map_err(|e: crate::domain::game::UnknownGame| ctx.at(g.span(), "orders.games", e.to_string()))?;
                if !games.contains(&game) {
                    games.push(game);
                }
            }
            games
        }
    };
    let resolve_after = Duration::from_secs(raw.resolve_after_secs.unwrap_or(60));
    if resolve_after < exchange.timeout * 2 {
        // Sooner, a request still in flight could land after its reservation was released.
        return Err(ctx.field(
            "orders.resolve_after_secs",
            format!(
                "{} s is less than twice the request timeout ({} ms)",
                resolve_after.as_secs(),
                exchange.timeout.as_millis()
            ),
        ));
    }
    Ok(OrderSettings { batch_size, games, resolve_after })
}

/// `[strategies]`: the strategy files, or the folder holding them (default `strategies`).
pub(crate) fn strategies(raw: &RawStrategies, ctx: &Ctx) -> Vec<PathBuf> {
    match (&raw.files, &raw.dir) {
        (Some(files), _) => files.iter().map(|f| ctx.resolve(f)).collect(),
        (None, dir) => vec![ctx.resolve(dir.as_deref().unwrap_or("strategies"))],
    }
}

/// `[state]`: the folder of the ledger (default `state`).
pub(crate) fn state(raw: &RawState, ctx: &Ctx) -> PathBuf {
    ctx.resolve(raw.dir.as_deref().unwrap_or("state"))
}

/// `[sandbox]`: the in-process sandbox of the embedded default.
pub(crate) fn sandbox(raw: &RawSandbox, ctx: &Ctx) -> Result<SandboxSettings, FileError> {
    Ok(SandboxSettings {
        seed: raw.seed.unwrap_or(1),
        balance: match &raw.balance {
            Some(t) => Usd::parse(t.get_ref()).map_err(|e| ctx.at(t.span(), "sandbox.balance", e.to_string()))?,
            None => Usd::new(rust_decimal::Decimal::new(100_000, 2)),
        },
        time_scale: raw.time_scale.unwrap_or(30).max(1),
        catalog: raw.catalog.as_deref().map(|c| ctx.resolve(c)),
    })
}

/// `[halt]`: every automatic halt is on by default; a count of 0 turns one off.
pub(crate) fn halt(raw: &RawHalt, budget: &BudgetSettings, ctx: &Ctx) -> Result<HaltSettings, FileError> {
    let minutes = |m: Option<u32>, default: u32| Duration::from_secs(u64::from(m.unwrap_or(default).max(1)) * 60);
    let velocity = match &raw.velocity {
        None => format!("300 {}", budget.currency.as_str()).parse::<Money>().ok(),
        Some(text) => {
            let t = text.get_ref().0.trim();
            let with_currency = if t.split_whitespace().count() == 1 {
                format!("{t} {}", budget.currency.as_str())
            } else {
                t.to_string()
            };
            let m = with_currency
                .parse::<Money>()
                .and_then(Money::listed)
                .map_err(|e| ctx.at(text.span(), "halt.velocity", e.to_string()))?;
            (!m.amount().is_zero()).then_some(m)
        }
    };
    Ok(HaltSettings {
        on_disagreement: raw.on_disagreement.unwrap_or(true),
        failed_deliveries: Some(raw.failed_deliveries.unwrap_or(5)).filter(|n| *n > 0),
        error_storm: Some(raw.errors.unwrap_or(20)).filter(|n| *n > 0).map(|n| (n, minutes(raw.errors_minutes, 5))),
        on_bad_credentials: raw.on_bad_credentials.unwrap_or(true),
        velocity: velocity.map(|m| (m, minutes(raw.velocity_minutes, 10))),
    })
}

/// `[sanity]`: every check is on by default; 0 turns one off.
pub(crate) fn sanity(raw: &RawSanity, ctx: &Ctx) -> Result<SanitySettings, FileError> {
    let factor = match &raw.price_jump_factor {
        None => Some(rust_decimal::Decimal::from(3)),
        Some(t) => {
            let f = crate::domain::money::parse_decimal(t.get_ref())
                .map_err(|e| ctx.at(t.span(), "sanity.price_jump_factor", e.to_string()))?;
            if !f.is_zero() && f <= rust_decimal::Decimal::ONE {
                return Err(ctx.at(
                    t.span(),
                    "sanity.price_jump_factor",
                    format!("`{f}` must be above 1 (or 0 for off)"),
                ));
            }
            (!f.is_zero()).then_some(f)
        }
    };
    let drop = match &raw.list_drop_percent {
        None => Some(50),
        Some(p) if *p.get_ref() > 100 => {
            return Err(ctx.at(p.span(), "sanity.list_drop_percent", format!("`{}` is not a percentage", p.get_ref())))
        }
        Some(p) => Some(*p.get_ref()).filter(|p| *p > 0),
    };
    Ok(SanitySettings {
        pricelist_max_age: Some(raw.pricelist_max_age_secs.unwrap_or(600)).filter(|s| *s > 0).map(Duration::from_secs),
        price_jump_factor: factor,
        median_hours: raw.median_hours.unwrap_or(24).clamp(1, 24 * 30),
        list_drop_percent: drop,
    })
}

/// `mode`: `"live"` (the default: real orders, or sandbox orders on a sandbox) or `"dry-run"`.
pub(crate) fn mode(raw: Option<&Spanned<String>>, ctx: &Ctx) -> Result<bool, FileError> {
    match raw.map(|m| (m, m.get_ref().as_str())) {
        None | Some((_, "live")) => Ok(false),
        Some((_, "dry-run")) => Ok(true),
        Some((m, other)) => Err(ctx.at(m.span(), "mode", format!("`{other}` is neither \"live\" nor \"dry-run\""))),
    }
}

/// `[events]`: the project websocket is on unless turned off.
pub(crate) fn events(raw: &RawEvents) -> EventsSettings {
    EventsSettings { enabled: raw.enabled.unwrap_or(true) }
}

/// `[dashboard]`: off unless `listen` is given; a non-loopback address only with `allow_remote`.
pub(crate) fn dashboard(raw: &RawDashboard, ctx: &Ctx) -> Result<Option<DashboardSettings>, FileError> {
    let allow_remote = raw.allow_remote.unwrap_or(false);
    let Some(listen) = &raw.listen else { return Ok(None) };
    let addr: std::net::SocketAddr = listen.get_ref().trim().parse().map_err(|_| {
        ctx.at(
            listen.span(),
            "dashboard.listen",
            format!("`{}` is not an address and port (e.g. \"127.0.0.1:8787\")", listen.get_ref()),
        )
    })?;
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(ctx.at(
            listen.span(),
            "dashboard.listen",
            format!(
                "{addr} is not a loopback address: the dashboard (plain HTTP, its token in a cookie) would be reachable \
                 from other machines; use 127.0.0.1, or set dashboard.allow_remote = true behind your own TLS proxy"
            ),
        ));
    }
    Ok(Some(DashboardSettings { listen: addr, allow_remote, fall_back_to_any_port: false }))
}

/// `[metrics]`: off unless `listen` names an address (`127.0.0.1:9898`); one that is not loopback
/// is refused unless `allow_remote = true` (the metrics show spend and halts to whoever can reach
/// the port).
pub(crate) fn metrics(raw: &RawMetrics, ctx: &Ctx) -> Result<MetricsSettings, FileError> {
    let listen = match &raw.listen {
        None => None,
        Some(l) => {
            let addr: std::net::SocketAddr = l.get_ref().trim().parse().map_err(|_| {
                ctx.at(
                    l.span(),
                    "metrics.listen",
                    format!("`{}` is not an address and port (e.g. \"127.0.0.1:9898\")", l.get_ref()),
                )
            })?;
            if !addr.ip().is_loopback() && raw.allow_remote != Some(true) {
                return Err(ctx.at(
                    l.span(),
                    "metrics.listen",
                    format!(
                        "{addr} is reachable from other machines; listen on 127.0.0.1, or set metrics.allow_remote = true"
                    ),
                ));
            }
            Some(addr)
        }
    };
    let stale_after = match &raw.stale_after_secs {
        Some(s) if *s.get_ref() == 0 => {
            return Err(ctx.at(s.span(), "metrics.stale_after_secs", "must be at least 1".into()));
        }
        Some(s) => Some(Duration::from_secs(*s.get_ref())),
        None => None,
    };
    Ok(MetricsSettings { listen, stale_after })
}

/// `[notify]`: off unless a URL is given, by `url` (in the file), `url_env` (an environment
/// variable's name) or `url_file` (a file whose first line is the URL), at most one of them; the
/// URL must be http(s). `format` json (default), slack or discord; `events` a non-empty list of
/// known kinds (default: all).
pub(crate) fn notify(raw: &RawNotify, ctx: &Ctx) -> Result<NotifySettings, FileError> {
    let mut out = NotifySettings::default();
    let given: Vec<(&Spanned<String>, &str)> =
        [(&raw.url, "notify.url"), (&raw.url_env, "notify.url_env"), (&raw.url_file, "notify.url_file")]
            .into_iter()
            .filter_map(|(v, f)| v.as_ref().map(|v| (v, f)))
            .collect();
    if let [_, (second, field), ..] = given[..] {
        return Err(ctx.at(second.span(), field, "give one of notify.url, notify.url_env and notify.url_file".into()));
    }
    let http = |text: &str| {
        url::Url::parse(text.trim()).ok().filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
    };
    if let Some(u) = &raw.url {
        http(u.get_ref()).ok_or_else(|| ctx.at(u.span(), "notify.url", "is not an http(s) URL".into()))?;
        out.url = Some(SecretString::from(u.get_ref().trim().to_string()));
    }
    if let Some(var) = &raw.url_env {
        let name = var.get_ref();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
            // Not echoed: a user may have pasted the URL itself here.
            return Err(ctx.at(
                var.span(),
                "notify.url_env",
                "must name an environment variable (A-Z, 0-9 and _), not hold the URL".into(),
            ));
        }
        let value = ctx.env.var(name).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            ctx.at(var.span(), "notify.url_env", format!("the webhook URL is read from {name}, which is not set"))
        })?;
        // The value is not echoed: it is the secret.
        http(&value).ok_or_else(|| {
            ctx.at(var.span(), "notify.url_env", format!("the value of {name} is not an http(s) URL"))
        })?;
        out.url = Some(SecretString::from(value.trim().to_string()));
    }
    if let Some(file) = &raw.url_file {
        let p = ctx.resolve(file.get_ref());
        let text = std::fs::read_to_string(&p)
            .map_err(|e| ctx.at(file.span(), "notify.url_file", format!("cannot read {}: {e}", p.display())))?;
        let first = text.lines().next().unwrap_or("").trim().to_string();
        if first.is_empty() {
            return Err(ctx.at(file.span(), "notify.url_file", format!("{} is empty", p.display())));
        }
        http(&first).ok_or_else(|| {
            ctx.at(file.span(), "notify.url_file", format!("the first line of {} is not an http(s) URL", p.display()))
        })?;
        out.url = Some(SecretString::from(first));
    }
    if let Some(f) = &raw.format {
        out.format = f.get_ref().parse().map_err(|e: String| ctx.at(f.span(), "notify.format", e))?;
    }
    out.batch = raw.batch.unwrap_or(false);
    if let Some(list) = &raw.events {
        if list.get_ref().is_empty() {
            return Err(ctx.at(
                list.span(),
                "notify.events",
                "is empty, which would send nothing: list the events to send, or leave it out for all of them".into(),
            ));
        }
        let mut kinds = Vec::new();
        for e in list.get_ref() {
            let kind = e.get_ref().parse().map_err(|m: String| ctx.at(e.span(), "notify.events", m))?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        out.events = Some(kinds);
    }
    if let Some(q) = &raw.queue {
        if *q.get_ref() == 0 || *q.get_ref() > 100_000 {
            return Err(ctx.at(q.span(), "notify.queue", format!("{} is outside 1..=100000", q.get_ref())));
        }
        out.queue = *q.get_ref();
    }
    Ok(out)
}
