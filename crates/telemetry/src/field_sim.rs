//! A simulated field: Modbus TCP servers on loopback that serve, in the
//! register layout of a sensor map, the values of a "truth" source.
//!
//! The truth comes through the [`TruthSource`] trait. Shipped sources:
//! [`ScadaReplay`] (a recorded SCADA export replayed against the clock),
//! [`Synthetic`] (smooth made-up signals inside each sensor's range, for
//! load tests) and [`HydraulicTruth`] (a live extended-period simulation of
//! the network, with leaks: [`hydraulic`]); [`Noisy`] adds sensor noise to
//! any of them. The server refuses every write function code (it is as
//! read-only as the poller) and counts every function code it receives, so
//! tests can prove what the poller sent.

pub mod hydraulic;

pub use hydraulic::{HydraulicTruth, Leak};

use crate::quality::Sample;
use crate::scada::{Row, ScadaReader};
use crate::sensor_map::{SensorMap, Table};
use crate::time::now_ms;
use std::collections::{BTreeMap, HashMap};
use std::io::BufReader;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

/// What the simulated sensors "really" read.
pub trait TruthSource: Send {
    /// Fills `out[i]` with the SI value of sensor `i` of the map at wall
    /// time `t_ms` (`None`: no value, the register keeps its last one).
    fn values_at(&mut self, t_ms: i64, out: &mut [Option<f64>]);
}

impl<T: TruthSource + ?Sized> TruthSource for Box<T> {
    fn values_at(&mut self, t_ms: i64, out: &mut [Option<f64>]) {
        (**self).values_at(t_ms, out)
    }
}

