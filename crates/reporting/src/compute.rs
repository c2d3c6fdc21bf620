//! The figures, from series on a regular step grid (SI: m³/s, m) to rows.
//! Pure: no I/O; `run` in `lib.rs` loads the series and writes the tables.

use crate::config::Params;
use crate::formulas::{
    apparent_losses, ili, min_rolling_mean, night_day_factor, uarl_l_per_day, uarl_validity,
    water_balance, BalanceInputs,
};
use crate::zones::Zone;
use std::collections::HashMap;

/// Report period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Period {
    Day,
    Week,
    Month,
}

pub const DAY_MS: i64 = 86_400_000;

/// Period boundaries in `[from, to)`, clipped to it: days (UTC), ISO weeks
/// (Monday 00:00 UTC) or calendar months (UTC).
pub fn periods(from: i64, to: i64, p: Period) -> Vec<(i64, i64)> {
    use jiff::civil::Date;
    use jiff::{Timestamp, ToSpan};
    let date_of = |ms: i64| -> Date {
        Timestamp::from_millisecond(ms)
            .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
            .unwrap_or_default()
    };
    let ms_of = |d: Date| -> i64 {
        d.to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(i64::MAX)
    };
    let d0 = date_of(from);
    let mut start = match p {
        Period::Day => d0,
        Period::Week => d0
            .checked_sub((d0.weekday().to_monday_zero_offset() as i32).days())
            .unwrap_or(d0),
        Period::Month => d0.first_of_month(),
    };
    let mut out = Vec::new();
    loop {
        let next = match p {
            Period::Day => start.checked_add(1.day()),
            Period::Week => start.checked_add(1.week()),
            Period::Month => start.checked_add(1.month()),
        };
        let Ok(next) = next else { break };
        let (a, b) = (ms_of(start).max(from), ms_of(next).min(to));
        if a < b {
            out.push((a, b));
        }
        if ms_of(next) >= to {
            break;
        }
        start = next;
    }
    out
}

/// Series on the grid `from + k·step`, k = 0..=n (one past the end for
/// tank levels at the last boundary).
pub struct Grid {
    pub from: i64,
    pub step_ms: i64,
    /// Steps in the report, `[from, to)`.
    pub n: usize,
    /// Values per tag, NaN where the step has no good sample (8 bytes a
    /// step rather than an `Option`'s 16: a year of 119 sensors is 100 MB).
    pub series: HashMap<String, Vec<f64>>,
}

impl Grid {
    fn get(&self, tag: &str) -> &[f64] {
        self.series.get(tag).map(Vec::as_slice).unwrap_or(&[])
    }
    /// The value of `tag` at step `t`, if present.
    fn at(&self, tag: &str, t: usize) -> Option<f64> {
        self.get(tag).get(t).copied().filter(|x| !x.is_nan())
    }
    fn idx(&self, ms: i64) -> usize {
        (((ms - self.from) / self.step_ms).max(0) as usize).min(self.n)
    }
    fn dt_s(&self) -> f64 {
        self.step_ms as f64 / 1000.0
    }
}

/// What the sensors do not give: model pressures and the twin's located
/// leaks (filled by `lib.rs`; empty by default).
#[derive(Debug, Clone, Default)]
pub struct Extra {
    /// Zones without pressure sensors: the model's average zone pressure
    /// (m) on the grid (the mean over the zone's demand junctions).
    pub model_azp: HashMap<String, Vec<f64>>,
    /// Leaks located by the twin's alerts, with the pressure at the leak.
    pub leaks: Vec<LocatedLeak>,
}

/// A leak the twin located (an alert not closed as a false alarm or a
/// duplicate): its flow gets the night-day factor of its own pressure.
#[derive(Debug, Clone)]
pub struct LocatedLeak {
    pub alert_id: i64,
    pub zone: String,
    /// Estimated start and repair (`i64::MAX` if not repaired), UTC ms.
    pub start_ms: i64,
    pub end_ms: i64,
    /// The alert's estimated flow, m³/s.
    pub flow_m3s: f64,
    /// Pressure at the leak's pipe (m) on the grid: the mean of its
    /// junction ends, measured when each end has a pressure sensor, else
    /// modelled.
    pub pressure: Vec<f64>,
    pub pressure_source: &'static str,
}

