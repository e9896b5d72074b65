//! CPU time from `/proc/<...>/stat`, shared by the bench tools.

/// USER_HZ: the unit of utime/stime in /proc/*/stat, 100 on every Linux architecture fjord
/// builds for (the kernel's ABI, independent of CONFIG_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// (user, system) CPU seconds from a `stat` file: `/proc/self/stat` (the process, all
/// threads) or `/proc/thread-self/stat` (the calling thread).
pub fn cpu_times(stat_file: &str) -> std::io::Result<(f64, f64)> {
    let stat = std::fs::read_to_string(stat_file)?;
    // The command name (field 2) may hold spaces: count from the last ')'.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0) as f64
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    Ok((ticks(11) / TICKS_PER_SECOND, ticks(12) / TICKS_PER_SECOND))
}
