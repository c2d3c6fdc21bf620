//! Property test (proptest) of the `.inp` reader and writer, seeded by the
//! benchmark networks: for any seed network with random byte, line and
//! token edits, reading never panics, and every model the reader accepts
//! writes out and reads back identical. `tests/fuzz_inp.rs` runs a longer
//! mutational campaign with the solver as well; this one lets proptest
//! shrink a failure to a minimal edit list.

use conformance::*;
use proptest::prelude::*;
use std::sync::OnceLock;

/// The valid benchmark networks, each cut to its first 400 lines so one
/// case stays fast.
fn seeds() -> &'static Vec<Vec<u8>> {
    static S: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    S.get_or_init(|| {
        network_files()
            .into_iter()
            .filter(|p| !is_invalid_network(p))
            .map(|p| {
                let b = std::fs::read(p).unwrap();
                let cut: Vec<&[u8]> = b.split(|&c| c == b'\n').take(400).collect();
                cut.join(&b'\n')
            })
            .collect()
    })
}

#[derive(Debug, Clone)]
enum Edit {
    FlipByte(usize, u8),
    DeleteLine(usize),
    DuplicateLine(usize),
    ReplaceToken(usize, &'static str),
}

fn edit() -> impl Strategy<Value = Edit> {
    let token = prop::sample::select(vec![
        "0",
        "-1",
        "1e308",
        "NaN",
        "inf",
        "",
        "[JUNCTIONS]",
        "[END]",
        "CV",
        "PRV",
        "x",
        "\"",
        ";",
        "99999999999999999999",
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::FlipByte(i, b)),
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), token).prop_map(|(i, t)| Edit::ReplaceToken(i, t)),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = seed.split(|&c| c == b'\n').map(|l| l.to_vec()).collect();
    for e in edits {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match *e {
            Edit::FlipByte(i, b) => {
                let l = &mut lines[i % n];
                if !l.is_empty() {
                    let k = (i / n) % l.len();
                    l[k] = b;
                }
            }
            Edit::DeleteLine(i) => {
                lines.remove(i % n);
            }
            Edit::DuplicateLine(i) => {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            Edit::ReplaceToken(i, t) => {
                let l = &mut lines[i % n];
                let toks: Vec<&[u8]> = l
                    .split(|c| c.is_ascii_whitespace())
                    .filter(|s| !s.is_empty())
                    .collect();
                if !toks.is_empty() {
                    let k = (i / n) % toks.len();
                    let mut out: Vec<Vec<u8>> = toks.iter().map(|s| s.to_vec()).collect();
                    out[k] = t.as_bytes().to_vec();
                    *l = out.join(&b' ');
                }
            }
        }
    }
    lines.join(&b'\n')
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn edited_networks_never_panic_and_round_trip(pick in any::<usize>(), edits in prop::collection::vec(edit(), 1..6)) {
        let seeds = seeds();
        prop_assume!(!seeds.is_empty());
        let input = apply(&seeds[pick % seeds.len()], &edits);
        if let Ok(net) = network::inp::parse_inp_bytes(&input, "prop.inp") {
            let text = network::inp::write_inp(&net);
            let again = network::inp::parse_inp(&text, "written.inp");
            prop_assert!(again.is_ok(), "the writer produced a file the reader rejects: {:?}", again.err());
            prop_assert!(again.unwrap() == net, "read → write → read changed the model");
        }
    }
}
