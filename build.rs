//! Link settings of the `fjord` executable (issue 13, goal 5: an idle broker's resident memory
//! within 10 MB; docs/performance.md). Each applies only to a native `*-linux-gnu` build and
//! only where the toolchain has what it needs; elsewhere the executable is linked as before.
//!
//! * Packed relative relocations (`-z pack-relative-relocs`, ELF `DT_RELR`): a
//!   position-independent executable carries one relocation per pointer in its read-only data,
//!   530 KiB of them for fjord, which the dynamic loader reads at every start; packed they take
//!   6 KiB. Only where the C library linked against can load such an executable (glibc 2.36
//!   and later define the `GLIBC_ABI_DT_RELR` version).
//! * The functions a starting broker runs placed together (`src/startup.ld`, a linker script
//!   written by `scripts/startup-text.py`, which says why and how). An idle broker runs well
//!   under 1 MiB of code spread over 15 MiB, and the kernel maps the 64 KiB around each page it
//!   first runs, so most of the executable's code was resident.
//! * The unwinder linked statically from `libgcc_eh.a`, as a `crt-static` build does, instead
//!   of loading `libgcc_s.so.1` for its `_Unwind_*` functions at every start. `static:-bundle`
//!   puts `-Bstatic -lgcc_eh` ahead of the standard library's own `-lgcc_s`, so the static copy
//!   is the one taken and the linker's `--as-needed` drops the shared library.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    if target != host || !target.ends_with("-linux-gnu") {
        return;
    }
    if libc_loads_dt_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    let startup = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/startup.ld");
    println!("cargo:rerun-if-changed={}", startup.display());
    // Only in an optimized build: an unoptimized one's resident memory matters to nobody, and
    // matching its many more sections against the script's patterns doubles its link time.
    let optimized = std::env::var("OPT_LEVEL").is_ok_and(|level| level != "0");
    if optimized && startup.is_file() {
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", startup.display());
    }
    if linker_finds("libgcc_eh.a").is_some() {
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
}

/// The path of `file` in the C compiler driver's search path (rustc links through it), if it
/// is there: `cc -print-file-name` echoes the bare name back when it is not.
fn linker_finds(file: &str) -> Option<String> {
    let out = Command::new("cc")
        .arg(format!("-print-file-name={file}"))
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (path != file && std::path::Path::new(&path).is_file()).then_some(path)
}

/// Whether the `libc.so.6` the linker links against defines the `GLIBC_ABI_DT_RELR` symbol
/// version.
fn libc_loads_dt_relr() -> bool {
    let Some(path) = linker_finds("libc.so.6") else {
        return false;
    };
    let Ok(bytes) = std::fs::read(&path) else {
        return false;
    };
    let needle = b"GLIBC_ABI_DT_RELR";
    bytes.windows(needle.len()).any(|w| w == needle)
}