/// Tank cross-section areas (m²) by level tag.
pub type TankAreas = HashMap<String, f64>;

/// A zone's flows per step: net inflow, m³/s (NaN where a meter is
/// missing), with the storage change per step taken off.
pub fn zone_flow(g: &Grid, z: &Zone, areas: &TankAreas) -> Vec<f64> {
    let dt = g.dt_s();
    (0..g.n)
        .map(|t| {
            let mut q = 0.0;
            for tag in &z.inlets {
                q += g.at(tag, t).unwrap_or(f64::NAN);
            }
            for tag in &z.outlets {
                q -= g.at(tag, t).unwrap_or(f64::NAN);
            }
            for tag in &z.storage {
                let (a, b) = (g.at(tag, t), g.at(tag, t + 1));
                q -= match (a, b) {
                    (Some(a), Some(b)) => areas[tag] * (b - a) / dt,
                    _ => f64::NAN,
                };
            }
            q
        })
        .collect()
}

/// Sum of tags per step (NaN where any is missing).
fn sum_tags(g: &Grid, tags: &[String]) -> Vec<f64> {
    (0..g.n)
        .map(|t| {
            tags.iter()
                .map(|tag| g.at(tag, t).unwrap_or(f64::NAN))
                .sum()
        })
        .collect()
}

