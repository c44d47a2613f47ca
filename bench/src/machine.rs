//! A one-line description of the machine, for the results' header.

/// Cores, memory and CPU model as Linux reports them.
pub fn describe() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|meminfo| {
            let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib / 1024.0 / 1024.0)
        });
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|cpuinfo| {
            let line = cpuinfo
                .lines()
                .find(|line| line.starts_with("model name"))?;
            Some(line.split_once(':')?.1.trim().to_owned())
        });
    let mut description = format!("{cores} cores");
    if let Some(gib) = memory_gib {
        description.push_str(&format!(", {gib:.0} GiB"));
    }
    if let Some(model) = model {
        description.push_str(&format!(", {model}"));
    }
    description
}
