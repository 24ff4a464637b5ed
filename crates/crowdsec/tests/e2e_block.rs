//! Detect to block, end to end, in network namespaces: `scripts/e2e-block.sh` runs our
//! `crowdsec` (Local API + agent tailing a web server's access log) and the Go
//! crowdsec-firewall-bouncer (nftables) in a server namespace; an attacker namespace requests
//! sensitive paths and must be dropped while a client namespace still connects, until
//! `cscli decisions delete`. Needs root (the script creates and always deletes the namespaces).

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_crowdsec");

#[test]
fn attacker_is_dropped_by_the_firewall_bouncer_and_released_by_cscli() {
    let uid = Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "this test needs root (ip netns, nft)"
    );
    let cscli = Path::new(BIN).with_file_name("cscli");
    assert!(
        cscli.is_file(),
        "{} missing: build it first (cargo build -p cscli)",
        cscli.display()
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/e2e-block.sh");
    let out = Command::new("bash")
        .arg(script)
        .env("CROWDSEC_BIN", BIN)
        .env("CSCLI_BIN", &cscli)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("attack-to-block: "), "{stdout}");
    assert!(stdout.contains("ok: all checks passed"), "{stdout}");
    // The time from attack to block, for the test log.
    for line in stdout.lines().filter(|l| l.starts_with("attack-to-block")) {
        println!("{line}");
    }
}
