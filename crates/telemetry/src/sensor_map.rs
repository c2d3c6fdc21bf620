//! Sensor maps (`sensors/*.toml`): which sensors a utility has, what network
//! element each measures, in which unit, and where its readings come from
//! (a Modbus TCP register and/or a SCADA export column).
//!
//! ```toml
//! time_zone = "Europe/Paris" # zone of the SCADA exports' timestamps; default "UTC"
//!
//! [[device]]
//! name = "plc-1"            # referenced by sensors
//! host = "127.0.0.1"
//! port = 5020
//! unit_id = 1
//! poll_interval_s = 1.0     # default 1
//! timeout_ms = 500          # default 500 (capped below the poll interval)
//!
//! [[sensor]]
//! tag = "n1"
//! kind = "pressure"         # pressure | flow | tank_level | demand
//! node = "n1"               # or link = "p227" (flow)
//! unit = "m"                # see units.rs for the list
//! interval_s = 300          # expected sample interval
//! range = [0, 120]          # valid range, in `unit`
//! stale_after_s = 3600      # optional: unchanged this long = stale
//! modbus = { device = "plc-1", table = "input", address = 0, type = "f32",
//!            word_order = "big", byte_order = "big", scale = 1.0, offset = 0.0 }
//! scada = { column = "n1" } # optional; the column defaults to the tag
//! ```
//!
//! A bad map is refused with every problem found, each as `file:line: reason`.
//!
//! `time_zone` is an IANA name (`Europe/Paris`, `America/New_York`, `UTC`)
//! from the tz database embedded in the binary. SCADA exports of this map
//! are read as wall-clock times of that zone and stored in UTC (see
//! [`crate::time`] for the repeated autumn hour and the missing spring hour).

use crate::time::TimeZone;
use crate::units::Unit;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use toml::Spanned;

/// What a sensor measures: the workspace's one sensor-kind type, shared
/// with detection through `hydraulics`.
pub use hydraulics::SensorKind as Kind;

/// The network element a sensor measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    Node(String),
    Link(String),
}

impl Element {
    pub fn id(&self) -> &str {
        match self {
            Element::Node(s) | Element::Link(s) => s,
        }
    }
}

/// Modbus register table (function code 4 and 3; both are reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Input,
    Holding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    U16,
    I16,
    U32,
    I32,
    F32,
    F64,
}

impl DataType {
    /// Number of 16-bit registers.
    pub fn words(self) -> u16 {
        match self {
            DataType::U16 | DataType::I16 => 1,
            DataType::U32 | DataType::I32 | DataType::F32 => 2,
            DataType::F64 => 4,
        }
    }
}

/// Order of words (registers) or of bytes within a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    #[default]
    Big,
    Little,
}

/// Where a sensor lives on a Modbus device, and how to decode it:
/// engineering value (in the sensor's unit) = raw × scale + offset.
#[derive(Debug, Clone, PartialEq)]
pub struct ModbusPoint {
    /// Index into [`SensorMap::devices`].
    pub device: usize,
    pub table: Table,
    pub address: u16,
    pub data_type: DataType,
    pub word_order: Order,
    pub byte_order: Order,
    pub scale: f64,
    pub offset: f64,
}

