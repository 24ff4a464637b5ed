//! `cscli simulation`: edits `simulation.yaml`.

use anyhow::{Result, bail};
use cs_config::SimulationConfig;

use crate::cli::SimulationCmd;
use crate::context::Ctx;

/// Runs `cscli simulation ...`.
pub fn run(ctx: &Ctx, cmd: SimulationCmd) -> Result<()> {
    let path = ctx.cfg.config_paths.simulation_path.clone();
    let mut sim = SimulationConfig::load(&path)?;
    match cmd {
        SimulationCmd::Enable { scenarios, global } => {
            if global {
                sim.simulation = true;
                sim.exclusions.clear();
                tracing::info!("global simulation: enabled");
            } else if scenarios.is_empty() {
                bail!("please specify scenarios to put in simulation mode, or use --global");
            } else {
                for s in &scenarios {
                    if sim.enable(s) {
                        tracing::info!("simulation mode for '{s}' enabled");
                    } else {
                        tracing::warn!("simulation for '{s}' already enabled");
                    }
                }
            }
            sim.save(&path)?;
            tracing::info!(
                "Run 'sudo systemctl reload crowdsec' for the new configuration to be effective."
            );
        }
        SimulationCmd::Disable { scenarios, global } => {
            if global {
                sim.simulation = false;
                sim.exclusions.clear();
                tracing::info!("global simulation: disabled");
            } else if scenarios.is_empty() {
                bail!("please specify scenarios to remove from simulation mode, or use --global");
            } else {
                for s in &scenarios {
                    if sim.disable(s) {
                        tracing::info!("simulation mode for '{s}' disabled");
                    } else {
                        tracing::warn!("simulation for '{s}' already disabled");
                    }
                }
            }
            sim.save(&path)?;
            tracing::info!(
                "Run 'sudo systemctl reload crowdsec' for the new configuration to be effective."
            );
        }
        SimulationCmd::Status => print!("{}", status_text(&sim)),
    }
    Ok(())
}

fn status_text(sim: &SimulationConfig) -> String {
    let mut s = String::new();
    if sim.simulation {
        s.push_str("global simulation: enabled\n");
        if !sim.exclusions.is_empty() {
            s.push_str("Scenarios not in simulation mode :\n");
        }
    } else {
        s.push_str("global simulation: disabled\n");
        if !sim.exclusions.is_empty() {
            s.push_str("Scenarios in simulation mode :\n");
        }
    }
    for e in &sim.exclusions {
        s.push_str(&format!("  - {e}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lists_exclusions_with_their_meaning() {
        let sim = SimulationConfig {
            simulation: false,
            exclusions: vec!["a/b".into()],
        };
        assert_eq!(
            status_text(&sim),
            "global simulation: disabled\nScenarios in simulation mode :\n  - a/b\n"
        );
        let sim = SimulationConfig {
            simulation: true,
            exclusions: vec![],
        };
        assert_eq!(status_text(&sim), "global simulation: enabled\n");
    }
}
