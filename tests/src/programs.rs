//! External programs the tests run: finding them (or failing with how to install them),
//! scratch directories, and starting private servers.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

use tenantdesk::kept_child::KeptChild;

/// Panics with the install command when `program` is not on PATH.
pub fn require(program: &str, install: &str) -> PathBuf {
    which(program).unwrap_or_else(|| {
        panic!("the tests need `{program}`, which is not installed. Install it with: {install}")
    })
}

pub fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program)).filter(|path| path.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

const SCRATCH_PREFIX: &str = "tenantdesk-test-";
const IN_USE: &str = ".in-use";

/// Locks on the scratch directories of this run, held until the process ends.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// A fresh directory under the temporary directory, reachable by the unprivileged user
/// PostgreSQL runs as. It stays locked while this test run lives; the first call of a run
/// removes the directories of earlier runs, whose locks died with them.
pub fn scratch_dir(purpose: &str) -> PathBuf {
    static CLEANUP: Once = Once::new();
    CLEANUP.call_once(remove_abandoned_scratch_dirs);
    let suffix: u64 = rand::random();
    let dir = std::env::temp_dir().join(format!("{SCRATCH_PREFIX}{purpose}-{suffix:016x}"));
    std::fs::create_dir_all(&dir).expect("creating a scratch directory");
    let lock = File::create(dir.join(IN_USE)).expect("creating the scratch lock");
    lock.try_lock().expect("locking a new scratch directory");
    HELD.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(lock);
    dir
}

fn remove_abandoned_scratch_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let abandoned = entry
            .file_name()
            .to_string_lossy()
            .starts_with(SCRATCH_PREFIX)
            && File::open(entry.path().join(IN_USE)).is_ok_and(|lock| lock.try_lock().is_ok());
        if abandoned {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Waits until `ready` holds, checking that the server has not died meanwhile.
pub fn wait_for(what: &str, child: &KeptChild, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    let mut pause = Duration::from_millis(10);
    while !ready() {
        assert!(!child.has_exited(), "{what} exited during start-up");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} did not become ready in 30 s"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// A private redis-server on a unix socket, with no persistence.
pub fn start_redis() -> (String, KeptChild) {
    let server = require("redis-server", "sudo apt-get install -y redis-server");
    let dir = scratch_dir("redis");
    let socket = dir.join("redis.sock");
    let mut command = Command::new(server);
    command
        .args([
            "--port",
            "0",
            "--save",
            "",
            "--appendonly",
            "no",
            "--unixsocket",
        ])
        .arg(&socket)
        .args(["--unixsocketperm", "700", "--dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = KeptChild::spawn(command).expect("starting redis-server");
    wait_for("redis-server", &child, || {
        std::os::unix::net::UnixStream::connect(&socket).is_ok()
    });
    (format!("redis+unix://{}", socket.display()), child)
}
