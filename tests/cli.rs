//! The `fjord` binary's own commands, run as a user runs them: `fjord completions <shell>`,
//! `fjord man` and `fjord --version`.

use std::process::Command;

/// Run the built binary; its stdout, after checking it succeeded with nothing on stderr.
fn fjord(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_fjord"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "fjord {args:?}: {stderr}");
    assert_eq!(stderr, "", "fjord {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

const SUBCOMMANDS: &[&str] = &["dev-cluster", "completions", "man"];
const OPTIONS: &[&str] = &["--config", "--override", "--help", "--version"];
/// dev-cluster's own.
const DEV_CLUSTER_OPTIONS: &[&str] = &["--nodes", "--dir", "--base-port"];

#[test]
fn completions_name_every_subcommand_and_option() {
    for (shell, header) in [
        ("bash", "complete -F _fjord"),
        ("zsh", "#compdef fjord"),
        ("fish", "complete -c fjord"),
    ] {
        let script = fjord(&["completions", shell]);
        assert!(script.contains(header), "{shell}:\n{script}");
        for word in SUBCOMMANDS {
            assert!(script.contains(word), "{shell}: no {word}:\n{script}");
        }
        for option in OPTIONS.iter().chain(DEV_CLUSTER_OPTIONS) {
            // fish names a long option without its dashes (`-l override`).
            let name = option.trim_start_matches('-');
            let found = match shell {
                "fish" => script.contains(&format!("-l {name}")),
                _ => script.contains(option),
            };
            assert!(found, "{shell}: no {option}:\n{script}");
        }
        // The shells `completions` takes are completed too (fish's script completes no
        // positional values).
        if shell != "fish" {
            assert!(
                script.contains("bash elvish fish powershell zsh"),
                "{shell}:\n{script}"
            );
        }
    }
}

#[test]
fn bash_completion_script_parses() {
    let script = fjord(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fjord.bash");
    std::fs::write(&path, script).unwrap();
    let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn man_page_has_name_synopsis_and_the_options() {
    let page = fjord(&["man"]);
    // One preamble, then the title.
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.TH fjord 1 "),
        "{page}"
    );
    assert_eq!(page.matches(".ds Aq").count(), 2, "{page}");
    for expected in [
        "\n.SH NAME\nfjord \\- A Kafka broker in one small binary, for the Kafka clients and tools you already use\n",
        "\n.SH SYNOPSIS\n\\fBfjord\\fR [\\fB\\-\\-config\\fR] [\\fB\\-\\-override\\fR] ",
        "\n.SH OPTIONS\n.TP\n\\fB\\-\\-config\\fR \\fI<FILE>\\fR\nA Kafka server.properties file\n",
        "\n.TP\n\\fB\\-\\-override\\fR \\fI<KEY=VALUE>\\fR\nSet a config key, e.g. \\-\\-override num.partitions=3 (repeatable)\n",
        "\n.SH SUBCOMMANDS\n.TP\n\\fBfjord dev\\-cluster [OPTIONS]\\fR\n",
        "\n.TP\n\\fB\\-\\-nodes\\fR \\fI<NODES>\\fR\nHow many nodes (each a voter of the metadata quorum) [default: 3]\n",
        "\n.TP\n\\fBfjord completions <SHELL>\\fR\n",
        "[possible values: bash, elvish, fish, powershell, zsh]\n",
        "\n.TP\n\\fBfjord man\\fR\n",
        // Every configuration key, with its default.
        "\n.SH CONFIGURATION\n",
        "\n.TP\n\\fBnum.partitions\\fR (default \\fI1\\fR)\n",
        "\n.SH ENVIRONMENT\n",
        "\n.TP\n\\fBFJORD_LOG\\fR\n",
    ] {
        assert!(page.contains(expected), "no {expected:?} in:\n{page}");
    }
    // A page per subcommand is not what `fjord man` gives, so none is referred to.
    assert!(!page.contains("fjord\\-dev\\-cluster(1)"), "{page}");
}

#[test]
fn version_says_which_kafka_clients_it_serves() {
    let expected = format!(
        "fjord {} (compatible with Kafka 4.x clients and older ones; the Kafka 4.1 protocol: Produce v13, Fetch v18)\n",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(fjord(&["--version"]), expected);
    assert_eq!(fjord(&["-V"]), expected);
}
