//! The EPANET `.inp` text format: reader and writer.

mod error;
mod lexer;
mod reader;
pub(crate) mod time;
mod writer;

pub use error::{InpError, InpErrors, MAX_ERRORS};
pub use reader::{parse_inp, parse_inp_bytes, parse_number, MAX_ID_LEN, MAX_MAGNITUDE};
pub use writer::write_inp;
