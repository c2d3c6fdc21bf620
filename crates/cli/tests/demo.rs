//! The README's first command, end to end: `scripts/demo --no-serve` (the
//! live twin on L-Town against a simulated field with an unknown burst)
//! reports the leak found, with this build's binary.

use std::path::Path;
use std::process::Command;

#[test]
fn the_demo_finds_the_leak() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(root.join("scripts/demo"))
        .arg("--no-serve")
        .env("AQUATWIN_BIN", env!("CARGO_BIN_EXE_aquatwin"))
        .env_remove("AQUATWIN_TOKEN")
        .current_dir(&root)
        .output()
        .expect("run scripts/demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/demo failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("leak found:"), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("page and API: http://127.0.0.1:"),
        "{stdout}"
    );
}
