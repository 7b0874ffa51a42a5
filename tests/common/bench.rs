//! Shared by the benchmarks: the machine description and BENCHMARKS.md sections.

use std::path::Path;

/// "N × CPU model, Linux version" for the record.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} × {cpu}, Linux {}", kernel.trim())
}

/// Replaces (or appends) the section between `<!-- name:begin -->` and
/// `<!-- name:end -->` of BENCHMARKS.md.
pub fn update_section(name: &str, body: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        "# pipit benchmarks\n\nWritten by `make bench` and `make footprint`; each section says how it was measured.\n"
            .into()
    });
    let (begin, end) = (
        format!("<!-- {name}:begin -->"),
        format!("<!-- {name}:end -->"),
    );
    let section = format!("{begin}\n{body}\n{end}");
    if let (Some(a), Some(b)) = (text.find(&begin), text.find(&end)) {
        text.replace_range(a..b + end.len(), &section);
    } else {
        text.push_str(&format!("\n{section}\n"));
    }
    std::fs::write(path, text).expect("BENCHMARKS.md is writable");
}
