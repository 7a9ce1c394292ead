//! Temporary until the config refactor lands: the config builds the guard's limits.

use super::BudgetSettings;
use crate::domain::{Money, Rates, Usd};
use crate::guard::Limits;

impl BudgetSettings {
    /// The limits in USD, converted with `rates`.
    pub fn limits(&self, rates: &Rates) -> Result<Limits, String> {
        let conv = |m: &Option<Money>, what: &str| -> Result<Option<Usd>, String> {
            m.as_ref().map(|m| m.to_usd(rates).map_err(|e| format!("{what} {m}: {e}"))).transpose()
        };
        Ok(Limits {
            per_order: conv(&self.per_order, "per-order cap")?,
            per_item_per_day: conv(&self.per_item_per_day, "per-item cap")?,
            per_hour: conv(&self.per_hour, "hourly budget")?,
            per_day: conv(&self.per_day, "daily budget")?,
            balance_floor: self
                .balance_floor
                .to_usd(rates)
                .map_err(|e| format!("balance floor {}: {e}", self.balance_floor))?,
        })
    }
}