impl ModbusPoint {
    /// Decodes the point's registers into a raw number (before scale/offset).
    pub fn decode_raw(&self, regs: &[u16]) -> f64 {
        let n = self.data_type.words() as usize;
        let mut bytes = [0u8; 8];
        for i in 0..n {
            let w = match self.word_order {
                Order::Big => regs[i],
                Order::Little => regs[n - 1 - i],
            };
            let w = match self.byte_order {
                Order::Big => w,
                Order::Little => w.swap_bytes(),
            };
            bytes[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
        }
        match self.data_type {
            DataType::U16 => u16::from_be_bytes([bytes[0], bytes[1]]) as f64,
            DataType::I16 => i16::from_be_bytes([bytes[0], bytes[1]]) as f64,
            DataType::U32 => u32::from_be_bytes(bytes[..4].try_into().unwrap()) as f64,
            DataType::I32 => i32::from_be_bytes(bytes[..4].try_into().unwrap()) as f64,
            DataType::F32 => f32::from_be_bytes(bytes[..4].try_into().unwrap()) as f64,
            DataType::F64 => f64::from_be_bytes(bytes),
        }
    }

    /// Encodes a raw number into the point's registers (the inverse of
    /// [`decode_raw`](Self::decode_raw); integers saturate).
    pub fn encode_raw(&self, raw: f64) -> Vec<u16> {
        let n = self.data_type.words() as usize;
        let mut bytes = [0u8; 8];
        match self.data_type {
            DataType::U16 => bytes[..2].copy_from_slice(&(raw.round() as u16).to_be_bytes()),
            DataType::I16 => bytes[..2].copy_from_slice(&(raw.round() as i16).to_be_bytes()),
            DataType::U32 => bytes[..4].copy_from_slice(&(raw.round() as u32).to_be_bytes()),
            DataType::I32 => bytes[..4].copy_from_slice(&(raw.round() as i32).to_be_bytes()),
            DataType::F32 => bytes[..4].copy_from_slice(&(raw as f32).to_be_bytes()),
            DataType::F64 => bytes.copy_from_slice(&raw.to_be_bytes()),
        }
        let mut words: Vec<u16> = (0..n)
            .map(|i| {
                let w = u16::from_be_bytes([bytes[2 * i], bytes[2 * i + 1]]);
                match self.byte_order {
                    Order::Big => w,
                    Order::Little => w.swap_bytes(),
                }
            })
            .collect();
        if self.word_order == Order::Little {
            words.reverse();
        }
        words
    }
}

/// A Modbus TCP device (one connection, one unit id).
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub unit_id: u8,
    pub poll_interval_ms: u64,
    pub timeout_ms: u64,
}

/// One validated sensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Sensor {
    pub tag: String,
    pub kind: Kind,
    pub element: Element,
    pub unit: Unit,
    pub interval_s: f64,
    /// Valid range as written in the map, in `unit`.
    pub range: (f64, f64),
    /// Valid range in SI.
    pub min_si: f64,
    pub max_si: f64,
    pub stale_after_s: Option<f64>,
    pub modbus: Option<ModbusPoint>,
    /// Column name in SCADA exports.
    pub scada_column: String,
    /// Only files whose name contains this take the column (BattLeDIM has
    /// a column `n1` in both its pressure and its demand exports).
    pub scada_file: Option<String>,
    /// Line of the sensor's `tag` in the map file.
    pub line: usize,
}

impl Sensor {
    /// SI value of a raw register number.
    pub fn raw_to_si(&self, raw: f64) -> f64 {
        let p = self.modbus.as_ref();
        let (s, o) = p.map(|p| (p.scale, p.offset)).unwrap_or((1.0, 0.0));
        self.unit.to_si(raw * s + o)
    }
    /// Raw register number of an SI value.
    pub fn si_to_raw(&self, si: f64) -> f64 {
        let p = self.modbus.as_ref();
        let (s, o) = p.map(|p| (p.scale, p.offset)).unwrap_or((1.0, 0.0));
        (self.unit.from_si(si) - o) / s
    }
}

/// A validated sensor map.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorMap {
    pub file: String,
    /// Zone of the wall-clock timestamps of this map's SCADA exports
    /// (`time_zone` key; UTC when absent).
    pub time_zone: TimeZone,
    pub devices: Vec<Device>,
    pub sensors: Vec<Sensor>,
}

/// One problem in a sensor map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapError {
    pub file: String,
    /// 1-based; 0 when the problem has no single place.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.reason)
        } else {
            write!(f, "{}: {}", self.file, self.reason)
        }
    }
}

