//! The BattLeDIM 2020 score of a results file against labelled leaks (the
//! rules are summarised in the [parent module](super)).

use super::flows::LeakFlows;
use super::labels::LeakLabel;
use super::results::{Detection, Results};
use super::{Collector, InputErrors};
use crate::time::{format_step, STEP_S};
use network::graph::{DistanceRule, LinkDistances, NetworkDistance};
use network::{LinkIdx, LinkKind, Network};
use serde::Serialize;
use std::collections::HashMap;

/// The scoring constants; [`Default`] gives the official ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScoreParams {
    /// A detection farther than this from a leak does not match it, m.
    pub max_distance_m: f64,
    /// Value of the water saved, €/m³.
    pub water_cost_eur_per_m3: f64,
    /// Crew cost of a false alarm, and of searching `max_distance_m`, €.
    pub crew_cost_eur: f64,
    /// How distance is measured: along pipes only (the official rule), or
    /// along the network through open valves and pumps (for networks
    /// whose valves split the pipes, where the official rule would call
    /// neighbours unreachable).
    pub distance: DistanceRule,
}

impl Default for ScoreParams {
    fn default() -> Self {
        ScoreParams {
            max_distance_m: 300.0,
            water_cost_eur_per_m3: 0.8,
            crew_cost_eur: 500.0,
            distance: DistanceRule::PipesOnly,
        }
    }
}

/// What one detection turned out to be.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// First detection of a running leak within range.
    TruePositive {
        /// Index into the labels.
        leak: usize,
        leak_pipe: String,
        leak_start: String,
        distance_m: f64,
        /// Volume from one step before the detection to the end of the flows, m³.
        volume_m3: f64,
    },
    /// Every running leak within range was found already: scores 0.
    Repeat {
        leak: usize,
        leak_pipe: String,
        leak_start: String,
        distance_m: f64,
    },
    /// No running leak within range.
    FalsePositive {
        /// The nearest running leak, if any is connected by pipes.
        nearest_leak_pipe: Option<String>,
        nearest_leak_distance_m: Option<f64>,
    },
}

/// One scored detection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectionScore {
    pub pipe: String,
    /// `YYYY-MM-DD HH:MM`.
    pub time: String,
    pub step: i64,
    /// Line in the results file.
    pub line: usize,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub score_eur: f64,
}

/// When a labelled leak was first detected, wherever the detection placed
/// it: the alarm that told the operators this leak had started. Not part of
/// the official score (which needs the place within range); it separates
/// detection (in time) from localization (how far the pipe named is).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeakDetection {
    /// Index into the labels.
    pub leak: usize,
    pub leak_pipe: String,
    pub leak_start: String,
    /// The first detection attributed to the leak (`None`: never detected).
    pub step: Option<i64>,
    /// Hours from the leak's start to that detection.
    pub delay_h: Option<f64>,
    /// Line of that detection in the results file.
    pub line: Option<usize>,
    /// Distance from the pipe it named to the leak, m (`None` when not
    /// connected by pipes, or never detected).
    pub distance_m: Option<f64>,
}

/// The score of one results file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreReport {
    pub score_eur: f64,
    pub true_positives: usize,
    pub false_positives: usize,
    /// Labelled leaks never found.
    pub false_negatives: usize,
    pub repeated_detections: usize,
    pub leaks: usize,
    pub params: ScoreParams,
    /// Scored detections in time order (ties in file order).
    pub detections: Vec<DetectionScore>,
    /// Detections before 2019-01-01 00:00, which the rules ignore.
    pub dropped: Vec<Detection>,
    /// Per leak: its first detection at any distance. Detections are taken
    /// in time order, each attributed to the nearest running leak not yet
    /// detected (pipe distance; leaks not connected by pipes after the
    /// others, in label order), whether or not it is within range.
    pub leak_detections: Vec<LeakDetection>,
}

/// Labels, flows and network checked against each other, ready to score
/// any number of results files.
#[derive(Debug, Clone)]
pub struct Scorer<'n> {
    net: &'n Network,
    graph: NetworkDistance,
    leaks: Vec<LeakLabel>,
    /// Per leak: its pipe and its column in `flows`.
    leak_link: Vec<LinkIdx>,
    leak_column: Vec<usize>,
    flows: LeakFlows,
    params: ScoreParams,
}

