//! `mptfo lab up|run|down|status|check --config LAB.toml`: the CLI over
//! the mptfo-deploy crate.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use mptfo_deploy::labfile::Lab;
use mptfo_deploy::run::RunOptions;
use mptfo_deploy::state::STATE_ROOT;
use mptfo_deploy::{bed, report, run, system};

#[derive(clap::Args, Debug)]
pub(crate) struct LabArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Args, Debug)]
struct Common {
    /// The lab file (TOML; see config/examples/versus-kernel.toml).
    #[arg(long)]
    config: PathBuf,
    /// Folder of the labs' state files.
    #[arg(long, default_value = STATE_ROOT)]
    state_dir: PathBuf,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Builds the test bed (idempotent): namespaces, veth pairs, addresses,
    /// sysctls, checksum offloads, MPTCP endpoints and limits, hugepages;
    /// each step recorded in <state-dir>/<lab>/state.json as it is made.
    Up(Common),
    /// Runs the scenarios (building the lab first if needed): per scenario,
    /// TFO setting and repetition, the server, then the client with
    /// --json; results in <results>/<lab>-<UTC time>/, then the report.
    /// The lab stays up (`mptfo lab down` removes it) unless --down.
    Run(RunArgs),
    /// Removes everything the lab's state file records: processes still
    /// running, veth pairs, namespaces, DPDK files, the hugepage
    /// reservation (restored). Idempotent.
    Down(DownArgs),
    /// What exists and what runs: namespaces, links, processes (PID, alive
    /// or not), hugepages.
    Status(Common),
    /// Checks the lab file and the machine's prerequisites, changes
    /// nothing.
    Check(Common),
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    common: Common,
    /// Repetitions of each scenario (instead of the lab file's).
    #[arg(long)]
    reps: Option<usize>,
    /// Load duration of each repetition (instead of the lab file's), e.g.
    /// 1s, 500ms.
    #[arg(long, value_parser = crate::parse_duration)]
    duration: Option<Duration>,
    /// Run only this scenario (repeatable).
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// Results folder (instead of the lab file's).
    #[arg(long)]
    results: Option<PathBuf>,
    /// How long a server may take to print `listening`.
    #[arg(long, value_parser = crate::parse_duration, default_value = "30s")]
    start_timeout: Duration,
    /// Remove the lab after the run.
    #[arg(long)]
    down: bool,
}

#[derive(clap::Args, Debug)]
struct DownArgs {
    /// The lab file (or give --name).
    #[arg(long, required_unless_present = "name", conflicts_with = "name")]
    config: Option<PathBuf>,
    /// The lab's name, when its file is gone.
    #[arg(long)]
    name: Option<String>,
    /// Folder of the labs' state files.
    #[arg(long, default_value = STATE_ROOT)]
    state_dir: PathBuf,
}

fn load(c: &Common) -> Result<Lab> {
    Lab::load(&c.config, system::ncpu())
}

/// The lab file's absolute path, as the state file records it.
fn absolute(p: &std::path::Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

pub(crate) fn lab(args: LabArgs) -> Result<()> {
    match args.action {
        Action::Check(c) => {
            let lab = load(&c)?;
            mptfo_deploy::prereq::check(&lab, &lab.scenarios.iter().collect::<Vec<_>>())?;
            let points: usize = lab.scenarios.iter().map(|s| s.points().len()).sum();
            println!(
                "lab {}: {} hosts, {} links, {} endpoints, {} scenarios ({points} matrix points: TFO, MPTCP), {} ratios; the machine is ready",
                lab.name,
                lab.hosts.len(),
                lab.links.len(),
                lab.endpoints.len(),
                lab.scenarios.len(),
                lab.ratios.len()
            );
            Ok(())
        }
        Action::Up(c) => {
            let lab = load(&c)?;
            let st = bed::up(&lab, &absolute(&c.config), &c.state_dir)?;
            println!("lab {} is up (state {})", lab.name, st.path().display());
            print!("{}", bed::status(&lab, &c.state_dir)?);
            Ok(())
        }
        Action::Status(c) => {
            let lab = load(&c)?;
            print!("{}", bed::status(&lab, &c.state_dir)?);
            Ok(())
        }
        Action::Down(d) => {
            let name = match (&d.name, &d.config) {
                (Some(n), _) => n.clone(),
                (None, Some(path)) => match Lab::load(path, system::ncpu()) {
                    Ok(lab) => lab.name,
                    Err(e) => {
                        bail!("{e:#}\n(to remove a lab whose file no longer loads, give --name)")
                    }
                },
                (None, None) => unreachable!("clap requires one"),
            };
            match bed::down(&name, &d.state_dir)? {
                None => println!(
                    "lab {name}: nothing to remove (no state file {})",
                    d.state_dir.join(&name).join("state.json").display()
                ),
                Some(r) => {
                    for l in &r.lines {
                        println!("{l}");
                    }
                    println!("lab {name} is down");
                }
            }
            Ok(())
        }
        Action::Run(r) => {
            let lab = load(&r.common)?;
            if r.reps == Some(0) {
                bail!("--reps 0: expected 1 or more");
            }
            if r.duration.is_some_and(|d| d.is_zero()) {
                bail!("--duration 0: expected a load duration above 0, e.g. 1s");
            }
            let exe = std::env::current_exe().context("locating the mptfo executable")?;
            let opts = RunOptions {
                config: absolute(&r.common.config),
                exe,
                state_root: r.common.state_dir.clone(),
                reps: r.reps,
                duration: r.duration,
                scenarios: r.scenarios,
                results: r.results,
                start_timeout: r.start_timeout,
            };
            let out = run::run(&lab, &opts);
            let down = || -> Result<()> {
                if r.down {
                    bed::down(&lab.name, &r.common.state_dir)?;
                    println!("lab {} is down", lab.name);
                }
                Ok(())
            };
            let out = match out {
                Ok(o) => o,
                Err(e) => {
                    down()?;
                    return Err(e);
                }
            };
            println!();
            print!("{}", report::summary_text(&out.results));
            println!("results: {}", out.dir.display());
            println!("report:  {}", out.report.display());
            down()?;
            if !r.down {
                println!(
                    "lab {} stays up: `mptfo lab down --config {}` removes it",
                    lab.name,
                    r.common.config.display()
                );
            }
            if out.interrupted {
                bail!("interrupted: the report covers what finished");
            }
            let failed: Vec<&str> = out
                .results
                .scenarios
                .iter()
                .filter(|s| s.no_figures_reason().is_some())
                .map(|s| s.name.as_str())
                .collect();
            if !failed.is_empty() {
                bail!("no figures for: {} (see the report)", failed.join(", "));
            }
            Ok(())
        }
    }
}