/// Every problem found in a sensor map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapErrors(pub Vec<MapError>);

impl fmt::Display for MapErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
impl std::error::Error for MapErrors {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    #[serde(default)]
    #[allow(dead_code)]
    network: Option<String>,
    #[serde(default)]
    time_zone: Option<Spanned<String>>,
    #[serde(default)]
    device: Vec<Spanned<RawDevice>>,
    #[serde(default)]
    sensor: Vec<Spanned<RawSensor>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    name: String,
    host: String,
    port: u16,
    #[serde(default = "one")]
    unit_id: u8,
    #[serde(default = "one_f")]
    poll_interval_s: f64,
    #[serde(default = "default_timeout")]
    timeout_ms: u64,
}
fn one() -> u8 {
    1
}
fn one_f() -> f64 {
    1.0
}
fn default_timeout() -> u64 {
    500
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSensor {
    tag: Spanned<String>,
    kind: Kind,
    node: Option<Spanned<String>>,
    link: Option<Spanned<String>>,
    unit: Spanned<String>,
    interval_s: f64,
    range: [f64; 2],
    stale_after_s: Option<f64>,
    modbus: Option<Spanned<RawModbus>>,
    scada: Option<RawScada>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModbus {
    device: String,
    table: Table,
    address: u16,
    #[serde(rename = "type")]
    data_type: DataType,
    #[serde(default)]
    word_order: Order,
    #[serde(default)]
    byte_order: Order,
    #[serde(default = "one_f")]
    scale: f64,
    #[serde(default)]
    offset: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScada {
    column: Option<String>,
    file: Option<String>,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl SensorMap {
    /// Parses and validates a sensor map (without a network; see
    /// [`validate_against`](Self::validate_against)).
    pub fn parse(text: &str, file: &str) -> Result<SensorMap, MapErrors> {
        let err = |line: usize, reason: String| MapError {
            file: file.to_string(),
            line,
            reason,
        };
        let raw: RawMap = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
            MapErrors(vec![err(line, e.message().to_string())])
        })?;
        let mut errors = Vec::new();
        let time_zone = match &raw.time_zone {
            None => TimeZone::UTC,
            Some(name) => crate::time::zone(name.get_ref()).unwrap_or_else(|e| {
                errors.push(err(line_of(text, name.span().start), e.to_string()));
                TimeZone::UTC
            }),
        };
        let mut devices = Vec::new();
        let mut device_ix: HashMap<String, usize> = HashMap::new();
        for d in &raw.device {
            let line = line_of(text, d.span().start);
            let d = d.get_ref();
            if device_ix.insert(d.name.clone(), devices.len()).is_some() {
                errors.push(err(line, format!("duplicate device name '{}'", d.name)));
            }
            if !(d.poll_interval_s.is_finite() && d.poll_interval_s >= 0.01) {
                errors.push(err(
                    line,
                    format!("device '{}': poll_interval_s must be ≥ 0.01", d.name),
                ));
            }
            if d.timeout_ms == 0 {
                errors.push(err(
                    line,
                    format!("device '{}': timeout_ms must be > 0", d.name),
                ));
            }
            devices.push(Device {
                name: d.name.clone(),
                host: d.host.clone(),
                port: d.port,
                unit_id: d.unit_id,
                poll_interval_ms: (d.poll_interval_s * 1000.0).round().max(10.0) as u64,
                timeout_ms: d.timeout_ms.max(1),
            });
        }
        let mut sensors = Vec::new();
        let mut tags: HashMap<String, usize> = HashMap::new();
        let mut columns: HashMap<String, usize> = HashMap::new();
        for s in &raw.sensor {
            let s = s.get_ref();
            let line = line_of(text, s.tag.span().start);
            let tag = s.tag.get_ref().clone();
            if tag.is_empty() || tag.contains([',', ';', '"', '\n']) {
                errors.push(err(
                    line,
                    format!("tag '{tag}' is empty or contains , ; \" or a newline"),
                ));
            }
            if let Some(first) = tags.insert(tag.clone(), line) {
                errors.push(err(
                    line,
                    format!("duplicate tag '{tag}' (first defined at line {first})"),
                ));
            }
            let element = match (&s.node, &s.link) {
                (Some(n), None) => Element::Node(n.get_ref().clone()),
                (None, Some(l)) => Element::Link(l.get_ref().clone()),
                _ => {
                    errors.push(err(
                        line,
                        format!("sensor '{tag}' must name exactly one of `node` or `link`"),
                    ));
                    continue;
                }
            };
            match (s.kind, &element) {
                (Kind::Flow, Element::Node(_)) => errors.push(err(
                    line,
                    format!("flow sensor '{tag}' must name a `link`, not a node"),
                )),
                (Kind::Pressure | Kind::TankLevel | Kind::Demand, Element::Link(_)) => {
                    errors.push(err(
                        line,
                        format!(
                            "{} sensor '{tag}' must name a `node`, not a link",
                            s.kind.name()
                        ),
                    ))
                }
                _ => {}
            }
            let unit_line = line_of(text, s.unit.span().start);
            let unit = match Unit::parse(s.unit.get_ref()) {
                Some(u) if u.fits(s.kind) => u,
                Some(u) => {
                    errors.push(err(
                        unit_line,
                        format!(
                            "sensor '{tag}': unit '{}' cannot express {}",
                            u.name,
                            s.kind.name()
                        ),
                    ));
                    continue;
                }
                None => {
                    errors.push(err(
                        unit_line,
                        format!(
                            "sensor '{tag}': unknown unit '{}' (known: {})",
                            s.unit.get_ref(),
                            Unit::known_names().join(", ")
                        ),
                    ));
                    continue;
                }
            };
            if !(s.interval_s.is_finite() && s.interval_s > 0.0) {
                errors.push(err(line, format!("sensor '{tag}': interval_s must be > 0")));
            }
            let [lo, hi] = s.range;
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                errors.push(err(
                    line,
                    format!("sensor '{tag}': range [{lo}, {hi}] must be finite with min < max"),
                ));
            }
            let modbus = match &s.modbus {
                None => None,
                Some(m) => {
                    let mline = line_of(text, m.span().start);
                    let m = m.get_ref();
                    match device_ix.get(&m.device) {
                        None => {
                            errors.push(err(
                                mline,
                                format!("sensor '{tag}': unknown device '{}'", m.device),
                            ));
                            None
                        }
                        Some(&d) => {
                            if m.address as u32 + m.data_type.words() as u32 > 65536 {
                                errors.push(err(
                                    mline,
                                    format!("sensor '{tag}': registers run past address 65535"),
                                ));
                            }
                            if !(m.scale.is_finite() && m.scale != 0.0 && m.offset.is_finite()) {
                                errors.push(err(mline, format!("sensor '{tag}': scale must be finite and non-zero, offset finite")));
                            }
                            Some(ModbusPoint {
                                device: d,
                                table: m.table,
                                address: m.address,
                                data_type: m.data_type,
                                word_order: m.word_order,
                                byte_order: m.byte_order,
                                scale: m.scale,
                                offset: m.offset,
                            })
                        }
                    }
                }
            };
            let scada_column = s
                .scada
                .as_ref()
                .and_then(|c| c.column.clone())
                .unwrap_or_else(|| tag.clone());
            let scada_file = s.scada.as_ref().and_then(|c| c.file.clone());
            let key = format!("{}\u{0}{scada_column}", scada_file.as_deref().unwrap_or(""));
            if let Some(first) = columns.insert(key, line) {
                errors.push(err(
                    line,
                    format!("sensor '{tag}': SCADA column '{scada_column}' already used by the sensor at line {first}"),
                ));
            }
            sensors.push(Sensor {
                tag,
                kind: s.kind,
                element,
                unit,
                interval_s: s.interval_s,
                range: (lo, hi),
                min_si: unit.to_si(lo),
                max_si: unit.to_si(hi),
                stale_after_s: s.stale_after_s,
                modbus,
                scada_column,
                scada_file,
                line,
            });
        }
        // Overlapping registers on one device and table.
        // (device, table) -> (first register, end register, sensor).
        type Spans = BTreeMap<(usize, Table), Vec<(u32, u32, usize)>>;
        let mut by_table = Spans::new();
        for (i, s) in sensors.iter().enumerate() {
            if let Some(p) = &s.modbus {
                let a = p.address as u32;
                by_table.entry((p.device, p.table)).or_default().push((
                    a,
                    a + p.data_type.words() as u32,
                    i,
                ));
            }
        }
        for ((d, table), mut ranges) in by_table {
            ranges.sort();
            for w in ranges.windows(2) {
                let (a0, e0, i0) = w[0];
                let (a1, _, i1) = w[1];
                if a1 < e0 {
                    errors.push(err(
                        sensors[i1].line,
                        format!(
                            "sensor '{}': {:?} registers {}.. on device '{}' overlap those of sensor '{}' ({}..{}, line {})",
                            sensors[i1].tag,
                            table,
                            a1,
                            devices[d].name,
                            sensors[i0].tag,
                            a0,
                            e0 - 1,
                            sensors[i0].line
                        ),
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(SensorMap {
                file: file.to_string(),
                time_zone,
                devices,
                sensors,
            })
        } else {
            Err(MapErrors(errors))
        }
    }

    /// Checks every sensor's element against a network model: the node or
    /// link must exist, and a tank-level sensor must sit on a tank.
    pub fn validate_against(&self, net: &network::Network) -> Result<(), MapErrors> {
        let mut errors = Vec::new();
        for s in &self.sensors {
            let reason = match &s.element {
                Element::Node(id) => match net.node_index(id) {
                    None => Some(format!(
                        "sensor '{}': unknown node '{id}' in the network",
                        s.tag
                    )),
                    Some(i)
                        if s.kind == Kind::TankLevel
                            && !matches!(net.nodes[i].kind, network::NodeKind::Tank(_)) =>
                    {
                        Some(format!(
                            "sensor '{}': tank-level sensor on node '{id}', which is not a tank",
                            s.tag
                        ))
                    }
                    Some(_) => None,
                },
                Element::Link(id) => net
                    .link_index(id)
                    .is_none()
                    .then(|| format!("sensor '{}': unknown link '{id}' in the network", s.tag)),
            };
            if let Some(reason) = reason {
                errors.push(MapError {
                    file: self.file.clone(),
                    line: s.line,
                    reason,
                });
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(MapErrors(errors))
        }
    }

    pub fn sensor_index(&self, tag: &str) -> Option<usize> {
        self.sensors.iter().position(|s| s.tag == tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[device]]
name = "plc"
host = "127.0.0.1"
port = 5020

[[sensor]]
tag = "n1"
kind = "pressure"
node = "n1"
unit = "m"
interval_s = 300
range = [0, 120]
modbus = { device = "plc", table = "input", address = 0, type = "f32" }

[[sensor]]
tag = "PUMP_1"
kind = "flow"
link = "PUMP_1"
unit = "m3/h"
interval_s = 300
range = [0, 500]
modbus = { device = "plc", table = "input", address = 2, type = "i16", scale = 0.1 }
"#;

    #[test]
    fn parses_a_good_map() {
        let m = SensorMap::parse(GOOD, "good.toml").unwrap();
        assert_eq!(m.sensors.len(), 2);
        assert_eq!(m.sensors[1].line, 17);
        assert!((m.sensors[1].max_si - 500.0 / 3600.0).abs() < 1e-12);
        assert_eq!(m.devices[0].poll_interval_ms, 1000);
    }

    fn first_error(text: &str) -> String {
        SensorMap::parse(text, "bad.toml").unwrap_err().0[0].to_string()
    }

    #[test]
    fn time_zone_defaults_to_utc_and_is_checked() {
        let m = SensorMap::parse(GOOD, "good.toml").unwrap();
        assert_eq!(m.time_zone, TimeZone::UTC);
        let paris = format!("time_zone = \"Europe/Paris\"\n{GOOD}");
        let m = SensorMap::parse(&paris, "good.toml").unwrap();
        assert_eq!(m.time_zone.iana_name(), Some("Europe/Paris"));
        let e = first_error(&format!("time_zone = \"Europe/Pariss\"\n{GOOD}"));
        assert!(
            e.starts_with("bad.toml:1: unknown time zone 'Europe/Pariss'"),
            "{e}"
        );
    }

    #[test]
    fn refuses_duplicate_tag_with_line() {
        let bad = GOOD.replace("tag = \"PUMP_1\"", "tag = \"n1\"");
        let e = first_error(&bad);
        assert!(
            e.starts_with("bad.toml:17: duplicate tag 'n1' (first defined at line 8)"),
            "{e}"
        );
    }

    #[test]
    fn refuses_unknown_unit_with_line() {
        let bad = GOOD.replace("unit = \"m3/h\"", "unit = \"barrels/day\"");
        let e = first_error(&bad);
        assert!(
            e.starts_with("bad.toml:20: sensor 'PUMP_1': unknown unit 'barrels/day'"),
            "{e}"
        );
    }

    #[test]
    fn refuses_overlapping_registers() {
        let bad = GOOD.replace("address = 2", "address = 1");
        let e = first_error(&bad);
        assert!(
            e.starts_with("bad.toml:17: sensor 'PUMP_1': Input registers 1.."),
            "{e}"
        );
        assert!(e.contains("overlap those of sensor 'n1'"), "{e}");
    }

    #[test]
    fn refuses_syntax_and_unknown_fields_with_line() {
        let bad = GOOD.replace(
            "interval_s = 300\nrange = [0, 500]",
            "intervall_s = 300\nrange = [0, 500]",
        );
        let e = first_error(&bad);
        assert!(
            e.starts_with("bad.toml:1") || e.contains("intervall_s"),
            "{e}"
        );
        assert!(e.contains("intervall_s"), "{e}");
        let e = first_error("[[sensor]]\ntag = \n");
        assert!(e.starts_with("bad.toml:2:"), "{e}");
    }

    #[test]
    fn encode_decode_round_trip() {
        for dt in [
            DataType::U16,
            DataType::I16,
            DataType::U32,
            DataType::I32,
            DataType::F32,
            DataType::F64,
        ] {
            for wo in [Order::Big, Order::Little] {
                for bo in [Order::Big, Order::Little] {
                    let p = ModbusPoint {
                        device: 0,
                        table: Table::Input,
                        address: 0,
                        data_type: dt,
                        word_order: wo,
                        byte_order: bo,
                        scale: 1.0,
                        offset: 0.0,
                    };
                    let v = if matches!(dt, DataType::U16 | DataType::U32) {
                        1234.0
                    } else {
                        -1234.0
                    };
                    let regs = p.encode_raw(v);
                    assert_eq!(regs.len(), dt.words() as usize);
                    assert_eq!(p.decode_raw(&regs), v, "{dt:?} {wo:?} {bo:?}");
                }
            }
        }
        // float32 50.0 big-endian is 0x4248 0x0000 (what pymodbus serves).
        let p = ModbusPoint {
            device: 0,
            table: Table::Holding,
            address: 0,
            data_type: DataType::F32,
            word_order: Order::Big,
            byte_order: Order::Big,
            scale: 1.0,
            offset: 0.0,
        };
        assert_eq!(p.decode_raw(&[0x4248, 0x0000]), 50.0);
    }
}
