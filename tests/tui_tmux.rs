//! End to end: the `ponder` binary runs the demo in a real terminal (tmux), keys are sent, and the
//! captured screens are checked — selecting a beam, opening the diff, side by side, help, quit.
//! Skipped, with the reason printed, where tmux is not installed.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A tmux server of our own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend(keys);
        assert!(self.run(&args).status.success());
    }

    /// Waits (up to `limit`) for the screen to satisfy `ok`; fails with the last screen.
    fn wait_for(&self, what: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if start.elapsed() > limit {
                panic!("waited {limit:?} for {what}; the screen was:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Tmux {
    /// Waits for ponder to exit (its tmux session closes with it), so it cleans up after itself.
    fn wait_for_exit(&self) {
        let start = Instant::now();
        while self
            .run(&["has-session", "-t", &self.session])
            .status
            .success()
        {
            assert!(
                start.elapsed() < SHORT,
                "ponder did not exit; the screen was:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn start(width: u16, height: u16, home: &Path) -> Option<Tmux> {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed (apt-get install tmux)");
        return None;
    }
    let tmux = Tmux {
        socket: format!("ponder-e2e-{}-{width}", std::process::id()),
        session: "demo".to_string(),
    };
    let command = format!(
        "env HOME={home} XDG_DATA_HOME={home}/data XDG_CONFIG_HOME={home}/config TERM=xterm-256color {bin} demo --pace-ms 0",
        home = home.display(),
        bin = env!("CARGO_BIN_EXE_ponder"),
    );
    let out = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        &tmux.session,
        "-x",
        &width.to_string(),
        "-y",
        &height.to_string(),
        &command,
    ]);
    assert!(
        out.status.success(),
        "tmux new-session failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(tmux)
}

const LONG: Duration = Duration::from_secs(120);
const SHORT: Duration = Duration::from_secs(15);

#[test]
fn the_demo_in_a_real_terminal_at_200x50() {
    let home = tempfile::tempdir().unwrap();
    let Some(tmux) = start(200, 50, home.path()) else {
        return;
    };
    let screen = tmux.wait_for("the demo to finish", LONG, |s| s.contains("✓ verified"));
    assert!(screen.contains("SCRIPTED"), "{screen}");
    assert!(screen.contains("1 beams"), "the tab bar: {screen}");

    // Select the next beam.
    tmux.keys(&["j"]);
    tmux.wait_for("beam #1 selected", SHORT, |s| s.contains("▸#1"));

    // Open the diff: unified, then side by side.
    tmux.keys(&["d"]);
    let diff = tmux.wait_for("the diff", SHORT, |s| s.contains("· unified"));
    assert!(diff.contains("@@ -"), "{diff}");
    assert!(diff.contains("minicfg/parser.py"), "{diff}");
    tmux.keys(&["s"]);
    let sbs = tmux.wait_for("side by side", SHORT, |s| s.contains("· side by side"));
    // Side by side puts old and new line numbers in two columns of one row.
    assert!(
        sbs.lines()
            .any(|l| l.contains(" -    ") && l.contains(" +    ")),
        "{sbs}"
    );

    // Help, then any key closes it, then q quits.
    tmux.keys(&["?"]);
    tmux.wait_for("help", SHORT, |s| s.contains("any key closes"));
    tmux.keys(&["x"]);
    tmux.wait_for("help closed", SHORT, |s| !s.contains("key closes"));
    tmux.keys(&["q"]);
    tmux.wait_for_exit();
}

#[test]
fn the_demo_in_a_small_terminal_folds_panes_into_tabs() {
    let home = tempfile::tempdir().unwrap();
    let Some(tmux) = start(80, 24, home.path()) else {
        return;
    };
    let screen = tmux.wait_for("the demo to finish", LONG, |s| s.contains("✓ verified"));
    assert!(
        !screen.contains("┌ patch"),
        "the diff is a tab at 80 columns: {screen}"
    );
    tmux.keys(&["Tab"]);
    tmux.wait_for("the diff tab", SHORT, |s| s.contains("┌ patch"));
    tmux.keys(&["Tab"]);
    tmux.wait_for("the verify tab", SHORT, |s| s.contains("┌ verification"));
    tmux.keys(&["Tab"]);
    tmux.wait_for("the rank tab", SHORT, |s| s.contains("tokens per stage"));
    tmux.keys(&["q"]);
    tmux.wait_for_exit();
}
