//! Child processes that never outlive us: the embedded PostgreSQL, and in tests Redis,
//! chromedriver and the like. Each is spawned from a thread that lives exactly as long as the
//! child, so the kernel's parent-death signal (tied to the spawning thread) fires only when
//! this process dies before stopping the child itself.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};
use std::thread::JoinHandle;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub struct KeptChild {
    pid: Pid,
    keeper: JoinHandle<std::io::Result<ExitStatus>>,
}

impl KeptChild {
    /// Spawns `command`; if we die first, the child receives SIGINT.
    pub fn spawn(mut command: Command) -> std::io::Result<Self> {
        set_parent_death_signal(&mut command, Signal::SIGINT);
        let (sender, receiver) = std::sync::mpsc::channel();
        let keeper = std::thread::Builder::new()
            .name("kept-child".into())
            .spawn(move || match command.spawn() {
                Ok(mut child) => {
                    let _ = sender.send(Ok(child.id()));
                    child.wait()
                }
                Err(error) => {
                    let _ = sender.send(Err(std::io::Error::new(error.kind(), error.to_string())));
                    Err(error)
                }
            })?;
        let id = receiver.recv().map_err(std::io::Error::other)??;
        let pid = Pid::from_raw(i32::try_from(id).map_err(std::io::Error::other)?);
        Ok(Self { pid, keeper })
    }

    pub fn pid(&self) -> u32 {
        self.pid.as_raw().unsigned_abs()
    }

    pub fn has_exited(&self) -> bool {
        self.keeper.is_finished()
    }

    /// Sends `signal` and waits for the child to exit.
    pub fn stop(self, signal: Signal) {
        let _ = kill(self.pid, signal);
        let _ = self.keeper.join();
    }
}

#[allow(unsafe_code)]
fn set_parent_death_signal(command: &mut Command, signal: Signal) {
    // SAFETY: the closure runs between fork and exec and only calls prctl(2), which is
    // async-signal-safe; it allocates nothing and takes no locks.
    unsafe {
        command
            .pre_exec(move || nix::sys::prctl::set_pdeathsig(signal).map_err(std::io::Error::from));
    }
}
