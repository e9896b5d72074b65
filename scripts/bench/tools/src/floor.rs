//! The machine's floor for a broker's two byte paths, measured by `scripts/bench.sh` next to
//! fjord's own CPU per GiB (issue 13, goal 1):
//!
//! * `recv-write`: receive N bytes over loopback TCP and append them to a file, read into one
//!   buffer and written from it (what any produce path pays at least);
//! * `sendfile`: send an N-byte file (in the page cache, as just-produced data is) to a loopback
//!   socket with sendfile(2) (what any fetch path pays at least).
//!
//! The peer (this program again, in a child process) sends or sinks the bytes. The CPU reported
//! is this process's own, user and system, from `/proc/thread-self/stat`: the same counters
//! bench.py reads for the broker, counted from the accepted connection to the last byte. The
//! peer's is reported beside it: over loopback, the kernel's work for one transfer (TCP delivery
//! runs in softirq context on whichever side happens to push it, and with tick-based CPU
//! accounting it is charged to the task it interrupts) splits between the two processes
//! differently from run to run, so bench.py compares fjord with the sum of both.
//!
//! The peer's socket buffer can be set to what the Java client sets on its side of fjord's
//! connections (the producer's `send.buffer.bytes`, 128 KiB; the consumer's
//! `receive.buffer.bytes`, 64 KiB): it moves both the split and the sum (docs/performance.md).
//! This process's own socket keeps the kernel's default, as fjord's do.
//!
//! The sending peer can be paced to a byte rate: a broker receives a produce at the rate its
//! producer sends, and what receiving and writing a byte costs depends on that rate (how much
//! each wake-up finds to read, how long freed page-cache memory sits before it is reused), so
//! bench.py also runs this floor at the rate the Java producer achieved against fjord.
//!
//! ```text
//! floor recv-write <dir> <bytes> [buffer bytes, 262144] [peer's SO_SNDBUF, 0: kernel default]
//!                  [peer's rate in MiB/s, 0: as fast as it can]
//! floor sendfile   <dir> <bytes> [bytes per sendfile call, 1048576] [peer's SO_RCVBUF, 0: default]
//! ```
//!
//! Each prints `RESULT mode=... bytes=... seconds=... user_s=... system_s=... cpu_s_per_gib=...
//! peer_cpu_s_per_gib=... peer_buffer=... mib_s=...`.
//! No unsafe code: std's sockets and files, and rustix's `sendfile` and socket options.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
mod cpu;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const GIB: f64 = (1u64 << 30) as f64;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let number = |i: usize, default: u64| arg(i).map_or(default, |s| s.parse().expect("a number"));
    let result = match arg(0) {
        Some("recv-write") => recv_write(
            Path::new(arg(1).expect("dir")),
            number(2, 1 << 31),
            number(3, 256 << 10),
            number(4, 0),
            number(5, 0),
        ),
        Some("sendfile") => send_file(
            Path::new(arg(1).expect("dir")),
            number(2, 1 << 31),
            number(3, 1 << 20),
            number(4, 0),
        ),
        // The peers, run by the two modes above in a child process.
        Some("peer-send") => peer_send(
            arg(1).expect("address"),
            number(2, 0),
            number(3, 256 << 10),
            number(4, 0),
            number(5, 0),
        ),
        Some("peer-sink") => peer_sink(arg(1).expect("address"), number(2, 0), number(4, 0)),
        _ => {
            eprintln!(
                "usage: floor recv-write|sendfile <dir> <bytes> [buffer bytes] [peer's socket buffer] \\
                 [recv-write: peer's MiB/s]"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("floor: {e}");
        std::process::exit(1);
    }
}

struct Measure {
    wall: Instant,
    cpu: (f64, f64),
}

impl Measure {
    fn start() -> std::io::Result<Measure> {
        Ok(Measure {
            wall: Instant::now(),
            cpu: cpu::cpu_times("/proc/thread-self/stat")?,
        })
    }

    /// (wall seconds, user CPU seconds, system CPU seconds) since `start`.
    fn stop(self) -> std::io::Result<(f64, f64, f64)> {
        let seconds = self.wall.elapsed().as_secs_f64();
        let (user, system) = cpu::cpu_times("/proc/thread-self/stat")?;
        Ok((seconds, user - self.cpu.0, system - self.cpu.1))
    }
}

/// Prints the RESULT line: this process's CPU and the peer's.
fn report(
    mode: &str,
    bytes: u64,
    (seconds, user, system): (f64, f64, f64),
    peer_cpu: f64,
    peer_buffer: u64,
) {
    let gib = bytes as f64 / GIB;
    println!(
        "RESULT mode={mode} bytes={bytes} seconds={seconds:.3} user_s={user:.2} system_s={system:.2} \
         cpu_s_per_gib={:.3} peer_cpu_s_per_gib={:.3} peer_buffer={peer_buffer} mib_s={:.0}",
        (user + system) / gib,
        peer_cpu / gib,
        bytes as f64 / seconds / (1 << 20) as f64
    );
}

/// Starts this program as the peer, connecting to `listener`, and accepts its connection.
fn peer(
    listener: &TcpListener,
    mode: &str,
    bytes: u64,
    chunk: u64,
    socket_buffer: u64,
    rate_mib_s: u64,
) -> std::io::Result<(Child, TcpStream)> {
    let address = listener.local_addr()?.to_string();
    let child = Command::new(std::env::current_exe()?)
        .args([mode, &address, &bytes.to_string(), &chunk.to_string()])
        .arg(socket_buffer.to_string())
        .arg(rate_mib_s.to_string())
        .stdout(Stdio::piped())
        .spawn()?;
    let (stream, _) = listener.accept()?;
    Ok((child, stream))
}

/// Waits for the peer; its CPU seconds (user + system), which it prints as `PEER cpu_s=...`.
fn wait_peer(child: Child) -> std::io::Result<f64> {
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(std::io::Error::other(format!(
            "peer exited with {}",
            output.status
        )));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    Ok(stdout
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("cpu_s="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN))
}

/// The peer's own line for `wait_peer`.
fn peer_report(measure: Measure) -> std::io::Result<()> {
    let (_, user, system) = measure.stop()?;
    println!("PEER cpu_s={:.3}", user + system);
    Ok(())
}

fn recv_write(
    dir: &Path,
    bytes: u64,
    buffer: u64,
    peer_sndbuf: u64,
    peer_rate_mib_s: u64,
) -> std::io::Result<()> {
    let path = dir.join("floor-recv-write.log");
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let (child, mut stream) = peer(
        &listener,
        "peer-send",
        bytes,
        buffer,
        peer_sndbuf,
        peer_rate_mib_s,
    )?;
    let mut buf = vec![0u8; buffer as usize];
    let measure = Measure::start()?;
    let mut received = 0u64;
    while received < bytes {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::Error::other(format!(
                "peer closed after {received} bytes"
            )));
        }
        file.write_all(&buf[..n])?;
        received += n as u64;
    }
    let measured = measure.stop()?;
    drop(file);
    std::fs::remove_file(&path)?;
    let peer_cpu = wait_peer(child)?;
    report("recv-write", received, measured, peer_cpu, peer_sndbuf);
    Ok(())
}

