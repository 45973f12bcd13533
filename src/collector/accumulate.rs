//! Keeping every count across pod restarts and deaths (pure).
//!
//! An agent's counters only grow while its process lives. So: keep each address's latest
//! snapshot; when an address goes away or its counters go down (the process restarted), fold its
//! last snapshot into an accumulated base. The merged profile is base + current snapshots, so
//! nothing is lost and nothing is counted twice.

use std::collections::BTreeMap;

use crate::profile::{self, Profile, ProfileError};

/// The accumulated state of one registered name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accumulator {
    /// Counts of snapshots that are no longer live (dead or restarted processes).
    pub base: Option<Profile>,
    /// The latest snapshot of each live address.
    pub agents: BTreeMap<String, Profile>,
}

/// What observing a snapshot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// First snapshot of this address.
    New,
    /// Counters grew or stayed: the snapshot replaced the previous one.
    Updated,
    /// Some counter went down: the previous snapshot was folded into the base first.
    Restarted,
}

fn merge2(a: &Profile, an: &str, b: &Profile, bn: &str) -> Result<Profile, ProfileError> {
    profile::merge(&[(an, a), (bn, b)])?.ok_or(ProfileError::Empty {
        input: an.to_string(),
    })
}

/// True when some block of `new` has a lower count than the same block of `old`.
fn went_down(old: &Profile, new: &Profile) -> bool {
    new.files.iter().any(|nf| {
        old.file(&nf.name).is_some_and(|of| {
            of.blocks
                .iter()
                .zip(&nf.blocks)
                .any(|(o, n)| o.range() == n.range() && n.count < o.count)
        })
    })
}

impl Accumulator {
    /// Takes a new snapshot from `address`. It must fit the build (same blocks as everything
    /// already held); otherwise it is rejected and nothing changes.
    pub fn observe(&mut self, address: &str, snapshot: Profile) -> Result<Observed, ProfileError> {
        // Validate against everything held before changing anything.
        let mut inputs: Vec<(&str, &Profile)> = vec![(address, &snapshot)];
        if let Some(b) = &self.base {
            inputs.push(("accumulated base", b));
        }
        for (a, p) in &self.agents {
            inputs.push((a.as_str(), p));
        }
        profile::merge(&inputs)?;
        let observed = match self.agents.get(address) {
            None => Observed::New,
            Some(prev) if went_down(prev, &snapshot) => {
                self.fold(address, prev.clone())?;
                Observed::Restarted
            }
            Some(_) => Observed::Updated,
        };
        self.agents.insert(address.to_string(), snapshot);
        Ok(observed)
    }

    /// The address is gone for good: its last snapshot joins the base.
    pub fn retire(&mut self, address: &str) -> Result<bool, ProfileError> {
        match self.agents.remove(address) {
            Some(last) => {
                self.fold(address, last)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The agent's counters are about to be zeroed on purpose (clear): same as a restart.
    pub fn checkpoint(&mut self, address: &str) -> Result<(), ProfileError> {
        self.retire(address).map(|_| ())
    }

    fn fold(&mut self, address: &str, last: Profile) -> Result<(), ProfileError> {
        self.base = Some(match self.base.take() {
            None => last,
            Some(b) => merge2(&b, "accumulated base", &last, address)?,
        });
        Ok(())
    }

    /// Base + every live snapshot; `None` when nothing was ever observed.
    pub fn merged(&self) -> Result<Option<Profile>, ProfileError> {
        let mut inputs: Vec<(&str, &Profile)> = Vec::new();
        if let Some(b) = &self.base {
            inputs.push(("accumulated base", b));
        }
        for (a, p) in &self.agents {
            inputs.push((a.as_str(), p));
        }
        profile::merge(&inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(counts: &[u64]) -> Profile {
        let mut text = String::from("mode: count\n");
        for (i, c) in counts.iter().enumerate() {
            text.push_str(&format!("m/a.go:{}.1,{}.5 1 {c}\n", i + 1, i + 1));
        }
        profile::parse("t", text.as_bytes()).unwrap()
    }

    fn counts(p: &Profile) -> Vec<u64> {
        p.files[0].blocks.iter().map(|b| b.count).collect()
    }

    #[test]
    fn growth_replaces_restart_folds_retire_keeps() {
        let mut acc = Accumulator::default();
        assert_eq!(acc.observe("a", p(&[1, 0])).unwrap(), Observed::New);
        assert_eq!(acc.observe("b", p(&[0, 2])).unwrap(), Observed::New);
        assert_eq!(acc.observe("a", p(&[3, 0])).unwrap(), Observed::Updated);
        assert_eq!(counts(&acc.merged().unwrap().unwrap()), [3, 2]);
        // a restarted: its 3 hits must survive, the new 1 added once.
        assert_eq!(acc.observe("a", p(&[1, 0])).unwrap(), Observed::Restarted);
        assert_eq!(counts(&acc.merged().unwrap().unwrap()), [4, 2]);
        // b died: its last counts stay.
        assert!(acc.retire("b").unwrap());
        assert_eq!(counts(&acc.merged().unwrap().unwrap()), [4, 2]);
        // Same snapshot again: nothing doubles.
        acc.observe("a", p(&[1, 0])).unwrap();
        assert_eq!(counts(&acc.merged().unwrap().unwrap()), [4, 2]);
    }

    #[test]
    fn a_snapshot_of_another_build_is_rejected_and_changes_nothing() {
        let mut acc = Accumulator::default();
        acc.observe("a", p(&[1, 1])).unwrap();
        let before = acc.clone();
        let other = profile::parse("t", b"mode: count\nm/a.go:1.1,1.9 1 5\n").unwrap();
        assert!(acc.observe("b", other).is_err());
        assert_eq!(acc, before);
    }
}