/// Why SCADA exports cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No rows in the exports at the path.
    #[error("{0}")]
    Files(String),
    /// The path cannot be listed, or holds no exports.
    #[error(transparent)]
    List(#[from] crate::ingest::ImportError),
    #[error("cannot open {file}")]
    Open {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Scada(#[from] crate::scada::ScadaError),
}

/// Replays SCADA exports: data time = first row + (now − start) × speed,
/// looping at the end. Values hold from one row to the next.
pub struct ScadaReplay {
    times: Vec<i64>,
    /// Row-major: `values[row * n + sensor]`, NaN = none.
    values: Vec<f64>,
    n: usize,
    start_wall: i64,
    speed: f64,
}

impl ScadaReplay {
    /// Loads every `*.csv` of `dir` (or the one file `dir`), taking the
    /// columns the sensor map names (see [`crate::ingest::columns_for_file`]).
    pub fn load(map: &SensorMap, path: &Path, speed: f64) -> Result<ScadaReplay, ReplayError> {
        let files = crate::ingest::scada_files(path)?;
        let n = map.sensors.len();
        let mut rows: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
        for f in &files {
            let name = f.display().to_string();
            let file = std::fs::File::open(f).map_err(|source| ReplayError::Open {
                file: name.clone(),
                source,
            })?;
            let mut rd = ScadaReader::new(BufReader::new(file), &name)?
                .with_time_zone(map.time_zone.clone());
            let cols = crate::ingest::columns_for_file(map, f, rd.columns());
            let mut row = Row {
                line: 0,
                ts_ms: 0,
                values: vec![],
            };
            while rd.read_row(&mut row)? {
                let r = rows.entry(row.ts_ms).or_insert_with(|| vec![f64::NAN; n]);
                for (c, s) in cols.iter().enumerate() {
                    if let (Some(s), Some(v)) = (s, row.values[c]) {
                        r[*s] = map.sensors[*s].unit.to_si(v);
                    }
                }
            }
        }
        if rows.is_empty() {
            return Err(ReplayError::Files(format!(
                "{}: no data rows",
                path.display()
            )));
        }
        let times = rows.keys().copied().collect();
        let values = rows.into_values().flatten().collect();
        Ok(ScadaReplay {
            times,
            values,
            n,
            start_wall: now_ms(),
            speed: speed.max(1e-6),
        })
    }
}

impl TruthSource for ScadaReplay {
    fn values_at(&mut self, t_ms: i64, out: &mut [Option<f64>]) {
        let t0 = self.times[0];
        let span = (self.times[self.times.len() - 1] - t0).max(1);
        let data_t =
            t0 + (((t_ms - self.start_wall) as f64 * self.speed) as i64).rem_euclid(span + 1);
        let row = self
            .times
            .partition_point(|&t| t <= data_t)
            .saturating_sub(1);
        for (i, o) in out.iter_mut().enumerate().take(self.n) {
            let v = self.values[row * self.n + i];
            *o = v.is_finite().then_some(v);
        }
    }
}

/// Smooth signals inside each sensor's valid range (a daily-ish sine with a
/// per-sensor phase), for load tests.
pub struct Synthetic {
    ranges: Vec<(f64, f64)>,
}

impl Synthetic {
    pub fn new(map: &SensorMap) -> Synthetic {
        Synthetic {
            ranges: map.sensors.iter().map(|s| (s.min_si, s.max_si)).collect(),
        }
    }
}

impl TruthSource for Synthetic {
    fn values_at(&mut self, t_ms: i64, out: &mut [Option<f64>]) {
        for (i, o) in out.iter_mut().enumerate() {
            let (lo, hi) = self.ranges[i];
            let phase = i as f64 * 0.7;
            let x = (t_ms as f64 / 60_000.0 + phase).sin();
            *o = Some(lo + (hi - lo) * (0.5 + 0.3 * x));
        }
    }
}

/// Multiplies each value by (1 + σ·N(0,1)): sensor noise.
pub struct Noisy<T> {
    pub inner: T,
    pub sigma: f64,
    state: u64,
}

impl<T> Noisy<T> {
    pub fn new(inner: T, sigma: f64, seed: u64) -> Noisy<T> {
        Noisy {
            inner,
            sigma,
            state: seed | 1,
        }
    }
    fn uniform(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        ((self.state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

impl<T: TruthSource> TruthSource for Noisy<T> {
    fn values_at(&mut self, t_ms: i64, out: &mut [Option<f64>]) {
        self.inner.values_at(t_ms, out);
        for v in out.iter_mut().flatten() {
            let (u1, u2) = (self.uniform(), self.uniform());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            *v *= 1.0 + self.sigma * z;
        }
    }
}

/// Register tables of every unit behind one port.
#[derive(Default)]
struct Units {
    /// (unit id, table) → registers, and which addresses are defined.
    tables: HashMap<(u8, Table), (Vec<u16>, Vec<bool>)>,
}

/// Counts of requests the simulated field received, by function code.
#[derive(Debug)]
pub struct FieldStats {
    pub by_function: [AtomicU64; 256],
}

impl Default for FieldStats {
    fn default() -> Self {
        FieldStats {
            by_function: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl FieldStats {
    pub fn count(&self, fc: u8) -> u64 {
        self.by_function[fc as usize].load(Relaxed)
    }
    /// Requests with a function code other than 1–4 (writes and the rest).
    pub fn non_read(&self) -> u64 {
        (0..256)
            .filter(|c| !(1..=4).contains(c))
            .map(|c| self.by_function[c].load(Relaxed))
            .sum()
    }
}

#[derive(Clone)]
struct Service {
    units: Arc<RwLock<Units>>,
    stats: Arc<FieldStats>,
}

fn function_code(r: &Request<'_>) -> u8 {
    r.function_code().value()
}

impl tokio_modbus::server::Service for Service {
    type Request = SlaveRequest<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = std::future::Ready<Result<Response, ExceptionCode>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        self.stats.by_function[function_code(&req.request) as usize].fetch_add(1, Relaxed);
        let units = self.units.read().unwrap();
        let read = |table: Table, addr: u16, cnt: u16| -> Result<Vec<u16>, ExceptionCode> {
            let (regs, defined) = units
                .tables
                .get(&(req.slave, table))
                .ok_or(ExceptionCode::GatewayTargetDevice)?;
            let (a, e) = (addr as usize, addr as usize + cnt as usize);
            if cnt == 0 || cnt > 125 || e > regs.len() || !defined[a..e].iter().all(|&d| d) {
                return Err(ExceptionCode::IllegalDataAddress);
            }
            Ok(regs[a..e].to_vec())
        };
        let res = match req.request {
            Request::ReadInputRegisters(a, c) => {
                read(Table::Input, a, c).map(Response::ReadInputRegisters)
            }
            Request::ReadHoldingRegisters(a, c) => {
                read(Table::Holding, a, c).map(Response::ReadHoldingRegisters)
            }
            // Read-only field: every write (and anything else) is refused.
            _ => Err(ExceptionCode::IllegalFunction),
        };
        std::future::ready(res)
    }
}

/// A running simulated field.
pub struct FieldSim {
    pub stats: Arc<FieldStats>,
    pub addrs: Vec<SocketAddr>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl FieldSim {
    /// Binds one listener per distinct port of the map's devices on `bind`
    /// (e.g. 127.0.0.1), fills the registers from `truth` every `update`,
    /// and serves until [`stop`](Self::stop).
    pub async fn start(
        map: Arc<SensorMap>,
        mut truth: Box<dyn TruthSource>,
        bind: std::net::IpAddr,
        update: Duration,
    ) -> std::io::Result<FieldSim> {
        let stats = Arc::new(FieldStats::default());
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let mut by_port: BTreeMap<u16, Arc<RwLock<Units>>> = BTreeMap::new();
        for s in &map.sensors {
            let Some(p) = &s.modbus else { continue };
            let d = &map.devices[p.device];
            let units = by_port.entry(d.port).or_default();
            let mut u = units.write().unwrap();
            let (regs, def) = u.tables.entry((d.unit_id, p.table)).or_default();
            let end = p.address as usize + p.data_type.words() as usize;
            if regs.len() < end {
                regs.resize(end, 0);
                def.resize(end, false);
            }
            def[p.address as usize..end]
                .iter_mut()
                .for_each(|d| *d = true);
        }
        let mut tasks = Vec::new();
        let mut addrs = Vec::new();
        for (&port, units) in &by_port {
            let listener = tokio::net::TcpListener::bind(SocketAddr::new(bind, port)).await?;
            addrs.push(listener.local_addr()?);
            let svc = Service {
                units: units.clone(),
                stats: stats.clone(),
            };
            let mut stop_rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let server = tokio_modbus::server::tcp::Server::new(listener);
                let new_service = move |_a| Ok(Some(svc.clone()));
                let on_connected = |stream, addr| {
                    let ns = new_service.clone();
                    async move { tokio_modbus::server::tcp::accept_tcp_connection(stream, addr, ns) }
                };
                let _ = server
                    .serve_until(&on_connected, |e| tracing::debug!("field-sim connection: {e}"), async move {
                        let _ = stop_rx.wait_for(|s| *s).await;
                    })
                    .await;
            }));
        }
        // The truth updater.
        let mut stop_rx = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut vals = vec![None; map.sensors.len()];
            let mut tick = tokio::time::interval(update);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop_rx.changed() => {}
                }
                if *stop_rx.borrow() {
                    break;
                }
                truth.values_at(now_ms(), &mut vals);
                for (i, s) in map.sensors.iter().enumerate() {
                    let (Some(p), Some(v)) = (&s.modbus, vals[i]) else {
                        continue;
                    };
                    let d = &map.devices[p.device];
                    let words = p.encode_raw(s.si_to_raw(v));
                    let mut u = by_port[&d.port].write().unwrap();
                    if let Some((regs, _)) = u.tables.get_mut(&(d.unit_id, p.table)) {
                        regs[p.address as usize..p.address as usize + words.len()]
                            .copy_from_slice(&words);
                    }
                }
            }
        }));
        Ok(FieldSim {
            stats,
            addrs,
            stop,
            tasks,
        })
    }

    /// Stops serving and waits for the tasks.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Truth values as samples (for comparing what was ingested with what was served).
pub fn truth_samples(map: &SensorMap, truth: &mut dyn TruthSource, t_ms: i64) -> Vec<Sample> {
    let mut v = vec![None; map.sensors.len()];
    truth.values_at(t_ms, &mut v);
    map.sensors
        .iter()
        .zip(v)
        .filter_map(|(s, v)| v.map(|v| Sample::good(&s.tag, t_ms, v)))
        .collect()
}
