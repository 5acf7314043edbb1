//! The stub's help has the layout of every example's: options grouped under
//! headings, each with its help and default on its own line, and a default
//! port that is not the server's (8080), so both can run at once.

use std::process::Command;

#[test]
fn help_is_grouped_with_defaults_inline_and_its_own_port() {
    let output = Command::new(env!("CARGO_BIN_EXE_bfd_stub"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for heading in ["Server:", "Claims:", "Faults:"] {
        assert!(help.contains(heading), "{help}");
    }
    assert!(
        help.contains("--addr <ADDR>") && help.contains("[default: 127.0.0.1:8443]"),
        "{help}"
    );
    for line in help.lines().map(str::trim) {
        assert!(!line.starts_with("[default:"), "{help}");
        if line.starts_with("--") {
            assert!(line.contains("  "), "{line:?} has no help on its line");
        }
    }
}
