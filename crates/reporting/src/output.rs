//! Tables (polars DataFrames written as CSV or Parquet), SVG charts
//! (plotters) and the self-contained `report.html`.

use crate::compute::{Figures, DAY_MS};
use polars::prelude::*;
use std::path::Path;

/// Output table format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Parquet,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build or write table {table}")]
    Polars {
        table: String,
        #[source]
        source: PolarsError,
    },
    #[error("cannot draw chart {chart}: {reason}")]
    Chart { chart: String, reason: String },
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

fn date(ms: i64) -> String {
    iso(ms)[..10].to_string()
}

fn s(name: &str, v: Vec<String>) -> Column {
    Column::new(name.into(), v)
}
fn f(name: &str, v: Vec<f64>) -> Column {
    // NaN (not computable) is written as a null.
    let v: Vec<Option<f64>> = v.into_iter().map(|x| x.is_finite().then_some(x)).collect();
    Column::new(name.into(), v)
}

/// The tables, by name, in a fixed column order (documented in README).
pub fn tables(fig: &Figures) -> Result<Vec<(&'static str, DataFrame)>, PolarsError> {
    let b = &fig.balance;
    let wb = DataFrame::new(
        b.len(),
        vec![
            s("zone", b.iter().map(|r| r.zone.clone()).collect()),
            s("period_start", b.iter().map(|r| iso(r.start)).collect()),
            s("period_end", b.iter().map(|r| iso(r.end)).collect()),
            f(
                "system_input_m3",
                b.iter().map(|r| r.system_input_m3).collect(),
            ),
            f("billed_m3", b.iter().map(|r| r.billed_m3).collect()),
            f("unbilled_m3", b.iter().map(|r| r.unbilled_m3).collect()),
            f(
                "apparent_losses_m3",
                b.iter().map(|r| r.apparent_losses_m3).collect(),
            ),
            f(
                "real_losses_m3",
                b.iter().map(|r| r.real_losses_m3).collect(),
            ),
            f("nrw_m3", b.iter().map(|r| r.nrw_m3).collect()),
            f("nrw_pct", b.iter().map(|r| r.nrw_pct).collect()),
            f(
                "efficiency_pct",
                b.iter().map(|r| r.efficiency_pct).collect(),
            ),
            f(
                "billed_metered_m3",
                b.iter().map(|r| r.billed_metered_m3).collect(),
            ),
            f(
                "billed_unmetered_m3",
                b.iter().map(|r| r.billed_unmetered_m3).collect(),
            ),
            s(
                "billed_source",
                b.iter().map(|r| r.billed_source.to_string()).collect(),
            ),
            f(
                "nrw_m3_per_conn_day",
                b.iter().map(|r| r.nrw_m3_per_conn_day).collect(),
            ),
            f(
                "input_coverage_pct",
                b.iter().map(|r| 100.0 * r.input_coverage).collect(),
            ),
        ],
    )?;
    let n = &fig.night;
    let nf = DataFrame::new(
        n.len(),
        vec![
            s("zone", n.iter().map(|r| r.zone.clone()).collect()),
            s("date", n.iter().map(|r| date(r.date)).collect()),
            f("mnf_lps", n.iter().map(|r| r.mnf_lps).collect()),
            f(
                "legitimate_night_use_lps",
                n.iter().map(|r| r.legitimate_night_use_lps).collect(),
            ),
            f(
                "night_leakage_lps",
                n.iter().map(|r| r.night_leakage_lps).collect(),
            ),
            f("ndf_h", n.iter().map(|r| r.ndf_h).collect()),
            f(
                "real_losses_m3_day",
                n.iter().map(|r| r.real_losses_m3_day).collect(),
            ),
            s(
                "mnf_hour_start",
                n.iter().map(|r| iso(r.mnf_start)).collect(),
            ),
            s(
                "night_use_source",
                n.iter().map(|r| r.night_use_source.to_string()).collect(),
            ),
            f("azp_night_m", n.iter().map(|r| r.azp_night_m).collect()),
            f("ndf_zone_h", n.iter().map(|r| r.ndf_zone_h).collect()),
            f(
                "located_leakage_lps",
                n.iter().map(|r| r.located_leakage_lps).collect(),
            ),
            Column::new(
                "located_leaks".into(),
                n.iter()
                    .map(|r| r.located_leaks as u32)
                    .collect::<Vec<u32>>(),
            ),
            s(
                "pressure_source",
                n.iter().map(|r| r.pressure_source.to_string()).collect(),
            ),
        ],
    )?;
    let i = &fig.ili;
    let il = DataFrame::new(
        i.len(),
        vec![
            s("zone", i.iter().map(|r| r.zone.clone()).collect()),
            s("period_start", i.iter().map(|r| iso(r.start)).collect()),
            s("period_end", i.iter().map(|r| iso(r.end)).collect()),
            f("mains_km", i.iter().map(|r| r.mains_km).collect()),
            f("connections", i.iter().map(|r| r.connections).collect()),
            f("private_pipe_km", i.iter().map(|r| r.private_km).collect()),
            f(
                "avg_pressure_m",
                i.iter().map(|r| r.avg_pressure_m).collect(),
            ),
            f("uarl_m3_day", i.iter().map(|r| r.uarl_m3_day).collect()),
            f("carl_m3_day", i.iter().map(|r| r.carl_m3_day).collect()),
            f("ili", i.iter().map(|r| r.ili).collect()),
            Column::new(
                "in_validity_range".into(),
                i.iter().map(|r| r.valid).collect::<Vec<bool>>(),
            ),
            s(
                "validity_note",
                i.iter().map(|r| r.validity_note.clone()).collect(),
            ),
            s(
                "pressure_source",
                i.iter().map(|r| r.pressure_source.to_string()).collect(),
            ),
        ],
    )?;
    let v = &fig.validity;
    let dv = DataFrame::new(
        v.len(),
        vec![
            s("zone", v.iter().map(|r| r.zone.clone()).collect()),
            s("input", v.iter().map(|r| r.input.clone()).collect()),
            s("role", v.iter().map(|r| r.role.to_string()).collect()),
            f("coverage_pct", v.iter().map(|r| r.coverage_pct).collect()),
            Column::new(
                "gaps".into(),
                v.iter().map(|r| r.gaps as u64).collect::<Vec<u64>>(),
            ),
            f("longest_gap_h", v.iter().map(|r| r.longest_gap_h).collect()),
            Column::new(
                "score".into(),
                v.iter().map(|r| u32::from(r.score)).collect::<Vec<u32>>(),
            ),
        ],
    )?;
    let e = &fig.events;
    let ev = DataFrame::new(
        e.len(),
        vec![
            Column::new(
                "alert_id".into(),
                e.iter().map(|r| r.alert_id).collect::<Vec<i64>>(),
            ),
            s("leak_key", e.iter().map(|r| r.leak_key.clone()).collect()),
            s("zone", e.iter().map(|r| r.zone.clone()).collect()),
            s("pipe", e.iter().map(|r| r.pipe.clone()).collect()),
            s("state", e.iter().map(|r| r.state.clone()).collect()),
            s(
                "resolution",
                e.iter().map(|r| r.resolution.clone()).collect(),
            ),
            s(
                "estimated_start",
                e.iter().map(|r| iso(r.estimated_start_ms)).collect(),
            ),
            s("raised", e.iter().map(|r| iso(r.raised_ms)).collect()),
            Column::new(
                "repaired".into(),
                e.iter()
                    .map(|r| r.repaired_ms.map(iso))
                    .collect::<Vec<Option<String>>>(),
            ),
            f(
                "estimated_flow_lps",
                e.iter().map(|r| r.estimated_flow_lps).collect(),
            ),
            f(
                "detection_delay_h",
                e.iter().map(|r| r.detection_delay_h).collect(),
            ),
            s("lost_from", e.iter().map(|r| iso(r.lost_from_ms)).collect()),
            s("lost_to", e.iter().map(|r| iso(r.lost_to_ms)).collect()),
            f(
                "volume_lost_m3",
                e.iter().map(|r| r.volume_lost_m3).collect(),
            ),
            f(
                "volume_saved_m3",
                e.iter().map(|r| r.volume_saved_m3).collect(),
            ),
        ],
    )?;
    Ok(vec![
        ("water_balance", wb),
        ("night_flow", nf),
        ("ili", il),
        ("data_validity", dv),
        ("leak_events", ev),
    ])
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// rerun never leaves a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let io = |source| OutputError::Io {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// One table as CSV or Parquet bytes.
pub fn encode(name: &str, df: &mut DataFrame, format: Format) -> Result<Vec<u8>, OutputError> {
    let err = |source| OutputError::Polars {
        table: name.to_string(),
        source,
    };
    let mut buf = Vec::new();
    match format {
        Format::Csv => CsvWriter::new(&mut buf)
            .include_header(true)
            .finish(df)
            .map_err(err)?,
        Format::Parquet => {
            ParquetWriter::new(&mut buf)
                .with_compression(ParquetCompression::Uncompressed)
                .finish(df)
                .map_err(err)?;
        }
    }
    Ok(buf)
}

/// A vertical mark on a chart: time, label, and whether it is a repair
/// (green) rather than a raised alert (red).
pub type Marker = (i64, String, bool);

/// An SVG line chart: x = days since the first point, several series, and
/// vertical markers (labelled) inside the chart's time range.
pub fn line_chart(
    title: &str,
    y_label: &str,
    series: &[(String, Vec<(i64, f64)>)],
    markers: &[Marker],
) -> Result<String, OutputError> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let err = |e: &dyn std::fmt::Display| OutputError::Chart {
        chart: title.to_string(),
        reason: e.to_string(),
    };
    let pts: Vec<(i64, f64)> = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|p| p.1.is_finite())
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (t0, t1) = pts
            .iter()
            .fold((i64::MAX, i64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
        let (t0, t1) = if pts.is_empty() {
            (0, DAY_MS)
        } else {
            (t0, t1.max(t0 + 1))
        };
        // Markers after the last point widen the range (a day's MNF is
        // plotted at the day's start, an alert later that day after it).
        let t1 = markers
            .iter()
            .map(|m| m.0)
            .filter(|&t| t >= t0 && t <= t1 + DAY_MS)
            .fold(t1, i64::max);
        let (y0, y1) = pts
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.1), b.max(p.1))
            });
        let (y0, y1) = if pts.is_empty() {
            (0.0, 1.0)
        } else {
            let pad = ((y1 - y0) * 0.05).max(1e-9);
            ((y0 - pad).min(0.0), y1 + pad)
        };
        let day = |t: i64| (t - t0) as f64 / DAY_MS as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..day(t1).max(1e-9), y0..y1)
            .map_err(|e| err(&e))?;
        let first = iso(t0)[..10].to_string();
        chart
            .configure_mesh()
            .x_desc(format!("days since {first}"))
            .y_desc(y_label)
            .draw()
            .map_err(|e| err(&e))?;
        for (k, (name, v)) in series.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    v.iter()
                        .filter(|p| p.1.is_finite())
                        .map(|p| (day(p.0), p.1)),
                    color.stroke_width(2),
                ))
                .map_err(|e| err(&e))?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], color));
        }
        let x1 = day(t1);
        for (k, (t, label, repair)) in markers.iter().enumerate() {
            let x = day(*t);
            if !(0.0..=x1).contains(&x) {
                continue;
            }
            let color = if *repair {
                RGBColor(0, 130, 0).mix(0.9)
            } else {
                RED.mix(0.9)
            };
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, y0), (x, y1)],
                    color.stroke_width(1),
                )))
                .map_err(|e| err(&e))?;
            // Labels staggered so that close marks stay readable.
            let y = y1 - (y1 - y0) * (0.04 + 0.06 * (k % 4) as f64);
            // Labels right of the line, or left of it near the right edge.
            let h = if x > 0.7 * x1 {
                HPos::Right
            } else {
                HPos::Left
            };
            let style = ("sans-serif", 11)
                .into_font()
                .color(&color)
                .pos(Pos::new(h, VPos::Top));
            chart
                .draw_series(std::iter::once(Text::new(label.clone(), (x, y), style)))
                .map_err(|e| err(&e))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

