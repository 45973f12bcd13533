//! When to pull next (pure): interval while data changes, then a backoff ladder, plus jitter.

use std::time::Duration;

use crate::target::Schedule;

/// The decision for the next pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Next {
    /// Ladder position: 0 = the base interval, k = `backoff[k-1]`.
    pub step: u32,
    /// Delay from now until the next pull, jitter included.
    pub delay: Duration,
}

/// Decides the next pull after a sync.
///
/// - changed data resets the ladder (step 0, the base interval);
/// - unchanged data on a scheduled pull climbs one step (capped at the last rung);
/// - unchanged data on a forced pull keeps the step (a user asking is no evidence of idleness);
/// - `random` in [0, 1) scales the jitter, so pulls of many names spread out.
pub fn next_pull(s: &Schedule, step: u32, changed: bool, forced: bool, random: f64) -> Next {
    let step = if changed {
        0
    } else if forced {
        step
    } else {
        (step + 1).min(u32::try_from(s.backoff.len()).unwrap_or(u32::MAX))
    };
    let base = match step {
        0 => s.interval,
        k => s.backoff.get(k as usize - 1).copied().unwrap_or(s.interval),
    };
    let r = if random.is_finite() {
        random.clamp(0.0, 1.0)
    } else {
        0.0
    };
    Next {
        step,
        delay: base + s.jitter.mul_f64(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched() -> Schedule {
        let m = |n: u64| Duration::from_secs(n * 60);
        Schedule {
            interval: m(15),
            jitter: m(1),
            backoff: vec![m(15), m(60), m(120), m(240)],
        }
    }

    #[test]
    fn ladder_climbs_caps_and_resets() {
        let s = sched();
        let m = |n: u64| Duration::from_secs(n * 60);
        let mut step = 0;
        let mut delays = Vec::new();
        for _ in 0..6 {
            let n = next_pull(&s, step, false, false, 0.0);
            step = n.step;
            delays.push(n.delay);
        }
        assert_eq!(delays, [m(15), m(60), m(120), m(240), m(240), m(240)]);
        let n = next_pull(&s, step, true, false, 0.0);
        assert_eq!((n.step, n.delay), (0, m(15)));
    }

    #[test]
    fn forced_unchanged_keeps_step_and_jitter_is_bounded() {
        let s = sched();
        assert_eq!(next_pull(&s, 3, false, true, 0.0).step, 3);
        assert_eq!(next_pull(&s, 3, true, true, 0.0).step, 0);
        let d = next_pull(&s, 0, true, false, 0.5).delay;
        assert_eq!(d, Duration::from_secs(15 * 60 + 30));
        assert_eq!(
            next_pull(&s, 0, true, false, f64::NAN).delay,
            Duration::from_secs(900)
        );
        assert_eq!(
            next_pull(&s, 0, true, false, 7.0).delay,
            Duration::from_secs(960)
        );
    }
}
