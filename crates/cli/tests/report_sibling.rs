//! `aquatwin report` runs the `aquatwin-report` executable found beside
//! `aquatwin`; without it, it fails and says what to build.

use std::process::Command;

#[test]
fn report_without_the_sibling_executable_says_what_to_build() {
    let dir = std::env::temp_dir().join(format!("aquatwin-report-sibling-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("aquatwin");
    std::fs::copy(env!("CARGO_BIN_EXE_aquatwin"), &exe).unwrap();
    let out = Command::new(&exe)
        .args(["report", "--config", "twin.toml", "--from", "2019-01-01"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("aquatwin-report"), "{err}");
    assert!(err.contains("cargo build --release -p reporting"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