/// The charts: daily input against billed, MNF trend, NRW per zone.
pub fn charts(fig: &Figures) -> Result<Vec<(&'static str, String)>, OutputError> {
    let mut io = Vec::new();
    for (zone, d) in &fig.daily {
        io.push((
            format!("{zone} input"),
            d.iter().map(|x| (x.0, x.1)).collect(),
        ));
        io.push((
            format!("{zone} billed"),
            d.iter().map(|x| (x.0, x.2)).collect(),
        ));
    }
    let zones: Vec<String> = {
        let mut z: Vec<String> = Vec::new();
        for r in &fig.balance {
            if !z.contains(&r.zone) {
                z.push(r.zone.clone());
            }
        }
        z
    };
    let mnf: Vec<(String, Vec<(i64, f64)>)> = zones
        .iter()
        .map(|z| {
            (
                format!("{z} MNF"),
                fig.night
                    .iter()
                    .filter(|r| &r.zone == z)
                    .map(|r| (r.date, r.mnf_lps))
                    .collect(),
            )
        })
        .collect();
    let nrw: Vec<(String, Vec<(i64, f64)>)> = zones
        .iter()
        .map(|z| {
            (
                z.clone(),
                fig.balance
                    .iter()
                    .filter(|r| &r.zone == z)
                    .map(|r| (r.start, r.nrw_pct))
                    .collect(),
            )
        })
        .collect();
    let mut markers: Vec<Marker> = Vec::new();
    for e in &fig.events {
        if e.volume_lost_m3.is_nan() {
            continue; // false alarms and duplicates are not marked
        }
        markers.push((e.raised_ms, format!("alert {} raised", e.alert_id), false));
        if let Some(t) = e.repaired_ms {
            markers.push((t, format!("alert {} repaired", e.alert_id), true));
        }
    }
    Ok(vec![
        (
            "daily_input_vs_billed",
            line_chart(
                "Daily system input and billed consumption",
                "m³/day",
                &io,
                &[],
            )?,
        ),
        (
            "mnf_trend",
            line_chart(
                "Minimum night flow (red: leak alert raised, green: repaired)",
                "L/s",
                &mnf,
                &markers,
            )?,
        ),
        (
            "nrw_per_zone",
            line_chart("Non-revenue water per period", "% of input", &nrw, &[])?,
        ),
    ])
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A self-contained HTML page: the charts inline, then each table.
pub fn html(
    title: &str,
    meta: &[(String, String)],
    charts: &[(&str, String)],
    tables: &[(&str, DataFrame)],
) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str(&format!("<title>{}</title>", html_escape(title)));
    h.push_str("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px;margin-bottom:2em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}td:first-child{text-align:left}</style></head><body>\n");
    h.push_str(&format!("<h1>{}</h1>\n<dl>", html_escape(title)));
    for (k, v) in meta {
        h.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>",
            html_escape(k),
            html_escape(v)
        ));
    }
    h.push_str("</dl>\n");
    for (name, svg) in charts {
        h.push_str(&format!("<h2>{name}</h2>\n{svg}\n"));
    }
    for (name, df) in tables {
        h.push_str(&format!("<h2>{name}</h2>\n<table><tr>"));
        for c in df.columns() {
            h.push_str(&format!("<th>{}</th>", html_escape(c.name())));
        }
        h.push_str("</tr>\n");
        for r in 0..df.height() {
            h.push_str("<tr>");
            for c in df.columns() {
                let cell = match c.get(r) {
                    Ok(AnyValue::Null) => String::new(),
                    Ok(AnyValue::Float64(x)) => format!("{x:.3}"),
                    Ok(AnyValue::String(s)) => s.to_string(),
                    Ok(v) => v.to_string(),
                    Err(_) => String::new(),
                };
                h.push_str(&format!("<td>{}</td>", html_escape(&cell)));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }
    h.push_str("</body></html>\n");
    h
}
