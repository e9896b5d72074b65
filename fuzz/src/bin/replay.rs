//! Run a target on files, without AFL: `replay <request|records> <file or dir>...`. A panic or
//! an abort here reproduces a finding (AFL keeps them in fuzz/out/<target>/default/crashes/).
use std::path::Path;

fn main() {
    let mut args = std::env::args().skip(1);
    let target: fn(&[u8]) -> bool = match args.next().as_deref() {
        Some("request") => fjord_fuzz::request,
        Some("records") => fjord_fuzz::records,
        _ => {
            eprintln!("usage: replay <request|records> <file or dir>...");
            std::process::exit(2);
        }
    };
    let mut files = Vec::new();
    for arg in args {
        let path = Path::new(&arg);
        if path.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(path)
                .expect("read dir")
                .map(|e| e.expect("dir entry").path())
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(path.to_path_buf());
        }
    }
    let mut accepted = 0;
    for f in &files {
        eprintln!("{}", f.display());
        accepted += usize::from(target(&std::fs::read(f).expect("read input")));
    }
    eprintln!(
        "{} inputs, no panic; {accepted} decoded (request) / validated (records)",
        files.len()
    );
}
