//! Link settings of the `fjord` executable.
//!
//! Packed relative relocations (`-z pack-relative-relocs`, ELF `DT_RELR`): a position-independent
//! executable carries one relocation per pointer in its read-only data, 530 KiB of them for
//! fjord, which the dynamic loader reads at every start; packed they take 6 KiB. An idle
//! broker's resident memory goes down by about 0.5 MiB (issue 13, goal 5: idle RSS 10 MB;
//! docs/performance.md). Only where the C library the linker links against can load such an
//! executable (glibc 2.36 and later define the `GLIBC_ABI_DT_RELR` version) and only for a
//! native build; elsewhere the executable is linked as before.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    if target == host && target.ends_with("-linux-gnu") && libc_loads_dt_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the `libc.so.6` the C compiler driver (rustc's linker here) links against defines
/// the `GLIBC_ABI_DT_RELR` symbol version.
fn libc_loads_dt_relr() -> bool {
    let Ok(out) = Command::new("cc")
        .arg("-print-file-name=libc.so.6")
        .output()
    else {
        return false;
    };
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let Ok(bytes) = std::fs::read(&path) else {
        return false;
    };
    let needle = b"GLIBC_ABI_DT_RELR";
    bytes.windows(needle.len()).any(|w| w == needle)
}
