//! `skinbot sandbox`: a local SkinsBack on 127.0.0.1, until Ctrl-C.

use crate::sandbox::Probability;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::domain::Usd;
use crate::sandbox::{self, Catalog, ClockMode, Faults, MarketDynamics, RateLimit, SandboxConfig};

#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 8790)]
    pub port: u16,
    /// The project's Client ID (`shopid`).
    #[arg(long, default_value = "1490")]
    pub shop_id: String,
    /// The project's Client Secret.
    #[arg(long, env = "SKINBOT_SANDBOX_SECRET", default_value = "sandbox-secret", hide_env_values = true)]
    pub secret: String,
    /// Starting balance in USD.
    #[arg(long, default_value = "1000.00")]
    pub balance: String,
    /// Catalog file: JSON lines, CSV with a header, or plain market names (one per line).
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Seed for every random choice; same seed and same requests = same run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Emit ids, prices and sums as JSON numbers instead of strings.
    #[arg(long)]
    pub numbers: bool,
    /// Sandbox seconds per real second (60 makes the 10-minute offer timeout take 10 s).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64, // sandbox seconds per real second
    /// Seconds of sandbox time between market steps; 0 = a still market.
    #[arg(long, default_value_t = 30)]
    pub market_step: u64,
    /// Largest `market_batch_buy`.
    #[arg(long, default_value_t = 50)]
    pub batch_max: usize,
    /// POST every event here (JSON, `Signature` header).
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// Answer the websocket text `ping` with `pong`.
    #[arg(long)]
    pub ws_pong: bool,
    /// Close a websocket after this many seconds without a frame from the client.
    #[arg(long)]
    pub ws_idle_secs: Option<u64>,
    /// Do not refund failed trade offers.
    #[arg(long)]
    pub no_refund: bool,
    /// Refund rolled-back offers too.
    #[arg(long)]
    pub refund_rollbacks: bool,
    /// Requests per minute before -7 (0 = no limit).
    #[arg(long, default_value_t = 500)]
    pub rate_limit: u32,
    /// Seconds every call answers -7 once over the limit.
    #[arg(long, default_value_t = 60)]
    pub rate_limit_block: u64,
    /// Fault: milliseconds added to every answer.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fault: fraction of requests answered 500/502.
    #[arg(long, default_value_t = 0.0)]
    pub http_error_rate: Probability,
    /// Fault: fraction of requests that hang (no answer for 30 s).
    #[arg(long, default_value_t = 0.0)]
    pub hang_rate: Probability,
    /// Fault: fraction of committed buys whose connection is dropped before the answer.
    #[arg(long, default_value_t = 0.0)]
    pub drop_after_commit_rate: Probability,
    /// Fault: fraction of answers whose money fields are not numbers.
    #[arg(long, default_value_t = 0.0)]
    pub malformed_rate: Probability,
    /// Fault: market methods answer -6 market_disabled.
    #[arg(long)]
    pub market_disabled: bool,
    /// Fault: `status` answers unavailable with this reason (site_off, no_bots).
    #[arg(long)]
    pub unavailable: Option<String>,
}

impl SandboxArgs {
    fn config(&self) -> anyhow::Result<SandboxConfig> {
        let balance = Usd::parse(&self.balance).with_context(|| format!("--balance `{}`", self.balance))?;
        if balance.is_negative() {
            anyhow::bail!("--balance must be zero or more, got {}", self.balance);
        }
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            anyhow::bail!("--time-scale must be a positive number, got {}", self.time_scale);
        }
        for (flag, rate) in [
            ("--http-error-rate", self.http_error_rate),
            ("--hang-rate", self.hang_rate),
            ("--drop-after-commit-rate", self.drop_after_commit_rate),
            ("--malformed-rate", self.malformed_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                anyhow::bail!("{flag} must be between 0 and 1, got {rate}");
            }
        }
        let catalog = match &self.catalog {
            Some(path) => Catalog::load(path)?,
            None => Catalog::shipped(),
        };
        let mut config = SandboxConfig {
            shop_id: self.shop_id.clone(),
            secret: self.secret.clone(),
            balance,
            numbers_as_json: self.numbers,
            seed: self.seed,
            catalog,
            market: MarketDynamics { step: Duration::from_secs(self.market_step), ..MarketDynamics::default() },
            batch_max: self.batch_max,
            webhook_url: self.webhook_url.clone(),
            clock: ClockMode::Real { scale: self.time_scale },
            ws_ping_reply: self.ws_pong.then(|| "pong".to_string()),
            ws_idle_timeout: self.ws_idle_secs.map(Duration::from_secs),
            faults: Faults {
                latency: Duration::from_millis(self.latency_ms),
                http_error_rate: self.http_error_rate,
                hang_rate: self.hang_rate,
                drop_after_commit_rate: self.drop_after_commit_rate,
                malformed_rate: self.malformed_rate,
                market_disabled: self.market_disabled,
                unavailable: self.unavailable.clone(),
                rate_limit: (self.rate_limit > 0).then(|| RateLimit {
                    per_minute: self.rate_limit,
                    block: Duration::from_secs(self.rate_limit_block),
                }),
                ..Faults::default()
            },
            ..SandboxConfig::default()
        };
        config.offers.refund_failed = !self.no_refund;
        config.offers.refund_rollbacks = self.refund_rollbacks;
        Ok(config)
    }
}

pub async fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let units = config.catalog.units();
    let sb = sandbox::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, args.port))).await?;
    out!("SkinsBack sandbox listening ({units} listings)");
    out!("  api:     {}", sb.api_url());
    out!("  ws:      {}?shopid={}&signature=md5(shopid+secret)", sb.ws_url(), sb.shop_id());
    out!("  shop id: {}", sb.shop_id());
    out!(
        "  admin:   {}/sandbox/{{balance,purchases,offers,requests,faults,advance,clock,listings,websocket}}",
        sb.base_url()
    );
    out!("Ctrl-C stops it.");
    tokio::signal::ctrl_c().await.context("failed to wait for Ctrl-C")?;
    sb.shutdown().await;
    Ok(())
}
