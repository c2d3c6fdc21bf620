//! Splits `.inp` text into sections and tokenized lines.
//!
//! EPANET's rules: `;` starts a comment (even inside quotes), tokens are separated by blanks
//! (spaces, tabs, CR), a token may be quoted with `"` to hold blanks,
//! section headers are matched case-insensitively by their first letters.

/// `.inp` sections, in the order the reader processes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    Title,
    Options,
    Times,
    Patterns,
    Curves,
    Junctions,
    Reservoirs,
    Tanks,
    Pipes,
    Pumps,
    Valves,
    Demands,
    Emitters,
    Leakage,
    Status,
    Controls,
    Rules,
    Energy,
    Quality,
    Sources,
    Reactions,
    Mixing,
    Report,
    Coordinates,
    Vertices,
    Labels,
    Tags,
    Backdrop,
    Roughness,
    End,
}

impl Section {
    pub const COUNT: usize = 30;

    /// Header keyword as written by the writer.
    pub fn name(self) -> &'static str {
        match self {
            Section::Title => "TITLE",
            Section::Options => "OPTIONS",
            Section::Times => "TIMES",
            Section::Patterns => "PATTERNS",
            Section::Curves => "CURVES",
            Section::Junctions => "JUNCTIONS",
            Section::Reservoirs => "RESERVOIRS",
            Section::Tanks => "TANKS",
            Section::Pipes => "PIPES",
            Section::Pumps => "PUMPS",
            Section::Valves => "VALVES",
            Section::Demands => "DEMANDS",
            Section::Emitters => "EMITTERS",
            Section::Leakage => "LEAKAGE",
            Section::Status => "STATUS",
            Section::Controls => "CONTROLS",
            Section::Rules => "RULES",
            Section::Energy => "ENERGY",
            Section::Quality => "QUALITY",
            Section::Sources => "SOURCES",
            Section::Reactions => "REACTIONS",
            Section::Mixing => "MIXING",
            Section::Report => "REPORT",
            Section::Coordinates => "COORDINATES",
            Section::Vertices => "VERTICES",
            Section::Labels => "LABELS",
            Section::Tags => "TAGS",
            Section::Backdrop => "BACKDROP",
            Section::Roughness => "ROUGHNESS",
            Section::End => "END",
        }
    }

    /// Recognises a header such as `[JUNCTIONS]` or `[COORD]` (EPANET
    /// matches headers by their first letters, case-insensitively).
    pub fn from_header(h: &str) -> Option<Section> {
        const PREFIXES: [(&str, Section); 30] = [
            ("TITL", Section::Title),
            ("OPTI", Section::Options),
            ("TIME", Section::Times),
            ("PATT", Section::Patterns),
            ("CURV", Section::Curves),
            ("JUNC", Section::Junctions),
            ("RESE", Section::Reservoirs),
            ("TANK", Section::Tanks),
            ("PIPE", Section::Pipes),
            ("PUMP", Section::Pumps),
            ("VALV", Section::Valves),
            ("DEMA", Section::Demands),
            ("EMIT", Section::Emitters),
            ("LEAK", Section::Leakage),
            ("STAT", Section::Status),
            ("CONT", Section::Controls),
            ("RULE", Section::Rules),
            ("ENER", Section::Energy),
            ("QUAL", Section::Quality),
            ("SOUR", Section::Sources),
            ("REAC", Section::Reactions),
            ("MIXI", Section::Mixing),
            ("REPO", Section::Report),
            ("COOR", Section::Coordinates),
            ("VERT", Section::Vertices),
            ("LABE", Section::Labels),
            ("TAGS", Section::Tags),
            ("BACK", Section::Backdrop),
            ("ROUG", Section::Roughness),
            ("END", Section::End),
        ];
        let inner = h.trim().strip_prefix('[')?;
        let inner = inner.split(']').next()?.trim();
        PREFIXES
            .iter()
            .find(|(p, _)| starts_with_ci(inner, p))
            .map(|(_, s)| *s)
    }
}

/// Case-insensitive ASCII prefix test (EPANET's keyword `match`).
pub fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// One data line of a section.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    /// 1-based line number in the file.
    pub no: usize,
    /// The line before any `;` comment.
    pub data: &'a str,
    /// Text after `;`, trimmed; `None` if there is none or it is empty.
    pub comment: Option<&'a str>,
}

