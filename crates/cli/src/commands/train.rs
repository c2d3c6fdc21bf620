//! `aquatwin train --config twin.toml --from T0 --to T1`: learn the
//! network's normal behaviour from a stored leak-free period and keep it in
//! the twin's state directory, for `aquatwin run`.

use super::twin_common::{load, parse_time};
use anyhow::{anyhow, Result};
use detection::detect::{balance_detectable, describe_balance, DetectConfig};
use std::path::PathBuf;
use telemetry::time::format_timestamp;

#[derive(clap::Args)]
pub struct Args {
    /// The twin's configuration (twin.toml: model, sensor map, store, state directory).
    #[arg(long)]
    config: PathBuf,
    /// Start of the leak-free period (inclusive): `YYYY-MM-DD HH:MM` UTC,
    /// RFC 3339 with an offset, or epoch ms; on the grid of the model step
    /// (the stored data's sampling interval).
    #[arg(long)]
    from: String,
    /// End of the period (exclusive); at least 2 days after --from.
    #[arg(long)]
    to: String,
    /// The model step, seconds (it must divide an hour); default: the
    /// stored data's sampling interval (whole minutes dividing an hour; a
    /// minute for data sampled more often).
    #[arg(long, value_name = "SECONDS")]
    step_s: Option<u64>,
    /// Calibrate the model on the period first (as `[twin] calibrate =
    /// true`): the detector learns, and `run` detects, on the calibrated
    /// model with the pressure sensors' offsets subtracted.
    #[arg(long)]
    calibrate: bool,
    /// The calibration's parameter groups (GROUPS.toml, as `aquatwin
    /// calibrate --groups`) instead of the defaults.
    #[arg(long, value_name = "GROUPS.toml")]
    calibration_groups: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    super::telemetry_common::init_logging();
    let twin = load(&a.config)?;
    let from = parse_time("--from", &a.from)?;
    let to = parse_time("--to", &a.to)?;
    let mut store = twin.cfg.store.open().map_err(|e| anyhow!(e))?;
    let calibration = if a.calibrate || twin.cfg.calibrate || a.calibration_groups.is_some() {
        let data = super::detect::read_store(
            store.as_mut(),
            &twin.set,
            &twin.tags,
            from,
            to,
            a.step_s.unwrap_or(0),
            &twin.time_zone,
        )?;
        let c = super::calibrate::calibrate_for_detector(
            &twin.model,
            &twin.set,
            &data,
            data.rows,
            a.calibration_groups.as_deref(),
        )?;
        println!("{}", c.summary.line());
        if c.summary.fit_quality != "good" {
            println!(
                "warning: the calibration's fit is {}: the twin runs on {}",
                c.summary.fit_quality,
                if c.summary.used {
                    "the calibrated model all the same (it fits better than the nominal one)"
                } else {
                    "the nominal model"
                }
            );
        }
        Some(twin::live::TrainedCalibration {
            model_inp: network::inp::write_inp(&c.network),
            offsets: c.offsets,
            summary: serde_json::to_value(&c.summary)?,
        })
    } else {
        None
    };
    let calibrated = calibration.is_some();
    let cfg = DetectConfig {
        step_s: a.step_s.unwrap_or(0),
        ..DetectConfig::default()
    };
    let saved = twin::live::train_with(
        &twin.model,
        &twin.set,
        &twin.tags,
        store.as_mut(),
        from,
        to,
        super::detect::utc_offset_s(&twin.time_zone, from),
        &cfg,
        calibration,
    )?;
    twin::live::save_training(&twin.cfg.state_dir, &saved)?;
    let used = saved.training.usable.iter().filter(|&&u| u).count();
    println!(
        "trained on {} … {}{}: {} of {} sensors usable; saved in {}",
        format_timestamp(from),
        format_timestamp(to),
        if calibrated {
            " (calibrated model)"
        } else {
            ""
        },
        used,
        twin.tags.len(),
        twin.cfg.state_dir.join(twin::live::TRAINING_FILE).display()
    );
    let sigma = saved.training.balance_sigma_lps();
    println!(
        "{} at the mean demand: {}",
        saved.training.balance().label(),
        describe_balance(sigma, &balance_detectable(sigma, &cfg))
    );
    for i in &saved.training.issues {
        println!(
            "  {} {}: {}{}",
            i.kind.name(),
            i.column,
            i.problem,
            if i.excluded { " (excluded)" } else { "" }
        );
    }
    Ok(())
}
