//! Reads `[PATTERNS]` and `[CURVES]` (a curve's type from a `;PUMP:`-style
//! comment line above it): input3.c's `patterndata` and `curvedata`.

use super::{At, Reader};
use crate::inp::lexer::Section;
use crate::pattern::{Curve, CurveType, Pattern};

impl<'a, 's> Reader<'a, 's> {
    pub(super) fn patterns(&mut self) {
        for line in self.s.of(Section::Patterns) {
            let at = At {
                line: line.no,
                section: Section::Patterns,
            };
            let t = self.tokens(line);
            let id = t[0];
            let idx = match self.pattern_ids.get(id) {
                Some(&i) => i,
                None => {
                    self.check_id(at, id);
                    self.pattern_ids.insert(id, self.net.patterns.len());
                    self.net.patterns.push(Pattern {
                        id: id.to_string(),
                        multipliers: Vec::new(),
                        comment: line.comment.map(str::to_string),
                    });
                    self.net.patterns.len() - 1
                }
            };
            if t.len() < 2 {
                self.err(at, Some("Multipliers"), "expected at least one multiplier");
            }
            for (k, tok) in t[1..].iter().enumerate() {
                if let Some(v) = self.num(at, &format!("Multiplier {}", k + 1), tok) {
                    self.net.patterns[idx].multipliers.push(v);
                }
            }
            self.give_back(t);
        }
    }

    pub(super) fn curves(&mut self) {
        let comments = &self.s.comments[Section::Curves as usize];
        for line in self.s.of(Section::Curves) {
            let at = At {
                line: line.no,
                section: Section::Curves,
            };
            let t = self.tokens(line);
            let id = t[0];
            if t.len() < 3 {
                self.err(
                    at,
                    Some("X-Value"),
                    "expected an ID, an X value and a Y value",
                );
                self.give_back(t);
                continue;
            }
            let x = self.num(at, "X-Value", t[1]);
            let y = self.num(at, "Y-Value", t[2]);
            let idx = match self.curve_ids.get(id) {
                Some(&i) => i,
                None => {
                    self.check_id(at, id);
                    // The type may be declared in a comment line just above: ";PUMP: text".
                    let mut kind = CurveType::Generic;
                    let mut comment = line.comment.map(str::to_string);
                    if let Some(c) = comments
                        .iter()
                        .rev()
                        .find(|c| c.no < line.no && c.no + 1 >= line.no.saturating_sub(0))
                    {
                        if c.no + 1 == line.no {
                            if let Some((head, rest)) = c.text.split_once(':') {
                                if let Some(k) = CurveType::from_keyword(head.trim()) {
                                    kind = k;
                                    let rest = rest.trim();
                                    if !rest.is_empty() {
                                        comment = Some(rest.to_string());
                                    }
                                }
                            }
                        }
                    }
                    self.curve_ids.insert(id, self.net.curves.len());
                    self.net.curves.push(Curve {
                        id: id.to_string(),
                        kind,
                        points: Vec::new(),
                        comment,
                    });
                    self.net.curves.len() - 1
                }
            };
            if t.len() > 3 {
                if let Some(k) = CurveType::from_keyword(t[3]) {
                    self.net.curves[idx].kind = k;
                }
            }
            if let (Some(x), Some(y)) = (x, y) {
                self.net.curves[idx].points.push((x, y));
            }
            self.give_back(t);
        }
    }
}
