//! A rate limit for log lines a client can trigger at will (a refused frame,
//! an unsupported request, a connection over `max.connections`, an admin
//! request refused for lack of disk, a read or write error answered to one
//! request), so a flood of bad requests cannot fill
//! a gateway's SD card with log lines.
//!
//! Each [`Kind`] of line gets at most [`LINES_PER_WINDOW`] lines per
//! [`WINDOW`]; the lines past that are counted, not written, and the first
//! line of that kind after the window closes is preceded by one summary line
//! "… suppressed M similar lines in the last S s". So a sustained flood
//! writes about one line per second per kind, and a lone bad client is still
//! logged in full. The decider ([`Limiter`]) reads no clock: it is given
//! `now`, and the process-wide instance behind [`log`] passes
//! `Instant::now()`. Invariant: every line offered is either written or
//! counted in exactly one later summary; the broker writes the summaries
//! still pending when it stops ([`flush`]).

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Length of one rate-limit window.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Lines written per kind and window before the rest are only counted.
pub const LINES_PER_WINDOW: u32 = 10;

/// The kinds of client-triggered lines, each limited on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A frame refused while reading it (oversized, truncated, stalled).
    BadFrame,
    /// A frame read whole but not decodable (malformed, unknown API key).
    BadRequest,
    /// A request version pipit does not serve.
    Unsupported,
    /// A request whose handler failed, closing the connection.
    RequestFailed,
    /// A connection refused at `max.connections`.
    ConnectionLimit,
    /// An admin or producer-id request refused because a state file could
    /// not be written (disk full, I/O error).
    StorageRefused,
    /// A read or write of a partition's files that failed for one request
    /// (a dying card answers every Fetch that way).
    StorageIo,
}

const KINDS: usize = 7;

impl Kind {
    fn index(self) -> usize {
        match self {
            Kind::BadFrame => 0,
            Kind::BadRequest => 1,
            Kind::Unsupported => 2,
            Kind::RequestFailed => 3,
            Kind::ConnectionLimit => 4,
            Kind::StorageRefused => 5,
            Kind::StorageIo => 6,
        }
    }
}

/// Lines of one kind that were counted instead of written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppressed {
    pub lines: u64,
    /// From the start of the window they fell in to now.
    pub over: Duration,
}

impl fmt::Display for Suppressed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "… suppressed {} similar lines in the last {} s",
            self.lines,
            self.over.as_secs().max(1)
        )
    }
}

/// What to do with one offered line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Write it, after a summary of what the last window suppressed if any.
    Write { summary: Option<Suppressed> },
    /// Count it only.
    Suppress,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Option<Instant>,
    written: u32,
    suppressed: u64,
}

const EMPTY: Window = Window {
    start: None,
    written: 0,
    suppressed: 0,
};

/// The pure decider: per kind, a fixed window with a line budget.
#[derive(Debug)]
pub struct Limiter {
    window: Duration,
    per_window: u32,
    kinds: [Window; KINDS],
}

impl Limiter {
    /// At most `per_window` lines per kind in each `window`.
    pub const fn new(window: Duration, per_window: u32) -> Limiter {
        Limiter {
            window,
            per_window,
            kinds: [EMPTY; KINDS],
        }
    }

    /// Decides whether a line of `kind` offered at `now` is written.
    pub fn offer(&mut self, kind: Kind, now: Instant) -> Verdict {
        let w = &mut self.kinds[kind.index()];
        let open = w
            .start
            .is_some_and(|s| now.saturating_duration_since(s) < self.window);
        if !open {
            let summary = match (w.start, w.suppressed) {
                (Some(s), lines) if lines > 0 => Some(Suppressed {
                    lines,
                    over: now.saturating_duration_since(s),
                }),
                _ => None,
            };
            *w = Window {
                start: Some(now),
                written: 1,
                suppressed: 0,
            };
            return Verdict::Write { summary };
        }
        if w.written < self.per_window {
            w.written += 1;
            Verdict::Write { summary: None }
        } else {
            w.suppressed += 1;
            Verdict::Suppress
        }
    }
}

impl Limiter {
    /// Takes the counts still pending (at shutdown, so no suppressed line
    /// goes unreported), each with the time since its window started.
    pub fn drain(&mut self, now: Instant) -> Vec<(Kind, Suppressed)> {
        const ALL: [Kind; KINDS] = [
            Kind::BadFrame,
            Kind::BadRequest,
            Kind::Unsupported,
            Kind::RequestFailed,
            Kind::ConnectionLimit,
            Kind::StorageRefused,
            Kind::StorageIo,
        ];
        let mut out = Vec::new();
        for kind in ALL {
            let w = &mut self.kinds[kind.index()];
            if let (Some(start), lines) = (w.start, w.suppressed)
                && lines > 0
            {
                out.push((
                    kind,
                    Suppressed {
                        lines,
                        over: now.saturating_duration_since(start),
                    },
                ));
                w.suppressed = 0;
            }
        }
        out
    }
}

