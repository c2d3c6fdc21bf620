//! Just enough of the Thrift compact protocol to *write* Parquet's page
//! headers and file footer: structs, i32/i64, binary, bool, lists of
//! structs/i32/binary. Fields must be written in increasing id order within
//! a struct (which is how Parquet's definitions are laid out anyway).

/// Compact-protocol type codes.
pub(crate) mod ty {
    pub const BOOL_TRUE: u8 = 1;
    pub const BOOL_FALSE: u8 = 2;
    pub const I32: u8 = 5;
    pub const I64: u8 = 6;
    pub const BINARY: u8 = 8;
    pub const LIST: u8 = 9;
    pub const STRUCT: u8 = 12;
}

/// A compact-protocol encoder writing into a byte buffer.
pub(crate) struct Compact {
    pub buf: Vec<u8>,
    /// Last field id written in each enclosing struct (innermost last).
    last: Vec<i16>,
}

impl Compact {
    /// Starts encoding a top-level struct (finish it with [`Compact::end`]).
    pub fn new() -> Compact {
        Compact {
            buf: Vec::new(),
            last: vec![0],
        }
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn field(&mut self, id: i16, t: u8) {
        let last = self.last.last_mut().expect("inside a struct");
        debug_assert!(id > *last, "thrift fields in increasing order");
        let delta = id - *last;
        *last = id;
        if (1..=15).contains(&delta) {
            self.buf.push(((delta as u8) << 4) | t);
        } else {
            self.buf.push(t);
            self.zigzag(id as i64);
        }
    }

    pub fn i32(&mut self, id: i16, v: i32) {
        self.field(id, ty::I32);
        self.zigzag(v as i64);
    }

    pub fn i64(&mut self, id: i16, v: i64) {
        self.field(id, ty::I64);
        self.zigzag(v);
    }

    pub fn bool(&mut self, id: i16, v: bool) {
        self.field(id, if v { ty::BOOL_TRUE } else { ty::BOOL_FALSE });
    }

    pub fn binary(&mut self, id: i16, v: &[u8]) {
        self.field(id, ty::BINARY);
        self.raw_binary(v);
    }

    fn raw_binary(&mut self, v: &[u8]) {
        self.varint(v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    /// Opens a struct-valued field; close it with [`Compact::end`].
    pub fn begin(&mut self, id: i16) {
        self.field(id, ty::STRUCT);
        self.last.push(0);
    }

    /// Closes the innermost struct (a list element, a field or the top level).
    pub fn end(&mut self) {
        self.buf.push(0); // STOP
        self.last.pop();
    }

    /// Opens a list-valued field of `n` elements of type `elem`.
    pub fn list(&mut self, id: i16, elem: u8, n: usize) {
        self.field(id, ty::LIST);
        if n < 15 {
            self.buf.push(((n as u8) << 4) | elem);
        } else {
            self.buf.push(0xF0 | elem);
            self.varint(n as u64);
        }
    }

    /// Opens a struct element of a list; close it with [`Compact::end`].
    pub fn begin_elem(&mut self) {
        self.last.push(0);
    }

    pub fn i32_elem(&mut self, v: i32) {
        self.zigzag(v as i64);
    }

    pub fn binary_elem(&mut self, v: &[u8]) {
        self.raw_binary(v);
    }

    /// The encoded top-level struct (after its final [`Compact::end`]).
    pub fn finish(self) -> Vec<u8> {
        debug_assert!(self.last.is_empty(), "unbalanced thrift structs");
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_headers_deltas_and_long_form() {
        let mut c = Compact::new();
        c.i32(1, 3); // delta 1, zigzag(3) = 6
        c.i64(3, -1); // delta 2, zigzag(-1) = 1
        c.bool(4, true);
        c.binary(20, b"ab"); // delta 16: long form, id zigzag = 40
        c.end();
        assert_eq!(
            c.finish(),
            vec![0x15, 6, 0x26, 1, 0x11, 0x08, 40, 2, b'a', b'b', 0]
        );
    }

    #[test]
    fn nested_structs_restart_field_ids_and_long_lists() {
        let mut c = Compact::new();
        c.begin(2);
        c.i32(1, 0);
        c.end();
        c.list(3, ty::I32, 20);
        for i in 0..20 {
            c.i32_elem(i);
        }
        c.i32(4, 300); // zigzag 600 = 0xD8 0x04
        c.end();
        let b = c.finish();
        assert_eq!(&b[..5], &[0x2C, 0x15, 0, 0, 0x19]);
        assert_eq!(&b[5..7], &[0xF5, 20]);
        assert_eq!(&b[b.len() - 4..], &[0x15, 0xD8, 0x04, 0]);
    }
}
