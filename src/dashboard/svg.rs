//! Charts as SVG, drawn on the server: stacked bars per day, and a price line with points. Amounts
//! stay `Decimal` until they become a pixel position (`f64` is used for geometry only, never for
//! an amount that is shown or added up); labels print the decimals themselves.

use chrono::{DateTime, Utc};
use maud::{html, Markup};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

const W: f64 = 760.0;
const H: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 40.0;

/// Colours for series, in order (a strategy keeps its place in the legend).
pub(crate) const PALETTE: [&str; 8] =
    ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f"];

fn px(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// A value axis from zero (or `lo`) to a round top.
struct Axis {
    lo: Decimal,
    hi: Decimal,
    step: Decimal,
}

/// The smallest of 1, 2, 5 × 10ⁿ (n ≥ −2) at or above `raw` (or the largest that fits in a
/// `Decimal`: the arithmetic here is checked, an absurd amount never panics a page).
fn round_step(raw: Decimal) -> Decimal {
    let ten = Decimal::TEN;
    let mut p = Decimal::ONE;
    while let Some(next) = p.checked_mul(ten).filter(|n| *n <= raw) {
        p = next;
    }
    while p > raw && p > Decimal::new(1, 2) {
        p /= ten;
    }
    [1, 2, 5, 10]
        .into_iter()
        .filter_map(|m| p.checked_mul(Decimal::from(m)))
        .find(|s| *s >= raw)
        .unwrap_or(p.saturating_mul(ten))
}

impl Axis {
    /// Widened to whole multiples of a round step (1, 2 or 5 × 10ⁿ, at least 0.01), so the labels
    /// read 0, 100, 200 rather than 0, 183.33, 366.67.
    fn new(lo: Decimal, hi: Decimal) -> Axis {
        let hi = if hi <= lo { lo.saturating_add(Decimal::ONE) } else { hi };
        let step = round_step(hi.saturating_sub(lo) / Decimal::from(4));
        // Whole multiples of the step, where they fit in a `Decimal`.
        let lo = lo.checked_div(step).and_then(|q| q.floor().checked_mul(step)).unwrap_or(lo);
        let hi = hi.checked_div(step).and_then(|q| q.ceil().checked_mul(step)).unwrap_or(hi);
        Axis { lo, hi, step }
    }

    fn y(&self, v: Decimal) -> f64 {
        let span = px(self.hi.saturating_sub(self.lo)).max(f64::MIN_POSITIVE);
        TOP + (H - TOP - BOTTOM) * (1.0 - (px(v.saturating_sub(self.lo)) / span).clamp(0.0, 1.0))
    }

    /// A labelled line at every step, bottom to top.
    fn ticks(&self) -> Vec<Decimal> {
        let mut ticks = Vec::new();
        let mut t = self.lo;
        while t <= self.hi && ticks.len() < 12 {
            ticks.push(t.normalize());
            let Some(next) = t.checked_add(self.step) else { break };
            t = next;
        }
        ticks
    }
}

fn grid(axis: &Axis, unit: &str) -> Markup {
    html! {
        @for t in axis.ticks() {
            @let y = axis.y(t);
            line.grid x1=(LEFT) x2=(W - RIGHT) y1=(y) y2=(y) stroke="#ddd" data-value=(t) {}
            text x=(LEFT - 6.0) y=(y + 4.0) text-anchor="end" font-size="11" fill="#555" { (t) " " (unit) }
        }
    }
}

/// One stacked series: a name, a colour and a value per bar.
pub(crate) struct Series {
    pub name: String,
    pub color: &'static str,
    pub values: Vec<Decimal>,
}

/// Stacked bars, one per label, with an optional horizontal line (a limit).
pub(crate) fn stacked_bars(
    id: &str,
    labels: &[String],
    series: &[Series],
    line: Option<(&str, Decimal)>,
    unit: &str,
) -> Markup {
    let totals: Vec<Decimal> = (0..labels.len())
        .map(|i| {
            series.iter().fold(Decimal::ZERO, |t, s| t.saturating_add(s.values.get(i).copied().unwrap_or_default()))
        })
        .collect();
    let top = totals.iter().copied().chain(line.map(|l| l.1)).max().unwrap_or_default();
    let axis = Axis::new(Decimal::ZERO, top.saturating_mul(Decimal::new(11, 1)));
    let n = labels.len().max(1) as f64;
    let slot = (W - LEFT - RIGHT) / n;
    let bar = (slot * 0.7).max(1.0);
    let every = (labels.len() / 10).max(1);
    html! {
        svg id=(id) class="chart" viewBox=(format!("0 0 {W} {H}")) role="img" xmlns="http://www.w3.org/2000/svg" {
            (grid(&axis, unit))
            @for (i, label) in labels.iter().enumerate() {
                @let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
                @for (s, base, v) in stack(series, i) {
                    @let y0 = axis.y(base);
                    @let y1 = axis.y(base.saturating_add(v));
                    rect.bar x=(x) y=(y1) width=(bar) height=((y0 - y1).max(0.5)) fill=(s.color)
                        data-series=(s.name) data-label=(label) data-value=(v) {
                        title { (label) " " (s.name) ": " (v) " " (unit) }
                    }
                }
                @if i % every == 0 {
                    text x=(x + bar / 2.0) y=(H - BOTTOM + 16.0) text-anchor="middle" font-size="11" fill="#555" { (label.get(5..).unwrap_or(label)) }
                }
            }
            @if let Some((name, v)) = line {
                @let y = axis.y(v);
                path.limit d=(format!("M{LEFT},{y:.1}H{:.1}", W - RIGHT)) stroke="#c0392b" stroke-width="2" stroke-dasharray="6 4" fill="none" {
                    title { (name) ": " (v) " " (unit) }
                }
                text x=(W - RIGHT) y=(y - 5.0) text-anchor="end" font-size="11" fill="#c0392b" { (name) " " (v) " " (unit) }
            }
        }
        p.legend {
            @for s in series { span.swatch { svg width="12" height="12" { rect width="12" height="12" fill=(s.color) {} } " " (s.name) } " " }
        }
    }
}

/// The non-zero segments of bar `i`: each series with the sum of those below it.
fn stack(series: &[Series], i: usize) -> Vec<(&Series, Decimal, Decimal)> {
    let mut base = Decimal::ZERO;
    let mut out = Vec::new();
    for s in series {
        let v = s.values.get(i).copied().unwrap_or_default();
        if v > Decimal::ZERO {
            out.push((s, base, v));
            base = base.saturating_add(v);
        }
    }
    out
}

/// A point drawn on a price chart.
pub(crate) struct Point {
    pub at: DateTime<Utc>,
    pub value: Decimal,
    pub label: String,
    pub color: &'static str,
}

/// Colours of the rules' limit lines, in order.
pub(crate) const LIMIT_COLORS: [&str; 4] = ["#c0392b", "#8e44ad", "#d35400", "#16a085"];

/// A rule's limit drawn on a price chart: a dashed step line, broken where it is `None`.
pub(crate) struct LimitLine {
    /// Shown in the legend (`limit of strategy/rule: max_price 5.00 USD`).
    pub label: String,
    /// `strategy/rule`.
    pub rule: String,
    pub steps: Vec<(DateTime<Utc>, Option<Decimal>)>,
    pub color: &'static str,
}

/// A step line of recorded prices over [`from`, `to`], a dashed step line per rule limit, the
/// `max_price` each order sent as small rings, the purchases as points; `notes` go under the legend.
#[allow(clippy::too_many_arguments)]
pub(crate) fn price_chart(
    id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    prices: &[(DateTime<Utc>, Decimal)],
    limits: &[LimitLine],
    sent: &[(DateTime<Utc>, Decimal)],
    points: &[Point],
    notes: &[String],
    unit: &str,
) -> Markup {
    let limit_values = limits.iter().flat_map(|l| l.steps.iter().filter_map(|s| s.1));
    let values = prices.iter().chain(sent).map(|p| p.1).chain(limit_values).chain(points.iter().map(|p| p.value));
    let (lo, hi) = values.fold((None::<Decimal>, None::<Decimal>), |(lo, hi), v| {
        (Some(lo.map_or(v, |l| l.min(v))), Some(hi.map_or(v, |h| h.max(v))))
    });
    let (lo, hi) = (lo.unwrap_or_default(), hi.unwrap_or(Decimal::ONE));
    let pad = (hi.saturating_sub(lo) / Decimal::from(10)).max(Decimal::new(1, 2));
    let axis = Axis::new(lo.saturating_sub(pad).max(Decimal::ZERO), hi.saturating_add(pad));
    let span = (to - from).num_milliseconds().max(1) as f64;
    let x =
        |t: DateTime<Utc>| LEFT + (W - LEFT - RIGHT) * ((t - from).num_milliseconds() as f64 / span).clamp(0.0, 1.0);
    // A step path through `series`, lifted where a value is `None`, drawn on to `to`.
    let steps = |series: &mut dyn Iterator<Item = (DateTime<Utc>, Option<Decimal>)>| -> String {
        let mut d = String::new();
        let mut drawing = false;
        for (t, v) in series {
            let xi = x(t);
            match (v, drawing) {
                (Some(v), false) => d.push_str(&format!("M{xi:.1},{:.1}", axis.y(v))),
                (Some(v), true) => d.push_str(&format!("H{xi:.1}V{:.1}", axis.y(v))),
                (None, true) => d.push_str(&format!("H{xi:.1}")),
                (None, false) => {}
            }
            drawing = v.is_some();
        }
        if drawing {
            d.push_str(&format!("H{:.1}", x(to)));
        }
        d
    };
    html! {
        svg id=(id) class="chart" viewBox=(format!("0 0 {W} {H}")) role="img" xmlns="http://www.w3.org/2000/svg" {
            (grid(&axis, unit))
            text x=(LEFT) y=(H - BOTTOM + 16.0) font-size="11" fill="#555" { (from.format("%Y-%m-%d %H:%M UTC")) }
            text x=(W - RIGHT) y=(H - BOTTOM + 16.0) text-anchor="end" font-size="11" fill="#555" { (to.format("%Y-%m-%d %H:%M UTC")) }
            @if !prices.is_empty() {
                path.price d=(steps(&mut prices.iter().map(|(t, v)| (*t, Some(*v))))) data-points=(prices.len()) stroke="#4e79a7" stroke-width="2" fill="none" {
                    title { "recorded price (" (prices.len()) " changes)" }
                }
            }
            @for l in limits {
                @let drawn = l.steps.iter().filter(|s| s.1.is_some()).count();
                @if drawn > 0 {
                    @let last = l.steps.iter().rev().find_map(|s| s.1).unwrap_or_default();
                    path.limit d=(steps(&mut l.steps.iter().copied())) data-rule=(l.rule) data-points=(drawn) data-last=(last)
                        stroke=(l.color) stroke-width="2" stroke-dasharray="6 4" fill="none" {
                        title { (l.label) " (now " (last) " " (unit) ")" }
                    }
                }
            }
            @for (t, v) in sent {
                circle.sent cx=(format!("{:.1}", x(*t))) cy=(format!("{:.1}", axis.y(*v))) r="3" fill="none" stroke="#777" data-value=(v) {
                    title { "max price sent: " (v) " " (unit) }
                }
            }
            @for p in points {
                circle.purchase cx=(format!("{:.1}", x(p.at))) cy=(format!("{:.1}", axis.y(p.value))) r="5" fill=(p.color) stroke="#222" data-value=(p.value) {
                    title { (p.label) }
                }
            }
        }
        p.legend {
            span.swatch { svg width="18" height="12" { path d="M0,6H18" stroke="#4e79a7" stroke-width="2" {} } " recorded price" } " "
            @for l in limits {
                span.swatch { svg width="18" height="12" { path d="M0,6H18" stroke=(l.color) stroke-width="2" stroke-dasharray="4 3" {} } " " (l.label) } " "
            }
            @if !sent.is_empty() {
                span.swatch { svg width="12" height="12" { circle cx="6" cy="6" r="3" fill="none" stroke="#777" {} } " max price each order sent" } " "
            }
            span.swatch { svg width="12" height="12" { circle cx="6" cy="6" r="5" fill="#59a14f" stroke="#222" {} } " the bot's purchases" }
        }
        @for n in notes {
            p.legend.note { (n) }
        }
    }
}

/// A purchase's transitions on a time line: one dot per transition, spaced by time.
pub(crate) fn timeline(events: &[(DateTime<Utc>, String)]) -> Markup {
    let (Some(first), Some(last)) = (events.first(), events.last()) else { return html! {} };
    let span = (last.0 - first.0).num_milliseconds().max(1) as f64;
    let (w, h) = (W, 70.0);
    html! {
        svg.timeline viewBox=(format!("0 0 {w} {h}")) role="img" xmlns="http://www.w3.org/2000/svg" {
            line x1="20" x2=(w - 20.0) y1="30" y2="30" stroke="#999" {}
            @for (i, (t, label)) in events.iter().enumerate() {
                @let x = 20.0 + (w - 40.0) * ((*t - first.0).num_milliseconds() as f64 / span);
                circle.step cx=(format!("{x:.1}")) cy="30" r="6" fill=(PALETTE[i % PALETTE.len()]) {
                    title { (t.format("%Y-%m-%d %H:%M:%S%.3f UTC")) " " (label) }
                }
                text x=(format!("{x:.1}")) y=(if i % 2 == 0 { 16.0 } else { 54.0 }) text-anchor="middle" font-size="11" fill="#333" { (label) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn an_axis_is_labelled_at_round_steps_that_cover_its_values() {
        let money = Axis::new(dec!(0), dec!(550));
        assert_eq!(money.ticks(), vec![dec!(0), dec!(200), dec!(400), dec!(600)]);
        let counts = Axis::new(dec!(0), dec!(5.5));
        assert_eq!(counts.ticks(), vec![dec!(0), dec!(2), dec!(4), dec!(6)]);
        let prices = Axis::new(dec!(3.81), dec!(4.37));
        assert_eq!(prices.ticks(), vec![dec!(3.8), dec!(4), dec!(4.2), dec!(4.4)]);
        let cents = Axis::new(dec!(0), dec!(0.01));
        assert_eq!(cents.ticks(), vec![dec!(0), dec!(0.01)]);
        for axis in [money, counts, prices, cents] {
            assert!(axis.y(axis.lo) > axis.y(axis.hi), "bottom to top");
        }
    }

    #[test]
    fn the_largest_amounts_draw_without_overflow() {
        for (lo, hi) in [(dec!(0), Decimal::MAX), (Decimal::MAX, Decimal::MAX), (Decimal::MIN, Decimal::MAX)] {
            let axis = Axis::new(lo, hi);
            assert!(!axis.ticks().is_empty());
            assert!(axis.y(hi).is_finite());
        }
        let series = [
            Series { name: "a".into(), color: PALETTE[0], values: vec![Decimal::MAX, dec!(1)] },
            Series { name: "b".into(), color: PALETTE[1], values: vec![Decimal::MAX, dec!(2)] },
        ];
        let labels = vec!["2026-11-26".to_string(), "2026-11-27".to_string()];
        let svg = stacked_bars("c", &labels, &series, Some(("limit", Decimal::MAX)), "USD").into_string();
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 4);
        let t = Utc::now();
        let prices = [(t - chrono::Duration::hours(1), Decimal::MAX), (t, dec!(0.01))];
        let limit = LimitLine {
            label: "limit".into(),
            rule: "s/r".into(),
            steps: vec![(t - chrono::Duration::hours(1), None), (t, Some(Decimal::MAX))],
            color: LIMIT_COLORS[0],
        };
        let svg = price_chart("p", t - chrono::Duration::hours(2), t, &prices, &[limit], &prices, &[], &[], "USD")
            .into_string();
        assert!(svg.contains("class=\"price\"") && svg.contains("class=\"limit\""));
    }
}