static LIMITER: Mutex<Limiter> = Mutex::new(Limiter::new(WINDOW, LINES_PER_WINDOW));

/// Logs `args` at `level` unless lines of `kind` are over their budget (see
/// the module doc). Use it for lines a client can cause at will.
pub fn log(kind: Kind, level: log::Level, args: fmt::Arguments<'_>) {
    if !log::log_enabled!(level) {
        return;
    }
    let verdict = LIMITER
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .offer(kind, Instant::now());
    if let Verdict::Write { summary } = verdict {
        if let Some(s) = summary {
            log::log!(level, "{s} ({kind:?})");
        }
        log::log!(level, "{args}");
    }
}

/// Writes the summaries still pending (see [`Limiter::drain`]); the broker
/// calls it when it stops.
pub fn flush() {
    let pending = LIMITER
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain(Instant::now());
    for (kind, s) in pending {
        log::warn!("{s} ({kind:?})");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> (Limiter, Instant) {
        (Limiter::new(Duration::from_secs(10), 3), Instant::now())
    }

    #[test]
    fn a_few_lines_are_all_written() {
        let (mut l, t0) = limiter();
        for i in 0..3 {
            let at = t0 + Duration::from_millis(i);
            assert_eq!(
                l.offer(Kind::BadFrame, at),
                Verdict::Write { summary: None }
            );
        }
    }

    #[test]
    fn a_flood_writes_the_budget_then_one_summary_with_the_next_window() {
        let (mut l, t0) = limiter();
        let written = (0..1000)
            .filter(|i| {
                let at = t0 + Duration::from_millis(*i);
                matches!(l.offer(Kind::BadFrame, at), Verdict::Write { .. })
            })
            .count();
        assert_eq!(written, 3);
        let later = t0 + Duration::from_secs(12);
        assert_eq!(
            l.offer(Kind::BadFrame, later),
            Verdict::Write {
                summary: Some(Suppressed {
                    lines: 997,
                    over: Duration::from_secs(12)
                })
            }
        );
        // The summary is given once.
        assert_eq!(
            l.offer(Kind::BadFrame, later),
            Verdict::Write { summary: None }
        );
    }

    #[test]
    fn kinds_have_budgets_of_their_own() {
        let (mut l, t0) = limiter();
        for _ in 0..10 {
            l.offer(Kind::BadFrame, t0);
        }
        assert_eq!(l.offer(Kind::BadFrame, t0), Verdict::Suppress);
        assert_eq!(
            l.offer(Kind::ConnectionLimit, t0),
            Verdict::Write { summary: None }
        );
    }

    #[test]
    fn the_window_restarts_at_the_first_line_after_it_closed() {
        let (mut l, t0) = limiter();
        for _ in 0..3 {
            l.offer(Kind::Unsupported, t0);
        }
        assert_eq!(
            l.offer(Kind::Unsupported, t0 + Duration::from_millis(9_999)),
            Verdict::Suppress
        );
        let t1 = t0 + Duration::from_secs(10);
        assert!(matches!(
            l.offer(Kind::Unsupported, t1),
            Verdict::Write {
                summary: Some(Suppressed { lines: 1, .. })
            }
        ));
        for _ in 0..2 {
            assert_eq!(
                l.offer(Kind::Unsupported, t1),
                Verdict::Write { summary: None }
            );
        }
        assert_eq!(l.offer(Kind::Unsupported, t1), Verdict::Suppress);
    }

    #[test]
    fn drain_hands_back_what_is_pending_once() {
        let (mut l, t0) = limiter();
        for _ in 0..5 {
            l.offer(Kind::BadRequest, t0);
        }
        l.offer(Kind::StorageIo, t0);
        let t1 = t0 + Duration::from_secs(3);
        assert_eq!(
            l.drain(t1),
            vec![(
                Kind::BadRequest,
                Suppressed {
                    lines: 2,
                    over: Duration::from_secs(3)
                }
            )]
        );
        assert_eq!(l.drain(t1), vec![]);
        // Counted once: the next window starts without a summary.
        assert_eq!(
            l.offer(Kind::BadRequest, t0 + Duration::from_secs(11)),
            Verdict::Write { summary: None }
        );
    }

    #[test]
    fn the_summary_reads_as_documented() {
        let s = Suppressed {
            lines: 42,
            over: Duration::from_millis(12_400),
        };
        assert_eq!(
            s.to_string(),
            "… suppressed 42 similar lines in the last 12 s"
        );
    }
}