impl<'n> Scorer<'n> {
    /// Every leak's pipe must be a pipe of `net` and have a column in
    /// `flows`; problems are reported at the leak's line in `labels_file`.
    pub fn new(
        net: &'n Network,
        leaks: Vec<LeakLabel>,
        labels_file: &str,
        flows: LeakFlows,
        params: ScoreParams,
    ) -> Result<Scorer<'n>, InputErrors> {
        let graph = NetworkDistance::with_rule(net, params.distance);
        let is_pipe = |k: LinkIdx| matches!(net.links[k].kind, LinkKind::Pipe(_));
        let mut errs = Collector::new(labels_file);
        let (mut leak_link, mut leak_column) = (Vec::new(), Vec::new());
        for l in &leaks {
            match net.link_index(&l.pipe) {
                Some(k) if is_pipe(k) => leak_link.push(k),
                Some(_) => errs.push(l.line, format!("{} is a pump or valve, not a pipe", l.pipe)),
                None => errs.push(l.line, format!("pipe {} is not in the network", l.pipe)),
            }
            match flows.column(&l.pipe) {
                Some(c) => leak_column.push(c),
                None => errs.push(
                    l.line,
                    format!("the leak flows have no column for {}", l.pipe),
                ),
            }
        }
        if leaks.is_empty() {
            errs.push(1, "no leaks labelled");
        }
        errs.finish(())?;
        Ok(Scorer {
            net,
            graph,
            leaks,
            leak_link,
            leak_column,
            flows,
            params,
        })
    }

    pub fn leaks(&self) -> &[LeakLabel] {
        &self.leaks
    }

    /// Distance (m) from pipe link `k` to each leak.
    fn distances<'a>(&self, from: &LinkDistances<'a>) -> Vec<f64> {
        self.leak_link
            .iter()
            .map(|&b| from.to(b).expect("leak links are pipes"))
            .collect()
    }

    /// Scores a results file. A detection naming anything but a pipe of the
    /// network is an error located in the results file.
    pub fn score(&self, results: &Results) -> Result<ScoreReport, InputErrors> {
        let mut errs = Collector::new(&results.file);
        let mut links = Vec::with_capacity(results.detections.len());
        for d in &results.detections {
            match self.net.link_index(&d.pipe) {
                Some(k) if matches!(self.net.links[k].kind, LinkKind::Pipe(_)) => links.push(k),
                Some(_) => errs.push(d.line, format!("{} is a pump or valve, not a pipe", d.pipe)),
                None => errs.push(d.line, format!("unknown pipe ID {}", d.pipe)),
            }
        }
        errs.finish(())?;

        let (kept, dropped): (Vec<_>, Vec<_>) = results
            .detections
            .iter()
            .zip(links)
            .partition(|(d, _)| d.step >= 0);
        let mut kept = kept;
        kept.sort_by_key(|(d, _)| d.step); // stable: ties keep file order

        let p = &self.params;
        let mut found = vec![false; self.leaks.len()];
        let mut cache: HashMap<LinkIdx, Vec<f64>> = HashMap::new();
        let mut report = ScoreReport {
            score_eur: 0.0,
            true_positives: 0,
            false_positives: 0,
            false_negatives: 0,
            repeated_detections: 0,
            leaks: self.leaks.len(),
            params: *p,
            detections: Vec::new(),
            dropped: dropped.into_iter().map(|(d, _)| d.clone()).collect(),
            leak_detections: Vec::new(),
        };
        // First detection of each leak at any distance: (step, line, distance).
        let mut first: Vec<Option<(i64, usize, f64)>> = vec![None; self.leaks.len()];
        for (d, k) in kept {
            let dist = cache.entry(k).or_insert_with(|| {
                self.distances(&self.graph.from_link(k).expect("checked to be a pipe"))
            });
            let running: Vec<usize> = (0..self.leaks.len())
                .filter(|&i| self.leaks[i].is_running(d.step))
                .collect();
            let nearest = |cands: &mut dyn Iterator<Item = usize>| {
                cands.min_by(|&a, &b| dist[a].total_cmp(&dist[b]).then(a.cmp(&b)))
            };
            let matched: Vec<usize> = running
                .iter()
                .copied()
                .filter(|&i| dist[i] <= p.max_distance_m)
                .collect();
            if let Some(i) = nearest(&mut running.iter().copied().filter(|&i| first[i].is_none())) {
                first[i] = Some((d.step, d.line, dist[i]));
            }
            let leak_info = |i: usize| (self.leaks[i].pipe.clone(), self.leaks[i].start_text());
            let (outcome, score_eur) = if matched.is_empty() {
                report.false_positives += 1;
                let near = nearest(&mut running.iter().copied()).filter(|&i| dist[i].is_finite());
                (
                    Outcome::FalsePositive {
                        nearest_leak_pipe: near.map(|i| self.leaks[i].pipe.clone()),
                        nearest_leak_distance_m: near.map(|i| dist[i]),
                    },
                    -p.crew_cost_eur,
                )
            } else if let Some(i) = nearest(&mut matched.iter().copied().filter(|&i| !found[i])) {
                found[i] = true;
                report.true_positives += 1;
                let volume_m3 = self.flows.volume_from(self.leak_column[i], d.step - 1);
                let score = p.water_cost_eur_per_m3 * volume_m3
                    - dist[i] / p.max_distance_m * p.crew_cost_eur;
                let (leak_pipe, leak_start) = leak_info(i);
                (
                    Outcome::TruePositive {
                        leak: i,
                        leak_pipe,
                        leak_start,
                        distance_m: dist[i],
                        volume_m3,
                    },
                    score,
                )
            } else {
                report.repeated_detections += 1;
                let i = nearest(&mut matched.iter().copied()).expect("matched is not empty");
                let (leak_pipe, leak_start) = leak_info(i);
                (
                    Outcome::Repeat {
                        leak: i,
                        leak_pipe,
                        leak_start,
                        distance_m: dist[i],
                    },
                    0.0,
                )
            };
            report.score_eur += score_eur;
            report.detections.push(DetectionScore {
                pipe: d.pipe.clone(),
                time: format_step(d.step),
                step: d.step,
                line: d.line,
                outcome,
                score_eur,
            });
        }
        report.false_negatives = self.leaks.len() - report.true_positives;
        report.leak_detections = self
            .leaks
            .iter()
            .zip(first)
            .enumerate()
            .map(|(i, (l, f))| LeakDetection {
                leak: i,
                leak_pipe: l.pipe.clone(),
                leak_start: l.start_text(),
                step: f.map(|f| f.0),
                delay_h: f.map(|f| ((f.0 - l.start) * STEP_S as i64) as f64 / 3600.0),
                line: f.map(|f| f.1),
                distance_m: f.map(|f| f.2).filter(|x| x.is_finite()),
            })
            .collect();
        Ok(report)
    }
}