/// Mean of tags per step over those present (NaN if none).
fn mean_tags(g: &Grid, tags: &[String]) -> Vec<f64> {
    (0..g.n)
        .map(|t| {
            let v: Vec<f64> = tags.iter().filter_map(|tag| g.at(tag, t)).collect();
            if v.is_empty() {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        })
        .collect()
}

/// Volume over steps `[a, b)` of a flow series (m³): the mean of the
/// present steps times the duration (gaps take the period's mean), and the
/// share of steps present.
fn volume(q: &[f64], a: usize, b: usize, dt_s: f64) -> (f64, f64) {
    let v: Vec<f64> = q[a..b].iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() || b <= a {
        return (f64::NAN, 0.0);
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (
        mean * (b - a) as f64 * dt_s,
        v.len() as f64 / (b - a) as f64,
    )
}

/// Billing rows, already read: volumes for a zone over `[start, end)`.
#[derive(Debug, Clone)]
pub struct BillingRow {
    pub zone: String,
    pub start: i64,
    pub end: i64,
    pub metered_m3: f64,
    pub unmetered_m3: f64,
}

/// Billing volumes of `zone` over `[a, b)`, pro-rated by time overlap
/// (metered, unmetered); None if the billing has no row for the zone.
pub fn billed(rows: &[BillingRow], zone: &str, a: i64, b: i64) -> Option<(f64, f64)> {
    let mut any = false;
    let (mut m, mut u) = (0.0, 0.0);
    for r in rows.iter().filter(|r| r.zone == zone) {
        any = true;
        let ov = (r.end.min(b) - r.start.max(a)).max(0) as f64;
        let len = (r.end - r.start) as f64;
        if ov > 0.0 && len > 0.0 {
            m += r.metered_m3 * ov / len;
            u += r.unmetered_m3 * ov / len;
        }
    }
    any.then_some((m, u))
}

#[derive(Debug, Clone)]
pub struct BalanceRow {
    pub zone: String,
    pub start: i64,
    pub end: i64,
    pub system_input_m3: f64,
    pub billed_metered_m3: f64,
    pub billed_unmetered_m3: f64,
    pub billed_m3: f64,
    pub billed_source: &'static str,
    pub unbilled_m3: f64,
    pub apparent_losses_m3: f64,
    pub real_losses_m3: f64,
    pub nrw_m3: f64,
    pub nrw_pct: f64,
    pub nrw_m3_per_conn_day: f64,
    pub efficiency_pct: f64,
    pub input_coverage: f64,
}

#[derive(Debug, Clone)]
pub struct NightRow {
    pub zone: String,
    pub date: i64,
    pub mnf_lps: f64,
    pub mnf_start: i64,
    pub legitimate_night_use_lps: f64,
    pub night_use_source: &'static str,
    pub night_leakage_lps: f64,
    pub azp_night_m: f64,
    /// Effective night-day factor: real losses over (night leakage × 1 h).
    pub ndf_h: f64,
    /// The zone's night-day factor from its average zone pressure.
    pub ndf_zone_h: f64,
    /// Night leakage of the twin's located leaks (their estimated flows,
    /// at most the night leakage), each with its own night-day factor.
    pub located_leakage_lps: f64,
    pub located_leaks: usize,
    /// Where the zone's pressures come from: sensors, model or none.
    pub pressure_source: &'static str,
    pub real_losses_m3_day: f64,
}

#[derive(Debug, Clone)]
pub struct IliRow {
    pub zone: String,
    pub start: i64,
    pub end: i64,
    pub mains_km: f64,
    pub connections: f64,
    pub private_km: f64,
    pub avg_pressure_m: f64,
    pub pressure_source: &'static str,
    pub uarl_m3_day: f64,
    pub carl_m3_day: f64,
    pub ili: f64,
    pub valid: bool,
    pub validity_note: String,
}

#[derive(Debug, Clone)]
pub struct ValidityRow {
    pub zone: String,
    pub input: String,
    pub role: &'static str,
    pub coverage_pct: f64,
    pub gaps: usize,
    pub longest_gap_h: f64,
    pub score: u8,
}

/// Per day: (day start, input m³, billed m³).
pub type DailySeries = Vec<(i64, f64, f64)>;

pub struct Figures {
    pub balance: Vec<BalanceRow>,
    pub night: Vec<NightRow>,
    pub ili: Vec<IliRow>,
    pub validity: Vec<ValidityRow>,
    /// Per zone: (day start, input m³, billed m³) for the daily chart.
    pub daily: Vec<(String, DailySeries)>,
    /// The twin's leak alerts over the window (filled by `lib.rs` from the
    /// alert store; empty without one).
    pub events: Vec<crate::events::LeakEventRow>,
}

/// The data-validity score of one input (1–10, in the spirit of the AWWA
/// Free Water Audit's grades): 10 when at least 99.5 % of the steps are
/// present and no gap is longer than 1 h; otherwise 1 + ⌊9 × coverage⌋,
/// at most 9; 1 when nothing is present.
pub fn validity_score(coverage: f64, longest_gap_h: f64) -> u8 {
    if coverage >= 0.995 && longest_gap_h <= 1.0 {
        10
    } else {
        (1.0 + (9.0 * coverage).floor()).clamp(1.0, 9.0) as u8
    }
}

fn gaps(v: &[f64], n: usize, dt_h: f64) -> (f64, usize, f64) {
    let mut present = 0;
    let mut gaps = 0;
    let mut run = 0usize;
    let mut longest = 0usize;
    for t in 0..n {
        if v.get(t).is_some_and(|x| !x.is_nan()) {
            present += 1;
            run = 0;
        } else {
            if run == 0 {
                gaps += 1;
            }
            run += 1;
            longest = longest.max(run);
        }
    }
    (
        present as f64 / n.max(1) as f64,
        gaps,
        longest as f64 * dt_h,
    )
}

/// Everything, for `zones` plus the whole system (the sum of the zones).
pub fn figures(
    g: &Grid,
    zones: &[Zone],
    areas: &TankAreas,
    params: &Params,
    billing: &[BillingRow],
    period: Period,
    extra: &Extra,
) -> Figures {
    let to = g.from + g.n as i64 * g.step_ms;
    let dt = g.dt_s();
    let dt_h = dt / 3600.0;
    let pers = periods(g.from, to, period);
    let days = periods(g.from, to, Period::Day);
    let mut f = Figures {
        balance: Vec::new(),
        night: Vec::new(),
        ili: Vec::new(),
        validity: Vec::new(),
        daily: Vec::new(),
        events: Vec::new(),
    };
    let mut sys: HashMap<(i64, i64), BalanceRow> = HashMap::new();
    let mut sys_daily: HashMap<i64, (f64, f64)> = HashMap::new();
    for z in zones {
        let q = zone_flow(g, z, areas);
        let amr = sum_tags(g, &z.amr);
        let (azp, p_src) = if !z.pressure.is_empty() {
            (mean_tags(g, &z.pressure), "sensors")
        } else if let Some(m) = extra.model_azp.get(&z.name) {
            (m.clone(), "model")
        } else {
            (vec![f64::NAN; g.n], "none")
        };
        // Water balance per period.
        for &(a, b) in &pers {
            let (ia, ib) = (g.idx(a), g.idx(b));
            let (siv, cov) = volume(&q, ia, ib, dt);
            let (bm, bu, src) = match billed(billing, &z.name, a, b) {
                Some((m, u)) => (m, u, "billing"),
                None if !z.amr.is_empty() => (volume(&amr, ia, ib, dt).0, 0.0, "amr"),
                None => (f64::NAN, 0.0, "none"),
            };
            let unbilled = params.unbilled_share * siv;
            let app = apparent_losses(
                bm,
                siv,
                params.meter_under_registration,
                params.unauthorized_share,
            );
            let wb = water_balance(BalanceInputs {
                system_input: siv,
                billed_metered: bm,
                billed_unmetered: bu,
                unbilled,
                apparent_losses: app,
            });
            let days_len = (b - a) as f64 / DAY_MS as f64;
            let row = BalanceRow {
                zone: z.name.clone(),
                start: a,
                end: b,
                system_input_m3: siv,
                billed_metered_m3: bm,
                billed_unmetered_m3: bu,
                billed_m3: wb.billed,
                billed_source: src,
                unbilled_m3: unbilled,
                apparent_losses_m3: app,
                real_losses_m3: wb.real_losses,
                nrw_m3: wb.nrw,
                nrw_pct: wb.nrw_pct,
                nrw_m3_per_conn_day: wb.nrw / z.connections / days_len,
                efficiency_pct: wb.efficiency_pct,
                input_coverage: cov,
            };
            let s = sys.entry((a, b)).or_insert_with(|| BalanceRow {
                zone: "system".into(),
                system_input_m3: 0.0,
                billed_metered_m3: 0.0,
                billed_unmetered_m3: 0.0,
                billed_m3: 0.0,
                billed_source: "zones",
                unbilled_m3: 0.0,
                apparent_losses_m3: 0.0,
                real_losses_m3: 0.0,
                nrw_m3: 0.0,
                nrw_pct: 0.0,
                nrw_m3_per_conn_day: 0.0,
                efficiency_pct: 0.0,
                input_coverage: 1.0,
                ..row.clone()
            });
            s.system_input_m3 += row.system_input_m3;
            s.billed_metered_m3 += row.billed_metered_m3;
            s.billed_unmetered_m3 += row.billed_unmetered_m3;
            s.billed_m3 += row.billed_m3;
            s.unbilled_m3 += row.unbilled_m3;
            s.apparent_losses_m3 += row.apparent_losses_m3;
            s.real_losses_m3 += row.real_losses_m3;
            s.nrw_m3 += row.nrw_m3;
            s.input_coverage = s.input_coverage.min(row.input_coverage);
            // ILI for the period.
            let p_avg = {
                let v: Vec<f64> = azp[ia..ib]
                    .iter()
                    .copied()
                    .filter(|x| x.is_finite())
                    .collect();
                if v.is_empty() {
                    f64::NAN
                } else {
                    v.iter().sum::<f64>() / v.len() as f64
                }
            };
            let lp = z.connections * params.connection_length_m / 1000.0;
            let uarl = uarl_l_per_day(z.mains_km, z.connections, lp, p_avg) / 1000.0;
            let carl = wb.real_losses / days_len;
            let why = uarl_validity(z.mains_km, z.connections, p_avg);
            f.ili.push(IliRow {
                zone: z.name.clone(),
                start: a,
                end: b,
                mains_km: z.mains_km,
                connections: z.connections,
                private_km: lp,
                avg_pressure_m: p_avg,
                pressure_source: p_src,
                uarl_m3_day: uarl,
                carl_m3_day: carl,
                ili: ili(carl, uarl),
                valid: why.is_empty(),
                validity_note: why.join("; "),
            });
            f.balance.push(row);
        }
        // Daily input and billed, for the chart.
        let mut daily = Vec::new();
        for &(a, b) in &days {
            let (ia, ib) = (g.idx(a), g.idx(b));
            let siv = volume(&q, ia, ib, dt).0;
            let bill = match billed(billing, &z.name, a, b) {
                Some((m, u)) => m + u,
                None => volume(&amr, ia, ib, dt).0,
            };
            let e = sys_daily.entry(a).or_insert((0.0, 0.0));
            e.0 += siv;
            e.1 += bill;
            daily.push((a, siv, bill));
        }
        f.daily.push((z.name.clone(), daily));
        // Night flow per day.
        let [h0, h1] = params.night_hours;
        for &(a, b) in &days {
            if b - a < DAY_MS {
                continue; // a partial day has no full night and day
            }
            let (na, nb) = (
                g.idx(a + h0 as i64 * 3_600_000),
                g.idx(a + h1 as i64 * 3_600_000),
            );
            let window = ((3_600_000 / g.step_ms) as usize).max(1);
            let Some((s, mnf)) = min_rolling_mean(&q[na..nb], window) else {
                continue;
            };
            let (ws, we) = (na + s, na + s + window);
            let (legit, src) = if !z.amr.is_empty() {
                let v = &amr[ws..we];
                (v.iter().sum::<f64>() / window as f64, "amr")
            } else {
                (
                    params.night_use_l_per_conn_h * z.connections / 3.6e6,
                    "allowance",
                )
            };
            let leak = mnf - legit;
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
            let p_night = mean(&azp[ws..we]);
            let day = g.idx(a)..g.idx(b);
            let ndf = night_day_factor(&azp[day.clone()], dt_h, p_night, params.n1);
            // Located leaks running through the night hour: their flows get
            // their own night-day factor, the rest (background and
            // unlocated leaks) the zone's.
            let (t_ws, t_we) = (
                g.from + ws as i64 * g.step_ms,
                g.from + we as i64 * g.step_ms,
            );
            let located: Vec<(f64, f64)> = extra
                .leaks
                .iter()
                .filter(|l| l.zone == z.name && l.start_ms <= t_ws && l.end_ms >= t_we)
                .filter_map(|l| {
                    let f = night_day_factor(
                        &l.pressure[day.clone()],
                        dt_h,
                        mean(&l.pressure[ws..we]),
                        params.n1,
                    );
                    (f.is_finite() && l.flow_m3s.is_finite()).then_some((l.flow_m3s.max(0.0), f))
                })
                .collect();
            let sum_q: f64 = located.iter().map(|x| x.0).sum();
            // The located flows cannot exceed the night leakage.
            let scale = if sum_q > leak.max(0.0) {
                leak.max(0.0) / sum_q
            } else {
                1.0
            };
            let loc_q = sum_q * scale;
            let background = leak - loc_q;
            let losses = 3600.0
                * (located.iter().map(|(q, f)| q * scale * f).sum::<f64>()
                    + if background == 0.0 {
                        0.0
                    } else {
                        background * ndf
                    });
            f.night.push(NightRow {
                zone: z.name.clone(),
                date: a,
                mnf_lps: mnf * 1000.0,
                mnf_start: g.from + ws as i64 * g.step_ms,
                legitimate_night_use_lps: legit * 1000.0,
                night_use_source: src,
                night_leakage_lps: leak * 1000.0,
                azp_night_m: p_night,
                ndf_h: losses / (leak * 3600.0),
                ndf_zone_h: ndf,
                located_leakage_lps: loc_q * 1000.0,
                located_leaks: located.len(),
                pressure_source: p_src,
                real_losses_m3_day: losses,
            });
        }
        // Data validity of each input.
        let roles: [(&[String], &'static str); 5] = [
            (&z.inlets, "inlet"),
            (&z.outlets, "outlet"),
            (&z.storage, "storage"),
            (&z.pressure, "pressure"),
            (&z.amr, "amr"),
        ];
        for (tags, role) in roles {
            for tag in tags {
                let (cov, n_gaps, longest) = gaps(g.get(tag), g.n, dt_h);
                f.validity.push(ValidityRow {
                    zone: z.name.clone(),
                    input: tag.clone(),
                    role,
                    coverage_pct: 100.0 * cov,
                    gaps: n_gaps,
                    longest_gap_h: longest,
                    score: validity_score(cov, longest),
                });
            }
        }
    }
    // The whole system: sums over the zones.
    if zones.len() > 1 {
        let mut rows: Vec<BalanceRow> = sys.into_values().collect();
        rows.sort_by_key(|r| r.start);
        let conns: f64 = zones.iter().map(|z| z.connections).sum();
        for mut r in rows {
            r.nrw_pct = 100.0 * r.nrw_m3 / r.system_input_m3;
            r.efficiency_pct = 100.0 * (r.billed_m3 + r.unbilled_m3) / r.system_input_m3;
            r.nrw_m3_per_conn_day = r.nrw_m3 / conns / ((r.end - r.start) as f64 / DAY_MS as f64);
            f.balance.push(r);
        }
        let mut d: Vec<(i64, f64, f64)> =
            sys_daily.into_iter().map(|(k, (a, b))| (k, a, b)).collect();
        d.sort_by_key(|x| x.0);
        f.daily.push(("system".into(), d));
        // System night flow: sums of the zones' rows for each date.
        let mut by_date: std::collections::BTreeMap<i64, Vec<&NightRow>> = Default::default();
        for r in &f.night {
            by_date.entry(r.date).or_default().push(r);
        }
        let mut extra = Vec::new();
        for (date, rs) in by_date {
            if rs.len() != zones.len() {
                continue;
            }
            let sum = |k: fn(&NightRow) -> f64| rs.iter().map(|r| k(r)).sum::<f64>();
            let leak = sum(|r| r.night_leakage_lps);
            let losses = sum(|r| r.real_losses_m3_day);
            extra.push(NightRow {
                zone: "system".into(),
                date,
                mnf_lps: sum(|r| r.mnf_lps),
                mnf_start: date,
                legitimate_night_use_lps: sum(|r| r.legitimate_night_use_lps),
                night_use_source: "zones",
                night_leakage_lps: leak,
                azp_night_m: f64::NAN,
                ndf_h: losses / (leak * 3.6),
                ndf_zone_h: f64::NAN,
                located_leakage_lps: sum(|r| r.located_leakage_lps),
                located_leaks: rs.iter().map(|r| r.located_leaks).sum(),
                pressure_source: "zones",
                real_losses_m3_day: losses,
            });
        }
        f.night.extend(extra);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_and_week_periods() {
        let ms = |s: &str| telemetry::time::parse_timestamp(s).unwrap();
        let p = periods(ms("2019-01-30"), ms("2019-03-02 12:00"), Period::Month);
        assert_eq!(
            p,
            vec![
                (ms("2019-01-30"), ms("2019-02-01")),
                (ms("2019-02-01"), ms("2019-03-01")),
                (ms("2019-03-01"), ms("2019-03-02 12:00")),
            ]
        );
        // 2019-01-02 is a Wednesday; ISO weeks start on Monday 2019-01-07.
        let w = periods(ms("2019-01-02"), ms("2019-01-15"), Period::Week);
        assert_eq!(w[0], (ms("2019-01-02"), ms("2019-01-07")));
        assert_eq!(w[1], (ms("2019-01-07"), ms("2019-01-14")));
        assert_eq!(
            periods(ms("2019-01-01"), ms("2019-01-03"), Period::Day).len(),
            2
        );
    }

    #[test]
    fn billing_is_prorated_by_overlap() {
        let r = vec![BillingRow {
            zone: "A".into(),
            start: 0,
            end: 10 * DAY_MS,
            metered_m3: 100.0,
            unmetered_m3: 10.0,
        }];
        assert_eq!(billed(&r, "A", 0, 5 * DAY_MS), Some((50.0, 5.0)));
        assert_eq!(billed(&r, "B", 0, 5 * DAY_MS), None);
    }

    /// The night-flow split: a located leak's flow takes the night-day
    /// factor of its own pressure, the rest of the night leakage the zone's.
    #[test]
    fn located_leak_takes_its_own_night_day_factor() {
        const H: i64 = 3_600_000;
        let n = 24;
        // Demand zero at 03:00, else 20 L/s; 10 L/s located leak + 5 L/s
        // background all day. Zone pressure 50 m at night, 30 m by day;
        // the leak's pressure is constant.
        let demand = |t: usize| if t == 3 { 0.0 } else { 0.020 };
        let q: Vec<f64> = (0..n).map(|t| 0.015 + demand(t)).collect();
        let p: Vec<f64> = (0..n).map(|t| if t < 6 { 50.0 } else { 30.0 }).collect();
        let g = Grid {
            from: 0,
            step_ms: H,
            n,
            series: [("q".to_string(), q), ("p".to_string(), p.clone())].into(),
        };
        let z = Zone {
            name: "Z".into(),
            inlets: vec!["q".into()],
            outlets: vec![],
            storage: vec![],
            nodes: vec![],
            connections: 100.0,
            mains_km: 1.0,
            pressure: vec!["p".into()],
            amr: vec![],
        };
        let params = Params::default();
        let leak = LocatedLeak {
            alert_id: 1,
            zone: "Z".into(),
            start_ms: -H,
            end_ms: i64::MAX,
            flow_m3s: 0.010,
            pressure: vec![40.0; n],
            pressure_source: "model",
        };
        let run = |leaks: Vec<LocatedLeak>| {
            let extra = Extra {
                leaks,
                ..Extra::default()
            };
            figures(
                &g,
                std::slice::from_ref(&z),
                &TankAreas::new(),
                &params,
                &[],
                Period::Day,
                &extra,
            )
            .night
            .remove(0)
        };
        let ndf_zone = night_day_factor(&p, 1.0, 50.0, params.n1);
        let without = run(vec![]);
        assert!((without.night_leakage_lps - 15.0).abs() < 1e-9);
        assert!((without.real_losses_m3_day - 0.015 * 3600.0 * ndf_zone).abs() < 1e-9);
        let with = run(vec![leak.clone()]);
        assert_eq!(with.located_leaks, 1);
        assert!((with.located_leakage_lps - 10.0).abs() < 1e-9);
        let want = 3600.0 * (0.010 * 24.0 + 0.005 * ndf_zone);
        assert!((with.real_losses_m3_day - want).abs() < 1e-9);
        assert!((with.ndf_h - want / (0.015 * 3600.0)).abs() < 1e-9);
        // A leak repaired before the night hour, or in another zone, is not used.
        let repaired = LocatedLeak {
            end_ms: 2 * H,
            ..leak.clone()
        };
        let elsewhere = LocatedLeak {
            zone: "Y".into(),
            ..leak.clone()
        };
        assert_eq!(run(vec![repaired, elsewhere]).located_leaks, 0);
        // Located flows above the night leakage are scaled down to it.
        let big = LocatedLeak {
            flow_m3s: 0.030,
            ..leak
        };
        let r = run(vec![big]);
        assert!((r.located_leakage_lps - 15.0).abs() < 1e-9);
        assert!((r.real_losses_m3_day - 0.015 * 3600.0 * 24.0).abs() < 1e-9);
    }

    #[test]
    fn scores() {
        assert_eq!(validity_score(1.0, 0.0), 10);
        assert_eq!(validity_score(1.0, 2.0), 9);
        assert_eq!(validity_score(0.5, 2.0), 5);
        assert_eq!(validity_score(0.0, 100.0), 1);
    }
}