fn send_file(dir: &Path, bytes: u64, chunk: u64, peer_rcvbuf: u64) -> std::io::Result<()> {
    let path = source_file(dir, bytes)?;
    let file = File::open(&path)?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let (child, stream) = peer(&listener, "peer-sink", bytes, chunk, peer_rcvbuf, 0)?;
    let measure = Measure::start()?;
    let mut offset = 0u64;
    while offset < bytes {
        let want = chunk.min(bytes - offset) as usize;
        let n = rustix::fs::sendfile(&stream, &file, Some(&mut offset), want)?;
        if n == 0 {
            return Err(std::io::Error::other(format!(
                "sendfile stopped at {offset} bytes"
            )));
        }
    }
    let measured = measure.stop()?;
    drop(stream);
    std::fs::remove_file(&path)?;
    let peer_cpu = wait_peer(child)?;
    report("sendfile", offset, measured, peer_cpu, peer_rcvbuf);
    Ok(())
}

/// An N-byte file of pseudo-random bytes, written (so in the page cache) before the clock starts.
fn source_file(dir: &Path, bytes: u64) -> std::io::Result<PathBuf> {
    let path = dir.join("floor-sendfile.log");
    let mut file = File::create(&path)?;
    let block = pseudo_random(1 << 20);
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    Ok(path)
}

fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Connects to `address` as the Java client does: the socket buffers are set before the connect
/// (the receive buffer decides the window scale the SYN offers); the kernel doubles a size set
/// and stops autotuning that buffer. 0 keeps the kernel's default.
fn connect(address: &str, sndbuf: u64, rcvbuf: u64) -> std::io::Result<TcpStream> {
    use rustix::net::{AddressFamily, SocketType, sockopt};
    let address: std::net::SocketAddr = address.parse().map_err(std::io::Error::other)?;
    let socket = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None)?;
    if sndbuf > 0 {
        sockopt::set_socket_send_buffer_size(&socket, sndbuf as usize)?;
    }
    if rcvbuf > 0 {
        sockopt::set_socket_recv_buffer_size(&socket, rcvbuf as usize)?;
    }
    rustix::net::connect(&socket, &address)?;
    Ok(TcpStream::from(socket))
}

/// Sends `bytes` in writes of `chunk`; at `rate_mib_s` (0: unpaced), sleeping whenever it is
/// ahead of that rate.
fn peer_send(
    address: &str,
    bytes: u64,
    chunk: u64,
    sndbuf: u64,
    rate_mib_s: u64,
) -> std::io::Result<()> {
    let mut stream = connect(address, sndbuf, 0)?;
    let block = pseudo_random(chunk as usize);
    let measure = Measure::start()?;
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < bytes {
        let n = (bytes - sent).min(chunk) as usize;
        stream.write_all(&block[..n])?;
        sent += n as u64;
        if rate_mib_s > 0 {
            let due = Duration::from_secs_f64(sent as f64 / (rate_mib_s << 20) as f64);
            if let Some(ahead) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(ahead);
            }
        }
    }
    peer_report(measure)
}

fn peer_sink(address: &str, bytes: u64, rcvbuf: u64) -> std::io::Result<()> {
    let mut stream = connect(address, 0, rcvbuf)?;
    let mut buf = vec![0u8; 1 << 20];
    let measure = Measure::start()?;
    let mut received = 0u64;
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        received += n as u64;
    }
    if received == bytes {
        peer_report(measure)
    } else {
        Err(std::io::Error::other(format!(
            "received {received} of {bytes} bytes"
        )))
    }
}
