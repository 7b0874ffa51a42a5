//! A small tmpfs the test mounts itself (it runs as root), for disk-full and
//! read-only faults on a filesystem nothing else uses. A mount that fails
//! fails the test with mount(8)'s reason: skipping would prove nothing.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

/// A tmpfs of a few MiB, unmounted and removed on drop.
pub struct SmallDisk {
    pub dir: PathBuf,
}

fn mount(args: &[&str], dir: &PathBuf, what: &str) {
    let out = Command::new("mount")
        .args(args)
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run mount(8): {e}"));
    assert!(
        out.status.success(),
        "this test needs to {what} (run it as root): mount said {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl SmallDisk {
    pub fn mount(size_mib: u64) -> SmallDisk {
        let dir = super::unique_temp_dir();
        let size = format!("size={size_mib}m");
        mount(
            &["-t", "tmpfs", "-o", &size, "tmpfs"],
            &dir,
            &format!("mount a {size_mib} MiB tmpfs"),
        );
        SmallDisk { dir }
    }

    /// The broker's `log.dirs` on this disk.
    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Remounts read-only (`ro: true`) or read-write. As root, chmod does
    /// not stop writes; a read-only mount does.
    pub fn remount(&self, ro: bool) {
        let opt = if ro { "remount,ro" } else { "remount,rw" };
        mount(&["-o", opt], &self.dir, &format!("{opt} a tmpfs"));
    }

    pub fn free(&self) -> u64 {
        pipit::log::file_backend::free_bytes(&self.dir).expect("statvfs")
    }

    fn ballast_path(&self) -> PathBuf {
        self.dir.join("ballast")
    }

    /// Writes a ballast file until `left` bytes are free (0: the disk is full).
    pub fn fill_until(&self, left: u64) {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.ballast_path())
            .expect("create ballast");
        let mut w = std::io::BufWriter::new(f);
        let chunk = vec![0xa5u8; 4096];
        // Bounded: the disk is a few MiB.
        for _ in 0..1 << 16 {
            let free = self.free();
            if free <= left {
                break;
            }
            let n = (free - left).min(chunk.len() as u64) as usize;
            if w.write_all(&chunk[..n]).and_then(|_| w.flush()).is_err() {
                break;
            }
        }
    }

    /// Removes the ballast file.
    pub fn remove_ballast(&self) {
        std::fs::remove_file(self.ballast_path()).expect("remove ballast");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl SmallDisk {
    /// A broker with its `log.dirs` on this disk and 2 x 1 MiB rings (about
    /// 2.1 MiB per partition); `extra` overrides are added last.
    pub fn broker(&self, extra: &[(&str, &str)]) -> super::Broker {
        let data = self.data().display().to_string();
        let mut overrides = vec![
            ("log.dirs", data.as_str()),
            ("log.segment.bytes", "1048576"),
            ("log.ring.segments", "2"),
            ("message.max.bytes", "100000"),
        ];
        overrides.extend_from_slice(extra);
        super::Broker::start(&overrides)
    }
}