/// Comment lines (whole-line `;...`) are remembered per section because a
/// curve's type is declared in one (`;PUMP: description`).
#[derive(Debug, Clone)]
pub struct CommentLine<'a> {
    pub no: usize,
    pub text: &'a str,
}

/// The file cut into sections.
pub struct Sections<'a> {
    pub lines: Vec<Vec<Line<'a>>>,
    pub comments: Vec<Vec<CommentLine<'a>>>,
    /// Lines that appeared before any section header or under an unknown header.
    pub stray: Vec<(usize, &'a str)>,
}

impl<'a> Sections<'a> {
    pub fn of(&self, s: Section) -> &[Line<'a>] {
        &self.lines[s as usize]
    }
}

/// Splits the text into section lines.
pub fn split_sections(text: &str) -> Sections<'_> {
    let mut lines: Vec<Vec<Line>> = (0..Section::COUNT).map(|_| Vec::new()).collect();
    let mut comments: Vec<Vec<CommentLine>> = (0..Section::COUNT).map(|_| Vec::new()).collect();
    let mut stray = Vec::new();
    let mut current: Option<Section> = None;
    let mut unknown_header = false;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, raw) in text.split('\n').enumerate() {
        let no = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let (data, comment) = split_comment(raw);
        let trimmed = data.trim();
        if trimmed.starts_with('[') {
            match Section::from_header(trimmed) {
                Some(Section::End) => break,
                Some(s) => {
                    current = Some(s);
                    unknown_header = false;
                }
                None => {
                    current = None;
                    unknown_header = true;
                    stray.push((no, trimmed));
                }
            }
            continue;
        }
        match current {
            Some(s) => {
                if trimmed.is_empty() && s != Section::Title {
                    if let Some(c) = comment {
                        comments[s as usize].push(CommentLine { no, text: c });
                    }
                    continue;
                }
                if s == Section::Title {
                    if !raw.trim().is_empty() {
                        lines[s as usize].push(Line {
                            no,
                            data: raw.trim_end(),
                            comment: None,
                        });
                    }
                    continue;
                }
                lines[s as usize].push(Line { no, data, comment });
            }
            None => {
                if !trimmed.is_empty() && !unknown_header {
                    stray.push((no, trimmed));
                }
            }
        }
    }
    Sections {
        lines,
        comments,
        stray,
    }
}

fn split_comment(raw: &str) -> (&str, Option<&str>) {
    // EPANET cuts a line at its first ';', even inside quotes (checked with
    // the oracle: `"J2;x"` reads as the node `"J2`).
    match raw.find(';') {
        Some(i) => {
            let c = raw[i + 1..].trim();
            (&raw[..i], if c.is_empty() { None } else { Some(c) })
        }
        None => (raw, None),
    }
}

/// Splits a data line into tokens (into `out`, which is cleared first).
pub fn tokenize<'a>(data: &'a str, out: &mut Vec<&'a str>) {
    out.clear();
    let b = data.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b[j] != b'"' {
                j += 1;
            }
            out.push(&data[start..j]);
            i = j + 1;
        } else {
            let start = i;
            while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
                i += 1;
            }
            out.push(&data[start..i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_by_prefix_and_case() {
        assert_eq!(
            Section::from_header("[junctions]"),
            Some(Section::Junctions)
        );
        assert_eq!(Section::from_header("[COORD]"), Some(Section::Coordinates));
        assert_eq!(Section::from_header(" [END] "), Some(Section::End));
        assert_eq!(Section::from_header("[NOPE]"), None);
    }

    #[test]
    fn tokens_comments_and_quotes() {
        let mut t = Vec::new();
        tokenize(" J1\t100  \"a b\" 5", &mut t);
        assert_eq!(t, vec!["J1", "100", "a b", "5"]);
        assert_eq!(split_comment("J1 1 ;hello"), ("J1 1 ", Some("hello")));
        assert_eq!(split_comment("\"x;y\" 1"), ("\"x", Some("y\" 1")));
    }

    #[test]
    fn crlf_and_sections() {
        let s = split_sections(
            "[TITLE]\r\nNet\r\n[JUNCTIONS]\r\n;ID Elev\r\nJ1 10\r\n[END]\r\nJ2 3\r\n",
        );
        assert_eq!(s.of(Section::Title)[0].data, "Net");
        assert_eq!(s.of(Section::Junctions).len(), 1);
        assert_eq!(s.of(Section::Junctions)[0].no, 5);
    }
}
