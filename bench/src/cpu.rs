//! CPU time from Linux's `/proc`, to say where a benchmark's time goes: this process, the SMTP
//! sink (a thread of ours or a process we started) and the PostgreSQL server (its main process,
//! its live backends, and the backends that already exited, which the kernel adds to the main
//! process's children's time).

use std::path::Path;
use std::time::Duration;

/// Linux reports `/proc/*/stat` times in USER_HZ, which is 100 on every architecture we run on.
const TICKS_PER_SECOND: u64 = 100;

struct Stat {
    ppid: u32,
    /// utime + stime of the process (all its threads) or thread.
    own: u64,
    /// cutime + cstime: children that exited and were waited for.
    children: u64,
}

fn read_stat(path: &Path) -> Option<Stat> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name is in parentheses and may hold spaces; the fields follow the last ')'.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |index: usize| fields.get(index)?.parse::<u64>().ok();
    Some(Stat {
        ppid: u32::try_from(field(1)?).ok()?,
        own: field(11)? + field(12)?,
        children: field(13)? + field(14)?,
    })
}

fn ticks(ticks: u64) -> Duration {
    Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
}

/// CPU time of this whole process, every thread included.
pub fn this_process() -> Duration {
    read_stat(Path::new("/proc/self/stat")).map_or(Duration::ZERO, |stat| ticks(stat.own))
}

/// CPU time of one thread of this process.
pub fn this_thread_of(tid: i32) -> Duration {
    read_stat(
        &Path::new("/proc/self/task")
            .join(tid.to_string())
            .join("stat"),
    )
    .map_or(Duration::ZERO, |stat| ticks(stat.own))
}

/// CPU time of another process (its threads included, its children not).
pub fn process(pid: u32) -> Option<Duration> {
    read_stat(&Path::new("/proc").join(pid.to_string()).join("stat")).map(|stat| ticks(stat.own))
}

/// CPU time of a process and of its direct children, live or exited: a PostgreSQL server with
/// its backends and background workers.
pub fn process_tree(root: u32) -> Option<Duration> {
    let root_stat = read_stat(&Path::new("/proc").join(root.to_string()).join("stat"))?;
    let mut total = root_stat.own + root_stat.children;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == root {
            continue;
        }
        if let Some(stat) = read_stat(&entry.path().join("stat"))
            && stat.ppid == root
        {
            total += stat.own + stat.children;
        }
    }
    Some(ticks(total))
}

/// CPU time all processors spent on anything but idling and waiting for I/O (steal included:
/// time the hypervisor gave to someone else), from the first line of `/proc/stat`. Compared
/// with what our processes used, it shows how busy the rest of the machine was.
pub fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal ...
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&index| fields.get(index).copied().unwrap_or(0))
        .sum();
    Some(ticks(busy))
}
