//! The Battle of the Leakage Detection and Isolation Methods (BattLeDIM
//! 2020) around the leak detector: synthetic scenarios written in its
//! layout ([`scenario`]), its official scorer ([`scoring`], reproducing the
//! organisers' reports), and its L-Town sensor set ([`ltown`]).
//!
//! The detection method itself is the `detection` crate, which knows
//! nothing of BattLeDIM. This crate does no I/O, reads no environment and
//! prints nothing: callers (the CLI) read the files and hand over text or
//! rows.
//!
//! ```
//! // A results file in the competition's layout, on its 5-minute grid
//! // counted from 2019-01-01 00:00.
//! let r = battledim::scoring::parse_results("p1, 2019-01-01 01:00\n", "team.txt").unwrap();
//! assert_eq!((r.detections[0].pipe.as_str(), r.detections[0].step), ("p1", 12));
//! assert_eq!(battledim::ltown::sensor_set().sensors.len(), 33 + 3 + 1 + 82);
//! ```

pub mod ltown;
pub mod rng;
pub mod scenario;
pub mod scoring;
pub mod time;
