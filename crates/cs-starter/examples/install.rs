//! Installs the starter content into a config directory:
//! `cargo run -p cs-starter --example install -- CONFIG_DIR [PATTERN_DIR]`.
//! Prints one line per file written or kept; exits with 2 on a usage error, 1 on a failure.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (config_dir, pattern_dir) = match args.as_slice() {
        [config] => (config.clone(), config.join("patterns")),
        [config, patterns] => (config.clone(), patterns.clone()),
        _ => {
            eprintln!("usage: install CONFIG_DIR [PATTERN_DIR]");
            return ExitCode::from(2);
        }
    };
    match cs_starter::install_to(&config_dir, &pattern_dir) {
        Ok(installed) => {
            for path in &installed.written {
                println!("installed {}", path.display());
            }
            for path in &installed.kept {
                println!("kept      {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
