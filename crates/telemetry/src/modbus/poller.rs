//! One polling task per Modbus TCP device.
//!
//! Ticks sit on a grid of the device's poll interval (wall clock, ms), and
//! every tick yields exactly one sample per sensor — good, or marked with
//! why not (time-out, exception, comms lost, garbage, out of range, stale).
//! A whole tick, connect included, is bounded to 90 % of the interval, so a
//! slow device never makes the poller skip ticks; if the task is late anyway
//! (an overloaded machine) the skipped ticks are recorded as time-outs.
//! After a failed connect the device is retried with exponential back-off
//! (one interval doubling up to `max_backoff`, rounded down to whole
//! intervals), each tick in between recorded as comms lost; the retry comes
//! exactly at the logged delay after the failed tick.
//! A connection the device (or a gateway) closed is reopened and the read
//! retried once within the same tick's budget, so a healthy device behind a
//! gateway that closes idle or per-request connections loses no tick.

use super::plan::{plan_device, ReadKind, ReadRequest};
use crate::quality::{Grader, Quality, Sample};
use crate::sensor_map::SensorMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{timeout, Instant};
use tokio_modbus::client::{Context, Reader};
use tokio_modbus::Slave;

/// `detail` of a comms-lost sample recorded for a tick when aquatwin itself
/// was not running (filled in on restart).
pub const DETAIL_NOT_RUNNING: u8 = 1;
/// `detail` of a time-out sample recorded for a tick the poller skipped.
pub const DETAIL_SKIPPED: u8 = 2;

/// Counters shared by all device tasks.
#[derive(Debug, Default)]
pub struct PollStats {
    pub ticks: AtomicU64,
    pub samples: AtomicU64,
    pub good: AtomicU64,
    pub requests: AtomicU64,
    pub connects: AtomicU64,
}

/// Options of a device task.
#[derive(Debug, Clone)]
pub struct PollOptions {
    pub max_backoff: Duration,
    /// Latest stored timestamp of the device's sensors, from before this run:
    /// the ticks between it and the first tick are recorded as comms lost
    /// (aquatwin was not running), at most `max_fill` of them.
    pub resume_after_ms: Option<i64>,
    pub max_fill: u64,
    /// The clock ticks are stamped with (real time unless accelerated).
    pub clock: crate::time::DataClock,
}

impl Default for PollOptions {
    fn default() -> Self {
        PollOptions {
            max_backoff: Duration::from_secs(30),
            resume_after_ms: None,
            max_fill: 86_400,
            clock: crate::time::DataClock::REAL_TIME,
        }
    }
}

async fn read(ctx: &mut Context, r: &ReadRequest) -> Result<Result<Vec<u16>, u8>, std::io::Error> {
    let res = match r.kind {
        ReadKind::InputRegisters => ctx.read_input_registers(r.start, r.count).await,
        ReadKind::HoldingRegisters => ctx.read_holding_registers(r.start, r.count).await,
        ReadKind::Coils | ReadKind::DiscreteInputs => {
            unreachable!("no sensor type maps to coils or discrete inputs")
        }
    };
    match res {
        Ok(Ok(v)) => Ok(Ok(v)),
        Ok(Err(exc)) => Ok(Err(u8::from(exc))),
        Err(tokio_modbus::Error::Transport(e)) => Err(e),
        Err(e) => Err(std::io::Error::other(e.to_string())),
    }
}

/// What a transport error means, for the log. tokio-modbus turns the end of
/// the stream (the peer closed the connection) into `last_os_error()`, which
/// then shows a stale errno such as "Operation now in progress (os error
/// 115)"; those and the usual reset/EOF kinds read as a closed connection.
pub fn describe_transport_error(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    let closed_kind = matches!(
        e.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected
    );
    // 0: no error; 4 EINTR; 11 EAGAIN; 115 EINPROGRESS: stale errnos, not causes.
    let stale_errno = matches!(e.raw_os_error(), Some(0 | 4 | 11 | 115));
    if closed_kind || stale_errno {
        "the device closed the connection".to_string()
    } else {
        format!("connection lost: {e}")
    }
}

/// When to try connecting again after failed connects: an exponential
/// back-off counted in whole ticks, so the retry comes exactly after the
/// delay that is logged.
#[derive(Debug, Clone)]
pub struct Backoff {
    interval_ms: i64,
    max_ticks: i64,
    ticks: i64,
}

impl Backoff {
    pub fn new(interval_ms: i64, max: Duration) -> Backoff {
        let max_ticks = (max.as_millis() as i64 / interval_ms.max(1)).max(1);
        Backoff {
            interval_ms: interval_ms.max(1),
            max_ticks,
            ticks: 1,
        }
    }
    /// Connected: the next failure waits one interval again.
    pub fn reset(&mut self) {
        self.ticks = 1;
    }
    /// Whether no failure happened since the last reset.
    pub fn is_initial(&self) -> bool {
        self.ticks == 1
    }
    /// A connect at tick `tick_ms` failed: returns the tick of the next
    /// attempt and the delay, and doubles the back-off.
    pub fn failed(&mut self, tick_ms: i64) -> (i64, Duration) {
        let wait = self.ticks * self.interval_ms;
        self.ticks = (self.ticks * 2).min(self.max_ticks);
        (tick_ms + wait, Duration::from_millis(wait as u64))
    }
}

