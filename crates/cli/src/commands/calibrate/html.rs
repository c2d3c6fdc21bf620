//! The calibration report as one self-contained HTML page: tables and
//! inline SVG line charts (written here: an SVG viewer lays out `<text>`
//! itself, while plotters' text needs a font backend — system fonts
//! through font-kit, or a font file bundled with ab_glyph — for a few
//! polylines and labels).

use super::{PeriodFit, Report, CRITERIA};
use calibration::ObsKind;
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{:.1} %", x * 100.0))
        .collect::<Vec<_>>()
        .join(" / ")
}

pub(super) fn page(r: &Report) -> String {
    let mut h = String::new();
    let c = &r.calibration;
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Calibration of {}</title>\
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}\
.verdict{{font-size:1.1em;padding:0.8em;border-left:6px solid #888;background:#f4f4f4}}\
.good{{border-color:#2a2}}.acceptable{{border-color:#d90}}.poor{{border-color:#c22}}\
.no{{color:#c22}}</style></head><body>",
        esc(&r.network)
    );
    let _ = write!(
        h,
        "<h1>Calibration of {}</h1><p class=\"verdict {}\">{}</p>",
        esc(&r.network),
        r.fit_quality,
        esc(&r.verdict)
    );
    let _ = write!(
        h,
        "<p>Calibrated model: <code>{}</code>. {} readings, {} iterations, {} simulations, {:.1} s. \
Weighted sum of squares {:.4e} → {:.4e} (variance factor {:.3}).</p>",
        esc(&r.calibrated_network),
        c.readings,
        c.iterations,
        c.simulations,
        r.seconds,
        c.cost_before,
        c.cost_after,
        c.variance_factor
    );
    // Parameters.
    h.push_str("<h2>Parameters</h2><table><tr><th>parameter</th><th>before</th><th>after</th><th>± sd</th><th>95 % interval</th><th>identifiable</th></tr>");
    for e in &c.parameters {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3} – {:.3}</td><td{}>{}{}</td></tr>",
            esc(&e.name),
            e.before,
            e.after,
            e.sd,
            e.low95,
            e.high95,
            if e.identifiable { "" } else { " class=\"no\"" },
            if e.identifiable { "yes" } else { "no" },
            if e.at_bound { " (at bound)" } else { "" }
        );
    }
    h.push_str("</table>");
    if !c.statuses.is_empty() {
        h.push_str("<h2>Links of uncertain status</h2><table><tr><th>link</th><th>before</th><th>after</th><th>gain</th></tr>");
        for s in &c.statuses {
            let w = |o: bool| if o { "open" } else { "closed" };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>",
                esc(&s.link),
                w(s.open_before),
                w(s.open_after),
                s.gain
            );
        }
        h.push_str("</table>");
    }
    // Identifiability.
    let id = &c.identifiability;
    h.push_str("<h2>Identifiability</h2>");
    let _ = write!(
        h,
        "<p>Singular values of the weighted Jacobian: {} (condition number {:.3e}).</p>",
        id.singular_values
            .iter()
            .map(|v| format!("{v:.3e}"))
            .collect::<Vec<_>>()
            .join(", "),
        id.condition_number
    );
    if id.unidentifiable.is_empty() {
        h.push_str("<p>Every parameter is fixed by the data.</p>");
    } else {
        let _ = write!(
            h,
            "<p class=\"no\">Not identifiable with these sensors: {}.</p>",
            esc(&id.unidentifiable.join(", "))
        );
    }
    if !id.correlated.is_empty() {
        h.push_str("<table><tr><th>parameter</th><th>parameter</th><th>correlation</th></tr>");
        for p in &id.correlated {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.3}</td></tr>",
                esc(&p.a),
                esc(&p.b),
                p.correlation
            );
        }
        h.push_str("</table>");
    }
    for (what, m) in [
        ("roughness", &id.merge_roughness),
        ("demand", &id.merge_demand),
    ] {
        for g in m.iter() {
            let _ = write!(
                h,
                "<p>Offered coarser {what} group: {}.</p>",
                esc(&g.join(" + "))
            );
        }
    }
    // Fit per period.
    period(&mut h, "Calibration period", &r.calibration_period);
    if let Some(v) = &r.validation_period {
        period(&mut h, "Validation period", v);
    }
    if !r.notes.is_empty() {
        h.push_str("<h2>Notes</h2><ul>");
        for n in &r.notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul>");
    }
    let _ = write!(
        h,
        "<p><small>{}</small></p></body></html>",
        esc(r.criteria_source)
    );
    h
}

