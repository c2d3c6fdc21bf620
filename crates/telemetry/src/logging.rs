//! The programs' logs: tracing to stderr, the level from `AQUATWIN_LOG`
//! (`error`, `warn`, `info` — the default —, `debug`, `trace`). One set-up
//! for `aquatwin` and `aquatwin-report`.

/// Installs the stderr subscriber (a second call does nothing).
pub fn init_stderr() {
    let level = match std::env::var("AQUATWIN_LOG")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "error" => tracing::Level::ERROR,
        "warn" => tracing::Level::WARN,
        "debug" => tracing::Level::DEBUG,
        "trace" => tracing::Level::TRACE,
        _ => tracing::Level::INFO,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
