//! Debug chat: the REPL driven through stdin, and `chat send`.

mod common;

use common::{polyai, stderr, stdout};

#[test]
fn scripted_repl_reaches_the_agents_goodbye_and_stops() {
    let out = polyai()
        .args(["--sandbox", "chat", "--debug"])
        .write_stdin("I forgot my password\n\nthanks, goodbye\nare you still there?\n")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    insta::assert_snapshot!(text);
    assert!(text.to_lowercase().contains("goodbye!"), "{text}");
    assert!(
        text.ends_with("(the agent ended the conversation)\n"),
        "{text}"
    );
    assert!(
        !text.contains("still there"),
        "sent after the goodbye: {text}"
    );
}

#[test]
fn repl_stops_on_quit_and_at_end_of_input() {
    for input in ["hello\n/quit\nbye\n", "hello\n"] {
        let out = polyai()
            .args(["--sandbox", "chat"])
            .write_stdin(input)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert_eq!(text.matches("agent> ").count(), 2, "{text}");
        assert!(!text.contains("ended the conversation"), "{text}");
    }
}

#[test]
fn chat_send_prints_one_reply_per_message_as_json() {
    let out = polyai()
        .args([
            "--sandbox",
            "chat",
            "--env",
            "live",
            "--lang",
            "en-GB",
            "-O",
            "json",
        ])
        .args(["send", "what are your opening hours?", "bye"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let replies: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(replies.len(), 3, "greeting + 2 replies");
    assert_eq!(replies[0]["user_input"], "");
    assert_eq!(replies[1]["user_input"], "what are your opening hours?");
    assert_eq!(replies[2]["conversation_ended"], true);
}

/// Ctrl-C while the REPL waits for the next message exits 130, SIGTERM 143 (128 + the signal),
/// as shells report a process those signals stopped.
#[cfg(unix)]
#[test]
fn a_signal_while_waiting_exits_128_plus_its_number() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_polyai"))
            .args(["--sandbox", "chat"])
            .env("XDG_CONFIG_HOME", env!("CARGO_TARGET_TMPDIR"))
            .env_remove("POLYAI_PROFILE")
            .env_remove("POLYAI_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // The greeting is printed once the session is open; the REPL then waits on stdin,
        // which stays open.
        let mut greeting = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut greeting)
            .expect("greeting");
        assert!(!greeting.is_empty(), "no greeting");
        // Stdin stays open until the child has exited: end of input would end the REPL too.
        let stdin = child.stdin.take();
        let killed = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let status = child.wait().expect("exit");
        drop(stdin);
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            std::io::Read::read_to_string(&mut stderr, &mut err).expect("stderr");
        }
        assert_eq!(status.code(), Some(code), "{signal}: {err}");
    }
}