fn period(h: &mut String, title: &str, f: &PeriodFit) {
    let _ = write!(
        h,
        "<h2>{title}: {}</h2><p>{} rows. Pressure RMSE {:.3} m → {:.3} m. \
Pressure readings within ±0.5 / ±0.75 / ±2 m: {} → {} (criteria {}). Flow readings within ±5 / ±10 % of the measured flow: {} → {}.</p>",
        esc(&f.period),
        f.rows,
        f.pressure_rmse_before,
        f.pressure_rmse_after,
        pct(&f.pressure_within_before),
        pct(&f.pressure_within_after),
        pct(&CRITERIA),
        pct(&f.flow_within_before),
        pct(&f.flow_within_after)
    );
    h.push_str("<table><tr><th>sensor</th><th>kind</th><th>readings</th><th>RMSE before</th><th>RMSE after</th><th>bias after</th><th>within bands after</th></tr>");
    for (b, a) in f.before.iter().zip(&f.after) {
        let (unit, scale) = match a.kind {
            ObsKind::Pressure => ("m", 1.0),
            ObsKind::Flow => ("L/s", 1000.0),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{:?}</td><td>{}</td><td>{:.3} {unit}</td><td>{:.3} {unit}</td><td>{:.3} {unit}</td><td>{}</td></tr>",
            esc(&a.sensor),
            a.kind,
            a.n,
            b.rmse * scale,
            a.rmse * scale,
            a.bias * scale,
            pct(&a.within)
        );
    }
    h.push_str("</table>");
    // The worst sensors after calibration: three pressures and one flow.
    let mut worst: Vec<usize> = Vec::new();
    for (kind, n) in [(ObsKind::Pressure, 3), (ObsKind::Flow, 1)] {
        let mut idx: Vec<usize> = (0..f.after.len())
            .filter(|&i| f.after[i].kind == kind && f.after[i].n > 0)
            .collect();
        idx.sort_by(|&x, &y| f.after[y].rmse.total_cmp(&f.after[x].rmse));
        worst.extend(idx.into_iter().take(n));
    }
    for i in worst {
        let a = &f.after[i];
        let scale = if a.kind == ObsKind::Flow { 1000.0 } else { 1.0 };
        let unit = if a.kind == ObsKind::Flow { "L/s" } else { "m" };
        let _ = write!(
            h,
            "<h3>{} ({}): measured, model before and after</h3>",
            esc(&a.sensor),
            unit
        );
        h.push_str(&chart(
            &[
                (&f.measured[i], "#000", "measured"),
                (&f.modelled_before[i], "#999", "before"),
                (&f.modelled_after[i], "#1560bd", "after"),
            ],
            scale,
            unit,
        ));
    }
}

/// An SVG line chart of series on a common 5-minute time axis (hours).
fn chart(series: &[(&Vec<f64>, &str, &str)], scale: f64, unit: &str) -> String {
    let (w, ht) = (900.0, 260.0);
    let (l, r, t, b) = (60.0, 110.0, 10.0, 30.0);
    let n = series.iter().map(|s| s.0.len()).max().unwrap_or(0).max(2);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (v, _, _) in series {
        for x in v.iter().filter(|x| x.is_finite()) {
            lo = lo.min(x * scale);
            hi = hi.max(x * scale);
        }
    }
    if !lo.is_finite() {
        return "<p>(no readings)</p>".into();
    }
    if hi - lo < 1e-9 {
        hi += 0.5;
        lo -= 0.5;
    }
    let pad = (hi - lo) * 0.05;
    let (lo, hi) = (lo - pad, hi + pad);
    let x = |i: usize| l + (w - l - r) * i as f64 / (n - 1) as f64;
    let y = |v: f64| t + (ht - t - b) * (1.0 - (v - lo) / (hi - lo));
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{ht}\" font-size=\"11\">"
    );
    let _ = write!(
        s,
        "<rect x=\"{l}\" y=\"{t}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#aaa\"/>",
        w - l - r,
        ht - t - b
    );
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let _ = write!(
            s,
            "<line x1=\"{l}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v:.2}</text>",
            w - r,
            l - 4.0,
            y(v) + 4.0,
            yy = y(v)
        );
    }
    let hours = (n - 1) as f64 / 12.0;
    let step_h = [1.0, 3.0, 6.0, 12.0, 24.0, 48.0]
        .into_iter()
        .find(|s| hours / s <= 10.0)
        .unwrap_or(168.0);
    let mut hh = 0.0;
    while hh <= hours + 1e-9 {
        let xx = l + (w - l - r) * hh / hours.max(1e-9);
        let _ = write!(
            s,
            "<text x=\"{xx:.1}\" y=\"{}\" text-anchor=\"middle\">{hh:.0} h</text>",
            ht - b + 14.0
        );
        hh += step_h;
    }
    for (k, (v, color, name)) in series.iter().enumerate() {
        let mut path = String::new();
        let mut pen_up = true;
        for (i, val) in v.iter().enumerate() {
            if !val.is_finite() {
                pen_up = true;
                continue;
            }
            let _ = write!(
                path,
                "{}{:.1},{:.1} ",
                if pen_up { "M" } else { "L" },
                x(i),
                y(val * scale)
            );
            pen_up = false;
        }
        let _ = write!(
            s,
            "<path d=\"{path}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.2\"/>\
<line x1=\"{}\" x2=\"{}\" y1=\"{yy}\" y2=\"{yy}\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\">{name}</text>",
            w - r + 8.0,
            w - r + 28.0,
            w - r + 32.0,
            t + 14.0 + 16.0 * k as f64 + 4.0,
            yy = t + 14.0 + 16.0 * k as f64
        );
    }
    let _ = write!(
        s,
        "<text x=\"12\" y=\"{}\" transform=\"rotate(-90 12 {})\">{unit}</text></svg>",
        ht / 2.0,
        ht / 2.0
    );
    s
}