async fn connect(
    addr: Option<SocketAddr>,
    host: &str,
    unit_id: u8,
    limit: Duration,
) -> Result<Context, String> {
    match addr {
        Some(a) => timeout(
            limit,
            tokio_modbus::client::tcp::connect_slave(a, Slave(unit_id)),
        )
        .await
        .map_err(|_| "connect timed out".to_string())
        .and_then(|r| r.map_err(|e| e.to_string())),
        None => Err(format!("cannot resolve {host}")),
    }
}

/// Polls device `device` of `map` until `stop` turns true; sends each tick's
/// samples on `tx`.
pub async fn poll_device(
    map: Arc<SensorMap>,
    device: usize,
    tx: mpsc::UnboundedSender<Vec<Sample>>,
    mut stop: watch::Receiver<bool>,
    stats: Arc<PollStats>,
    opts: PollOptions,
) {
    let dev = &map.devices[device];
    let plan = plan_device(&map, device);
    if plan.is_empty() {
        return;
    }
    let interval = dev.poll_interval_ms as i64;
    let mut graders: Vec<Option<Grader>> = map
        .sensors
        .iter()
        .map(|s| {
            s.modbus.as_ref().filter(|p| p.device == device).map(|_| {
                Grader::new(
                    s.min_si,
                    s.max_si,
                    s.stale_after_s.map(|x| (x * 1000.0) as i64),
                )
            })
        })
        .collect();
    let sensors: Vec<usize> = plan
        .iter()
        .flat_map(|r| r.points.iter().map(|p| p.0))
        .collect();
    // Ticks are on the data clock's grid (wall time unless accelerated).
    let clock = opts.clock;
    let tick_budget = clock
        .wall_duration(interval * 9 / 10)
        .max(Duration::from_millis(1));

    let wall0 = clock.now_ms();
    let inst0 = Instant::now();
    // An accelerated clock starts at its data start: no tick before it
    // (the store may hold the history up to there).
    let first = (wall0.div_euclid(interval) + 1) * interval;
    let first = first.max(clock.data_start_ms.div_euclid(interval) * interval);
    let at = |data: i64| inst0 + clock.wall_duration(data - wall0);

    // Ticks missed while aquatwin was not running.
    if let Some(last) = opts.resume_after_ms {
        if last.rem_euclid(interval) == 0 && last < first - interval {
            let from = (last + interval).max(first - interval * opts.max_fill as i64);
            let mut batch = Vec::new();
            let mut t = from;
            while t < first {
                for &i in &sensors {
                    batch.push(Sample::missing(
                        &map.sensors[i].tag,
                        t,
                        Quality::CommsLost,
                        DETAIL_NOT_RUNNING,
                    ));
                }
                t += interval;
                if batch.len() >= 100_000 {
                    let _ = tx.send(std::mem::take(&mut batch));
                }
            }
            tracing::warn!(
                "device {}: recorded {} ticks from {} as comms lost (aquatwin was not running)",
                dev.name,
                (first - from) / interval,
                crate::time::format_timestamp(from)
            );
            let _ = tx.send(batch);
        }
    }

    let addr: Option<SocketAddr> = (dev.host.as_str(), dev.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next());
    let mut ctx: Option<Context> = None;
    let mut backoff = Backoff::new(interval, opts.max_backoff);
    let mut retry_tick = i64::MIN;
    let mut tick = first;
    let mut was_connected = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(at(tick)) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
        let deadline = Instant::now() + tick_budget;
        let mut batch: Vec<Sample> = Vec::with_capacity(sensors.len());
        if ctx.is_none() && tick >= retry_tick {
            stats.connects.fetch_add(1, Relaxed);
            let limit = Duration::from_millis(dev.timeout_ms).min(tick_budget);
            match connect(addr, &dev.host, dev.unit_id, limit).await {
                Ok(c) => {
                    if !was_connected {
                        tracing::info!(
                            "device {}: connected to {}:{}",
                            dev.name,
                            dev.host,
                            dev.port
                        );
                    }
                    ctx = Some(c);
                    was_connected = true;
                    backoff.reset();
                }
                Err(e) => {
                    let first_failure = was_connected || backoff.is_initial();
                    let (next, wait) = backoff.failed(tick);
                    if first_failure {
                        tracing::warn!("device {}: {e}; retrying in {:?}", dev.name, wait);
                    } else {
                        tracing::debug!("device {}: {e}; retrying in {:?}", dev.name, wait);
                    }
                    was_connected = false;
                    retry_tick = next;
                }
            }
        }
        for r in &plan {
            stats.requests.fetch_add(1, Relaxed);
            let mut outcome: Result<Vec<u16>, (Quality, u8)> = Err((Quality::CommsLost, 0));
            for attempt in 0..2 {
                let Some(c) = ctx.as_mut() else { break };
                let left = deadline.saturating_duration_since(Instant::now());
                let limit = Duration::from_millis(dev.timeout_ms).min(left);
                outcome = match timeout(limit, read(c, r)).await {
                    Ok(Ok(Ok(regs))) if regs.len() == r.count as usize => Ok(regs),
                    Ok(Ok(Ok(_))) => Err((Quality::BadValue, 0)),
                    Ok(Ok(Err(code))) => Err((Quality::Exception, code)),
                    Ok(Err(e)) => {
                        ctx = None;
                        let what = describe_transport_error(&e);
                        let left = deadline.saturating_duration_since(Instant::now());
                        // One reconnect per request, within the tick's budget: a
                        // connection that fails to reopen leaves `ctx` empty, so
                        // the tick's other requests do not retry.
                        if attempt == 0 && !left.is_zero() {
                            tracing::debug!("device {}: {what}; reconnecting", dev.name);
                            stats.connects.fetch_add(1, Relaxed);
                            let limit = Duration::from_millis(dev.timeout_ms).min(left);
                            match connect(addr, &dev.host, dev.unit_id, limit).await {
                                Ok(c) => {
                                    ctx = Some(c);
                                    continue;
                                }
                                Err(e2) => {
                                    tracing::warn!(
                                        "device {}: {what}; reconnect failed: {e2}",
                                        dev.name
                                    );
                                }
                            }
                        } else {
                            tracing::warn!("device {}: {what}", dev.name);
                        }
                        Err((Quality::CommsLost, 0))
                    }
                    Err(_) => {
                        // A late answer would desynchronise the stream: reconnect.
                        tracing::debug!("device {}: time-out after {:?}", dev.name, limit);
                        ctx = None;
                        Err((Quality::Timeout, 0))
                    }
                };
                break;
            }
            for &(i, off) in &r.points {
                let s = &map.sensors[i];
                let sample = match &outcome {
                    Ok(regs) => {
                        let p = s.modbus.as_ref().unwrap();
                        let w = p.data_type.words() as usize;
                        let raw = p.decode_raw(&regs[off as usize..off as usize + w]);
                        graders[i]
                            .as_mut()
                            .unwrap()
                            .grade(&s.tag, tick, s.raw_to_si(raw))
                    }
                    Err((q, d)) => Sample::missing(&s.tag, tick, *q, *d),
                };
                if sample.quality == Quality::Good {
                    stats.good.fetch_add(1, Relaxed);
                }
                batch.push(sample);
            }
        }
        stats.ticks.fetch_add(1, Relaxed);
        stats.samples.fetch_add(batch.len() as u64, Relaxed);
        if tx.send(batch).is_err() {
            break;
        }
        tick += interval;
        // Late by more than a tick: record the ticks skipped.
        let mut skipped = Vec::new();
        while Instant::now() > at(tick + interval) {
            for &i in &sensors {
                skipped.push(Sample::missing(
                    &map.sensors[i].tag,
                    tick,
                    Quality::Timeout,
                    DETAIL_SKIPPED,
                ));
            }
            tick += interval;
        }
        if !skipped.is_empty() {
            tracing::warn!(
                "device {}: poller late, {} ticks recorded as skipped",
                dev.name,
                skipped.len() / sensors.len()
            );
            stats.samples.fetch_add(skipped.len() as u64, Relaxed);
            let _ = tx.send(skipped);
        }
    }
    if let Some(mut c) = ctx {
        use tokio_modbus::client::Client;
        let _ = timeout(Duration::from_millis(200), c.disconnect()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_waits_exactly_what_it_logs() {
        // 1 s ticks, 30 s cap: 1, 2, 4, 8, 16, 30, 30 s after each failed tick.
        let mut b = Backoff::new(1000, Duration::from_secs(30));
        let mut t = 0;
        let mut waits = vec![];
        for _ in 0..7 {
            let (next, wait) = b.failed(t);
            assert_eq!(next - t, wait.as_millis() as i64, "logged = waited");
            waits.push(wait.as_secs());
            t = next;
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        b.reset();
        assert_eq!(b.failed(t).1, Duration::from_secs(1));
        // 0.7 s ticks: the cap rounds down to whole ticks (29.4 s).
        let mut b = Backoff::new(700, Duration::from_secs(30));
        let w: Vec<i64> = (0..8).map(|_| b.failed(0).1.as_millis() as i64).collect();
        assert_eq!(w, [700, 1400, 2800, 5600, 11200, 22400, 29400, 29400]);
        // A cap below the interval still waits one interval.
        let mut b = Backoff::new(5000, Duration::from_secs(1));
        assert_eq!(b.failed(0).1, Duration::from_secs(5));
    }

    #[test]
    fn closed_connection_is_named_as_such() {
        let stale = std::io::Error::from_raw_os_error(115);
        assert_eq!(
            describe_transport_error(&stale),
            "the device closed the connection"
        );
        let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        assert_eq!(
            describe_transport_error(&eof),
            "the device closed the connection"
        );
        let other = std::io::Error::from_raw_os_error(113); // EHOSTUNREACH
        assert!(describe_transport_error(&other).starts_with("connection lost: "));
    }
}
