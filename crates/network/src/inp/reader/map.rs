//! Reads `[COORDINATES]`, `[VERTICES]`, `[LABELS]` and `[TAGS]`: input3.c's
//! `coordata`, `vertexdata` and `tagdata` (EPANET skips `[LABELS]`; they
//! are kept here to be written back).

use super::{parse_number, At, Reader};
use crate::inp::lexer::{starts_with_ci, Section};
use crate::network::Label;

impl<'a, 's> Reader<'a, 's> {
    pub(super) fn coordinates(&mut self) {
        // Like EPANET, map data for unknown elements or bad numbers is skipped:
        // it never changes a simulation.
        for line in self.s.of(Section::Coordinates) {
            let t = self.tokens(line);
            if t.len() >= 3 {
                if let (Some(&n), Some(x), Some(y)) = (
                    self.node_ids.get(t[0]),
                    parse_number(t[1]),
                    parse_number(t[2]),
                ) {
                    self.net.nodes[n].coordinates = Some((x, y));
                }
            }
            self.give_back(t);
        }
    }

    pub(super) fn vertices(&mut self) {
        for line in self.s.of(Section::Vertices) {
            let t = self.tokens(line);
            if t.len() >= 3 {
                if let (Some(&l), Some(x), Some(y)) = (
                    self.link_ids.get(t[0]),
                    parse_number(t[1]),
                    parse_number(t[2]),
                ) {
                    self.net.links[l].vertices.push((x, y));
                }
            }
            self.give_back(t);
        }
    }

    pub(super) fn labels(&mut self) {
        for line in self.s.of(Section::Labels) {
            let t = self.tokens(line);
            if t.len() >= 3 {
                if let (Some(x), Some(y)) = (parse_number(t[0]), parse_number(t[1])) {
                    self.net.labels.push(Label {
                        x,
                        y,
                        text: t[2].to_string(),
                        anchor: t.get(3).map(|s| s.to_string()),
                    });
                }
            }
            self.give_back(t);
        }
    }

    pub(super) fn tags(&mut self) {
        for line in self.s.of(Section::Tags) {
            let at = At {
                line: line.no,
                section: Section::Tags,
            };
            let t = self.tokens(line);
            if t.len() >= 3 {
                if starts_with_ci(t[0], "NODE") {
                    if let Some(n) = self.node_ref(at, "ID", t[1]) {
                        self.net.nodes[n].tag = Some(t[2].to_string());
                    }
                } else if starts_with_ci(t[0], "LINK") {
                    if let Some(l) = self.link_ref(at, "ID", t[1]) {
                        self.net.links[l].tag = Some(t[2].to_string());
                    }
                } else {
                    self.err(
                        at,
                        Some("Type"),
                        format!("expected NODE or LINK, found \"{}\"", t[0]),
                    );
                }
            }
            self.give_back(t);
        }
    }
}
