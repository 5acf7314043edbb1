//! The server's help has the layout of every example's (the job options under
//! the headings `export` uses), and a default port that is not the stub BFD's
//! (8443), so both can run at once.

use std::process::Command;

#[test]
fn help_is_grouped_with_defaults_inline_and_its_own_port() {
    let output = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for heading in ["Job:", "Synthetic source:"] {
        assert!(help.contains(heading), "{help}");
    }
    assert!(
        help.contains("--bind <ADDR>") && help.contains("[default: 127.0.0.1:8080]"),
        "{help}"
    );
    for line in help.lines().map(str::trim) {
        assert!(!line.starts_with("[default:"), "{help}");
        if line.starts_with("--") {
            assert!(line.contains("  "), "{line:?} has no help on its line");
        }
    }
}