/// A number the way the official (MATLAB) report prints it: up to four
/// decimals, trailing zeros removed.
pub fn official_number(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

impl ScoreReport {
    /// A text report laid out like the organisers' (same per-detection lines).
    pub fn render_text(&self, team: &str) -> String {
        let rule = "-------------------------------------\n";
        let p = &self.params;
        let mut s = String::new();
        s += rule;
        s += &format!("TEAM NAME: {team}\n");
        s += rule;
        s += "Scoring Parameters\n";
        s += &format!("Max detection distance: {}  (meters)\n", p.max_distance_m);
        s += &format!(
            "Cost of water per m^3: {} (Euro)\n",
            p.water_cost_eur_per_m3
        );
        s += &format!(
            "Max repair crew cost per assignment: {} (Euro)\n",
            p.crew_cost_eur
        );
        if p.distance == DistanceRule::Network {
            // Not an official parameter: said only when it differs.
            s += "Distance: along the network (open valves and pumps crossed, 0 m)\n";
        }
        if !self.dropped.is_empty() {
            s += rule;
            for d in &self.dropped {
                s += &format!(
                    "Dropped (before 2019-01-01 00:00): {}, {} (line {})\n",
                    d.pipe,
                    format_step(d.step),
                    d.line
                );
            }
        }
        s += rule;
        s += "Calculating score...\n";
        for d in &self.detections {
            s += rule;
            s += &format!("Detection entry : {}, {}\n", d.pipe, d.time);
            match &d.outcome {
                Outcome::TruePositive {
                    leak_pipe,
                    leak_start,
                    ..
                } => s += &format!("Detected leakage: {leak_pipe}, {leak_start}\n"),
                _ => s += "NO detection\n",
            }
            s += &format!("Score: {}\n", official_number(d.score_eur));
        }
        s += rule;
        s += &format!("TEAM NAME: {team}\n");
        s += &format!("Total score: € {:.2}\n", self.score_eur);
        s += &format!("True Positives: {}\n", self.true_positives);
        s += &format!("False Positives: {}\n", self.false_positives);
        s += &format!("False Negatives: {}\n", self.false_negatives);
        s += rule;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::super::flows::tests::flows as flows_table;
    use super::super::{parse_leak_labels, parse_results, LeakFlows};
    use super::*;

    /// A chain of 100 m pipes: J0 ─a─ J1 ─b─ J2 ─c─ J3 ─d─ J4 ─e─ J5.
    fn chain() -> Network {
        let text = "[JUNCTIONS]\nJ1 0\nJ2 0\nJ3 0\nJ4 0\nJ5 0\n[RESERVOIRS]\nJ0 10\n\
                    [PIPES]\na J0 J1 100 100 100\nb J1 J2 100 100 100\nc J2 J3 100 100 100\n\
                    d J3 J4 100 100 100\ne J4 J5 100 100 100\n[VALVES]\nv J5 J1 100 PRV 10\n\
                    [OPTIONS]\nUnits LPS\n[END]\n";
        network::inp::parse_inp(text, "chain.inp").unwrap()
    }

    /// Leak 1 on `a` from 00:05 to 00:20; leak 2 on `c` from 00:10 onwards.
    /// Flows 12 m³/h = 1 m³ per step.
    const LABELS: &str = "a, 2019-01-01 00:05, 2019-01-01 00:20, 0.01, abrupt, 2019-01-01 00:05\n\
                          c, 2019-01-01 00:10, 2019-01-01 00:40, 0.01, abrupt, 2019-01-01 00:10\n";
    fn flows() -> LeakFlows {
        let a = [0.0, 12.0, 12.0, 12.0, 12.0, 12.0, 0.0, 0.0, 0.0];
        let c = [0.0, 0.0, 12.0, 12.0, 12.0, 12.0, 12.0, 12.0, 12.0];
        let rows: Vec<(i64, [f64; 2])> = (0..9).map(|i| (i as i64, [a[i], c[i]])).collect();
        let rows: Vec<(i64, &[f64])> = rows.iter().map(|(s, q)| (*s, &q[..])).collect();
        flows_table(&["a", "c"], &rows)
    }

    fn run(results: &str) -> ScoreReport {
        let net = chain();
        let labels = parse_leak_labels(LABELS, "l").unwrap();
        let flows = flows();
        let s = Scorer::new(&net, labels, "l", flows, ScoreParams::default()).unwrap();
        s.score(&parse_results(results, "r.txt").unwrap()).unwrap()
    }

    #[test]
    fn true_positive_counts_volume_from_one_step_before() {
        let r = run("a, 2019-01-01 00:10\n");
        assert_eq!(
            (r.true_positives, r.false_positives, r.false_negatives),
            (1, 0, 1)
        );
        // steps 00:05..00:25 on a: 5 m³ × 0.8 €, same pipe: no distance cost
        assert!((r.score_eur - 4.0).abs() < 1e-12, "{}", r.score_eur);
    }

    #[test]
    fn distance_costs_and_nearest_unfound_leak_wins() {
        // b is 100 m from both a and c: nearest tie goes to the first label
        let r = run("b, 2019-01-01 00:15\nb, 2019-01-01 00:15\nb, 2019-01-01 00:15\n");
        let o: Vec<_> = r.detections.iter().map(|d| &d.outcome).collect();
        assert!(
            matches!(o[0], Outcome::TruePositive { leak: 0, distance_m, .. } if *distance_m == 100.0)
        );
        assert!(
            matches!(o[1], Outcome::TruePositive { leak: 1, .. }),
            "an unfound leak in range beats a found one"
        );
        assert!(matches!(o[2], Outcome::Repeat { .. }));
        let a = 0.8 * 4.0 - 100.0 / 300.0 * 500.0;
        let c = 0.8 * 7.0 - 100.0 / 300.0 * 500.0;
        assert!((r.detections[0].score_eur - a).abs() < 1e-9);
        assert!((r.detections[1].score_eur - c).abs() < 1e-9);
        assert_eq!(r.detections[2].score_eur, 0.0);
        assert_eq!(
            (r.true_positives, r.false_positives, r.repeated_detections),
            (2, 0, 1)
        );
    }

    #[test]
    fn the_network_distance_crosses_the_valve() {
        // e (J4–J5) is 400 m from a (J0–J1) along pipes, but J5 ─v─ J1
        // (0 m) makes it 100 m along the network. At 00:05 only a runs.
        let r = run("e, 2019-01-01 00:05\n");
        assert!(matches!(
            r.detections[0].outcome,
            Outcome::FalsePositive { nearest_leak_distance_m: Some(x), .. } if x == 400.0
        ));
        let net = chain();
        let params = ScoreParams {
            distance: DistanceRule::Network,
            ..ScoreParams::default()
        };
        let labels = parse_leak_labels(LABELS, "l").unwrap();
        let s = Scorer::new(&net, labels, "l", flows(), params).unwrap();
        let r = s
            .score(&parse_results("e, 2019-01-01 00:05\n", "r.txt").unwrap())
            .unwrap();
        assert!(matches!(
            r.detections[0].outcome,
            Outcome::TruePositive { leak: 0, distance_m, .. } if distance_m == 100.0
        ));
        assert!(r.render_text("t").contains("along the network"));
    }

    #[test]
    fn false_positives_out_of_range_or_time() {
        // e is 300 m from c (in range, at the limit) but 400 m from a
        let r = run("e, 2019-01-01 00:10\n");
        assert!(matches!(
            r.detections[0].outcome,
            Outcome::TruePositive { leak: 1, .. }
        ));
        let r = run("e, 2019-01-01 00:05\n"); // only a is running, 400 m away
        assert!(matches!(
            &r.detections[0].outcome,
            Outcome::FalsePositive { nearest_leak_pipe: Some(p), nearest_leak_distance_m: Some(x) } if p == "a" && *x == 400.0
        ));
        assert_eq!(r.score_eur, -500.0);
        let r = run("c, 2019-01-01 00:45\n"); // after every leak ended
        assert_eq!((r.false_positives, r.score_eur), (1, -500.0));
        // before c starts, a detection at c can only match a (200 m away)
        let r = run("c, 2019-01-01 00:05\n");
        assert!(
            matches!(r.detections[0].outcome, Outcome::TruePositive { leak: 0, distance_m, .. } if distance_m == 200.0)
        );
        let r = run("a, 2019-01-01 00:20\n"); // the end step still counts
        assert_eq!(r.true_positives, 1);
    }

    #[test]
    fn a_leak_is_detected_in_time_wherever_the_detection_places_it() {
        // e at 00:05: only a runs, 400 m away — a false positive for the
        // score, but the alarm that told a had started. The second
        // detection (00:15, at c) goes to c, which a had not taken.
        let r = run("e, 2019-01-01 00:05\nc, 2019-01-01 00:15\n");
        assert_eq!((r.true_positives, r.false_positives), (1, 1));
        let d = &r.leak_detections;
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].step, d[0].line, d[0].distance_m),
            (Some(1), Some(1), Some(400.0))
        );
        assert_eq!(d[0].delay_h, Some(0.0));
        assert_eq!((d[1].step, d[1].distance_m), (Some(3), Some(0.0)));
        assert!((d[1].delay_h.unwrap() - 5.0 / 60.0).abs() < 1e-12);
        // Never detected: no step; after every leak ended: attributed to none.
        let r = run("c, 2019-01-01 00:45\n");
        assert!(r.leak_detections.iter().all(|d| d.step.is_none()));
    }

    #[test]
    fn time_order_and_dropped_detections() {
        let r = run("c, 2019-01-01 00:30\nc, 2019-01-01 00:10\na, 2018-12-31 23:55\n");
        assert_eq!(r.dropped.len(), 1);
        assert_eq!(r.detections[0].time, "2019-01-01 00:10");
        assert!(matches!(
            r.detections[0].outcome,
            Outcome::TruePositive { .. }
        ));
        assert!(matches!(r.detections[1].outcome, Outcome::Repeat { .. }));
        let text = r.render_text("t");
        assert!(
            text.contains("Detection entry : c, 2019-01-01 00:30\nNO detection\nScore: 0\n"),
            "{text}"
        );
        assert!(text.contains("Dropped (before 2019-01-01 00:00): a, 2018-12-31 23:55 (line 3)"));
    }

    #[test]
    fn bad_pipes_are_located_errors() {
        let net = chain();
        let s = Scorer::new(
            &net,
            parse_leak_labels(LABELS, "l").unwrap(),
            "l",
            flows(),
            ScoreParams::default(),
        )
        .unwrap();
        let e = s
            .score(
                &parse_results(
                    "a, 2019-01-01 00:10\nzz, 2019-01-01 00:10\nv, 2019-01-01 00:10\n",
                    "r.txt",
                )
                .unwrap(),
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.txt:2: unknown pipe ID zz\nr.txt:3: v is a pump or valve, not a pipe"
        );
        let labels = parse_leak_labels(
            "q, 2019-01-01 00:05, 2019-01-01 00:20, 0.01, abrupt, 2019-01-01 00:05\n",
            "l.yalm",
        )
        .unwrap();
        let e = Scorer::new(&net, labels, "l.yalm", flows(), ScoreParams::default()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("l.yalm:1: pipe q is not in the network"),
            "{e}"
        );
    }

    #[test]
    fn official_number_format() {
        assert_eq!(official_number(8902.722), "8902.722");
        assert_eq!(official_number(47071.67866), "47071.6787");
        assert_eq!(official_number(0.0), "0");
        assert_eq!(official_number(-500.0), "-500");
        assert_eq!(official_number(-0.00001), "0");
    }
}
