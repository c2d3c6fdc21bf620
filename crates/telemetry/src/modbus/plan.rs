//! Grouping a device's registers into read requests.

use crate::sensor_map::{SensorMap, Table};

/// The only Modbus requests aquatwin sends. All are reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReadKind {
    /// Function code 1.
    Coils,
    /// Function code 2.
    DiscreteInputs,
    /// Function code 3.
    HoldingRegisters,
    /// Function code 4.
    InputRegisters,
}

impl ReadKind {
    pub fn function_code(self) -> u8 {
        match self {
            ReadKind::Coils => 1,
            ReadKind::DiscreteInputs => 2,
            ReadKind::HoldingRegisters => 3,
            ReadKind::InputRegisters => 4,
        }
    }
    pub fn of(table: Table) -> ReadKind {
        match table {
            Table::Input => ReadKind::InputRegisters,
            Table::Holding => ReadKind::HoldingRegisters,
        }
    }
}

/// Largest register count of one read (Modbus limit).
pub const MAX_REGISTERS: u16 = 125;

/// One read request and the sensors it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRequest {
    pub kind: ReadKind,
    pub start: u16,
    pub count: u16,
    /// (sensor index in the map, register offset from `start`).
    pub points: Vec<(usize, u16)>,
}

/// The read requests that cover every Modbus sensor of `device`.
pub fn plan_device(map: &SensorMap, device: usize) -> Vec<ReadRequest> {
    let mut pts: Vec<(ReadKind, u16, u16, usize)> = map
        .sensors
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let p = s.modbus.as_ref()?;
            (p.device == device).then(|| (ReadKind::of(p.table), p.address, p.data_type.words(), i))
        })
        .collect();
    pts.sort();
    let mut out: Vec<ReadRequest> = Vec::new();
    for (kind, addr, words, i) in pts {
        if let Some(r) = out.last_mut() {
            let end = r.start as u32 + r.count as u32;
            if r.kind == kind
                && addr as u32 == end
                && end + words as u32 - r.start as u32 <= MAX_REGISTERS as u32
            {
                r.points.push((i, addr - r.start));
                r.count += words;
                continue;
            }
        }
        out.push(ReadRequest {
            kind,
            start: addr,
            count: words,
            points: vec![(i, 0)],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_contiguous_only() {
        let text = r#"
[[device]]
name = "d"
host = "127.0.0.1"
port = 502
[[sensor]]
tag = "a"
kind = "pressure"
node = "a"
unit = "m"
interval_s = 1
range = [0, 1]
modbus = { device = "d", table = "input", address = 0, type = "f32" }
[[sensor]]
tag = "b"
kind = "pressure"
node = "b"
unit = "m"
interval_s = 1
range = [0, 1]
modbus = { device = "d", table = "input", address = 2, type = "i16" }
[[sensor]]
tag = "c"
kind = "pressure"
node = "c"
unit = "m"
interval_s = 1
range = [0, 1]
modbus = { device = "d", table = "input", address = 10, type = "f64" }
[[sensor]]
tag = "e"
kind = "pressure"
node = "e"
unit = "m"
interval_s = 1
range = [0, 1]
modbus = { device = "d", table = "holding", address = 3, type = "u16" }
"#;
        let m = SensorMap::parse(text, "t.toml").unwrap();
        let p = plan_device(&m, 0);
        assert_eq!(p.len(), 3);
        assert_eq!(
            (p[0].kind, p[0].start, p[0].count),
            (ReadKind::HoldingRegisters, 3, 1)
        );
        assert_eq!(
            (p[1].kind, p[1].start, p[1].count),
            (ReadKind::InputRegisters, 0, 3)
        );
        assert_eq!(p[1].points, vec![(0, 0), (1, 2)]);
        assert_eq!((p[2].start, p[2].count), (10, 4));
        assert!(p.iter().all(|r| (1..=4).contains(&r.kind.function_code())));
    }
}
