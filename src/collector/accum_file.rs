//! The accumulator's state file, `accum.json` (pure: values in, values out).
//!
//! Version 2 lists every file's blocks once and then each profile's counts in that order. Version
//! 1 held one full profile text per snapshot: 230 KB per name for a 1,400-block service with 3
//! agents, rewritten on every change (7x the size of version 2). Version 1 is still read; the
//! next save writes version 2.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::accumulate::Accumulator;
use crate::profile::{self, Block, FileProfile, Mode, Profile, ProfileError, range_text};

/// The version this build writes.
const VERSION: u32 = 2;

/// Why a state file could not be read back (or, for an inconsistent accumulator, written).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccumFileError {
    /// The file is not a state file this build can read.
    #[error("{input}: {what}")]
    Corrupt {
        /// The file, named for the reader.
        input: String,
        /// What is wrong.
        what: String,
    },
    /// A profile in it (version 1) or in the accumulator is not valid.
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// `accum.json`, version 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccumulatorFile {
    /// Format version (2).
    pub version: u32,
    /// Mode of every profile; absent when nothing was observed yet.
    pub mode: Option<Mode>,
    /// Every file any profile lists, by name, with its blocks.
    pub files: Vec<LayoutFile>,
    /// Counts of the accumulated base (snapshots of dead or restarted processes).
    pub base: Option<Counts>,
    /// Address -> counts of its latest snapshot.
    pub agents: BTreeMap<String, Counts>,
}

/// A file and its blocks, `L0.C0,L1.C1 N` each (range and statements), joined by `;`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayoutFile {
    /// Import path of the file, as in the profiles.
    pub name: String,
    /// Its blocks in order.
    pub blocks: String,
}

/// One profile's counts: the blocks of every listed file, in layout order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Indexes into `files` of the files this profile does not list (usually none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<usize>,
    /// Space-separated counts.
    pub counts: String,
}

/// `accum.json`, version 1: profiles as normalized text.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccumulatorText {
    /// Base profile text.
    pub base: Option<String>,
    /// Address -> snapshot text.
    pub agents: BTreeMap<String, String>,
}

/// To the state file's form. Fails only if two held profiles disagree on a file's blocks, which
/// [`Accumulator::observe`] never lets happen.
pub fn to_file(acc: &Accumulator) -> Result<AccumulatorFile, AccumFileError> {
    let held: Vec<(&str, &Profile)> = acc
        .base
        .iter()
        .map(|p| ("accumulated base", p))
        .chain(acc.agents.iter().map(|(a, p)| (a.as_str(), p)))
        .collect();
    // Each file's blocks as the first profile listing it has them.
    let mut layout: BTreeMap<&str, (&str, &[Block])> = BTreeMap::new();
    for &(who, p) in &held {
        for f in &p.files {
            layout.entry(&f.name).or_insert((who, &f.blocks));
        }
    }
    let counts_of = |who: &str, p: &Profile| -> Result<Counts, AccumFileError> {
        let mut absent = Vec::new();
        let mut counts = String::new();
        let mut num = itoa::Buffer::new();
        for (i, (&name, &(first, blocks))) in layout.iter().enumerate() {
            let Some(f) = p.file(name) else {
                absent.push(i);
                continue;
            };
            if !f
                .blocks
                .iter()
                .map(Block::range)
                .eq(blocks.iter().map(Block::range))
            {
                return Err(ProfileError::BlockMismatch {
                    input: who.to_string(),
                    first: first.to_string(),
                    file: name.to_string(),
                    detail: format!("{} blocks vs {}", f.blocks.len(), blocks.len()),
                }
                .into());
            }
            for b in &f.blocks {
                if !counts.is_empty() {
                    counts.push(' ');
                }
                counts.push_str(num.format(b.count));
            }
        }
        Ok(Counts { absent, counts })
    };
    let mut blocks_text = String::new();
    let files = layout
        .iter()
        .map(|(&name, &(_, blocks))| {
            blocks_text.clear();
            for (k, b) in blocks.iter().enumerate() {
                if k > 0 {
                    blocks_text.push(';');
                }
                blocks_text.push_str(&range_text(b));
                blocks_text.push(' ');
                blocks_text.push_str(itoa::Buffer::new().format(b.num_stmt));
            }
            LayoutFile {
                name: name.to_string(),
                blocks: blocks_text.clone(),
            }
        })
        .collect();
    Ok(AccumulatorFile {
        version: VERSION,
        mode: held.first().map(|(_, p)| p.mode),
        files,
        base: acc
            .base
            .as_ref()
            .map(|p| counts_of("accumulated base", p))
            .transpose()?,
        agents: acc
            .agents
            .iter()
            .map(|(a, p)| Ok((a.clone(), counts_of(a, p)?)))
            .collect::<Result<_, AccumFileError>>()?,
    })
}

fn corrupt(input: &str, what: String) -> AccumFileError {
    AccumFileError::Corrupt {
        input: input.to_string(),
        what,
    }
}

/// Reads a state file of either version; `input` names it in errors.
pub fn from_json(input: &str, value: serde_json::Value) -> Result<Accumulator, AccumFileError> {
    let corrupt = |what: String| corrupt(input, what);
    if value.get("version").is_some() {
        let file: AccumulatorFile =
            serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
        from_file(input, &file)
    } else {
        let text: AccumulatorText =
            serde_json::from_value(value).map_err(|e| corrupt(format!("version 1: {e}")))?;
        from_text(input, &text)
    }
}

/// From version 2.
pub fn from_file(input: &str, f: &AccumulatorFile) -> Result<Accumulator, AccumFileError> {
    let corrupt = |what: String| corrupt(input, what);
    if f.version != VERSION {
        return Err(corrupt(format!(
            "version {} (this build reads 1 and {VERSION})",
            f.version
        )));
    }
    let mut layout: Vec<(&str, Vec<Block>)> = Vec::with_capacity(f.files.len());
    for file in &f.files {
        if layout
            .last()
            .is_some_and(|(prev, _)| *prev >= file.name.as_str())
        {
            return Err(corrupt(format!(
                "file {:?} is out of order or repeated",
                file.name
            )));
        }
        let blocks =
            layout_blocks(&file.blocks).map_err(|e| corrupt(format!("{}: {e}", file.name)))?;
        layout.push((&file.name, blocks));
    }
    let profile_of = |who: &str, c: &Counts| -> Result<Profile, AccumFileError> {
        let mode = f
            .mode
            .ok_or_else(|| corrupt("counts without a mode".to_string()))?;
        let err = |what: String| corrupt(format!("counts of {who}: {what}"));
        if !c.absent.windows(2).all(|w| w[0] < w[1])
            || c.absent.last().is_some_and(|&i| i >= layout.len())
        {
            return Err(err(
                "absent files are not increasing indexes of files".into()
            ));
        }
        let mut numbers = c.counts.split(' ').filter(|s| !s.is_empty());
        let mut files = Vec::with_capacity(layout.len() - c.absent.len());
        for (i, (name, blocks)) in layout.iter().enumerate() {
            if c.absent.binary_search(&i).is_ok() {
                continue;
            }
            let mut blocks = blocks.clone();
            for b in &mut blocks {
                let n = numbers
                    .next()
                    .ok_or_else(|| err(format!("fewer counts than blocks (at {name})")))?;
                b.count = n
                    .parse()
                    .map_err(|_| err(format!("{n:?} is not a count (at {name})")))?;
                if mode == Mode::Set && b.count > 1 {
                    return Err(err(format!("count {} in set mode (at {name})", b.count)));
                }
            }
            files.push(FileProfile {
                name: (*name).to_string(),
                blocks,
            });
        }
        if numbers.next().is_some() {
            return Err(err("more counts than blocks".into()));
        }
        Ok(Profile { mode, files })
    };
    Ok(Accumulator {
        base: f
            .base
            .as_ref()
            .map(|c| profile_of("the base", c))
            .transpose()?,
        agents: f
            .agents
            .iter()
            .map(|(a, c)| Ok((a.clone(), profile_of(a, c)?)))
            .collect::<Result<_, AccumFileError>>()?,
    })
}

/// Parses `L0.C0,L1.C1 N;...` into blocks (count 0), which must be in increasing order.
fn layout_blocks(text: &str) -> Result<Vec<Block>, String> {
    let mut blocks: Vec<Block> = Vec::new();
    for (k, part) in text.split(';').enumerate().filter(|(_, p)| !p.is_empty()) {
        let mut numbers = part.split(['.', ',', ' ']).map(str::parse::<u32>);
        let mut next = || numbers.next().and_then(Result::ok);
        let bad = || format!("block #{}: {part:?} is not L0.C0,L1.C1 N", k + 1);
        let (Some(sl), Some(sc), Some(el), Some(ec), Some(n), None) =
            (next(), next(), next(), next(), next(), next())
        else {
            return Err(bad());
        };
        let block = Block::new(sl, sc, el, ec, n, 0);
        if blocks
            .last()
            .is_some_and(|prev| prev.range() >= block.range())
        {
            return Err(format!("block #{}: {part:?} is out of order", k + 1));
        }
        blocks.push(block);
    }
    Ok(blocks)
}

/// From version 1.
fn from_text(input: &str, t: &AccumulatorText) -> Result<Accumulator, AccumFileError> {
    let base = match &t.base {
        Some(s) => Some(profile::parse(&format!("{input} (base)"), s.as_bytes())?),
        None => None,
    };
    let mut agents = BTreeMap::new();
    for (a, s) in &t.agents {
        agents.insert(
            a.clone(),
            profile::parse(&format!("{input} ({a})"), s.as_bytes())?,
        );
    }
    Ok(Accumulator { base, agents })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn profile(text: &str) -> Profile {
        profile::parse("t", text.as_bytes()).unwrap()
    }

    fn sample() -> Accumulator {
        let mut acc = Accumulator::default();
        acc.observe(
            "http://10.0.0.1:1",
            profile("mode: count\nm/a.go:1.1,2.5 1 3\nm/a.go:3.1,4.5 2 0\nm/b.go:1.1,1.9 1 7\n"),
        )
        .unwrap();
        // Lists only a.go: b.go is absent from its counts, not zero.
        acc.observe(
            "http://10.0.0.2:1",
            profile("mode: count\nm/a.go:1.1,2.5 1 1\nm/a.go:3.1,4.5 2 4\n"),
        )
        .unwrap();
        acc.retire("http://10.0.0.1:1").unwrap();
        acc.observe(
            "http://10.0.0.3:1",
            profile("mode: count\nm/b.go:1.1,1.9 1 18446744073709551608\n"),
        )
        .unwrap();
        acc
    }

    fn round_trip(acc: &Accumulator) -> Accumulator {
        let json = serde_json::to_value(to_file(acc).unwrap()).unwrap();
        from_json("s", json).unwrap()
    }

    #[test]
    fn round_trips_absent_files_and_big_counts() {
        let acc = sample();
        assert_eq!(round_trip(&acc), acc);
        assert_eq!(round_trip(&Accumulator::default()), Accumulator::default());
        let file = to_file(&acc).unwrap();
        assert_eq!(file.files[0].blocks, "1.1,2.5 1;3.1,4.5 2");
        assert_eq!(file.agents["http://10.0.0.2:1"].absent, [1]);
        assert_eq!(file.agents["http://10.0.0.2:1"].counts, "1 4");
    }

    #[test]
    fn version_1_files_are_still_read() {
        let acc = sample();
        let v1 = AccumulatorText {
            base: acc.base.as_ref().map(Profile::to_text),
            agents: acc
                .agents
                .iter()
                .map(|(a, p)| (a.clone(), p.to_text()))
                .collect(),
        };
        let json = serde_json::to_value(v1).unwrap();
        assert_eq!(from_json("s", json).unwrap(), acc);
    }

    #[test]
    fn damaged_files_are_errors_that_say_what_is_wrong() {
        let good = serde_json::to_value(to_file(&sample()).unwrap()).unwrap();
        let damage = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            f(&mut v);
            match from_json("svc state", v) {
                Err(AccumFileError::Corrupt { input, what }) => {
                    assert_eq!(input, "svc state");
                    what
                }
                other => panic!("want a corrupt-file error, got {other:?}"),
            }
        };
        let what = damage(&|v| v["version"] = 3.into());
        assert!(what.contains("version 3"), "{what}");
        let what = damage(&|v| v["agents"]["http://10.0.0.2:1"]["counts"] = "1".into());
        assert!(what.contains("fewer counts"), "{what}");
        let what = damage(&|v| v["agents"]["http://10.0.0.2:1"]["counts"] = "1 4 5".into());
        assert!(what.contains("more counts"), "{what}");
        let what = damage(&|v| v["agents"]["http://10.0.0.2:1"]["counts"] = "1 x".into());
        assert!(what.contains("\"x\" is not a count"), "{what}");
        let what = damage(&|v| v["files"][0]["blocks"] = "3.1,4.5 2;1.1,2.5 1".into());
        assert!(what.contains("out of order"), "{what}");
        let what = damage(&|v| v["files"][0]["blocks"] = "1.1,2.5".into());
        assert!(what.contains("is not L0.C0,L1.C1 N"), "{what}");
        let what = damage(&|v| v["agents"]["http://10.0.0.2:1"]["absent"] = vec![9].into());
        assert!(what.contains("absent files"), "{what}");
        let what = damage(&|v| v["files"] = "nope".into());
        assert!(what.contains("invalid type"), "{what}");
    }

    proptest! {
        /// Any sequence of snapshots (restarts, retirements, files missing from some) survives
        /// the state file unchanged.
        #[test]
        fn any_accumulator_round_trips(
            steps in prop::collection::vec(
                (0usize..3, prop::collection::vec(0u64..1000, 4), any::<bool>(), any::<bool>()),
                0..12,
            ),
            set in any::<bool>(),
        ) {
            let mode = if set { "set" } else { "count" };
            let mut acc = Accumulator::default();
            for (agent, counts, with_b, retire) in steps {
                let address = format!("http://10.0.0.{agent}:1");
                let mut text = format!("mode: {mode}\n");
                for (i, c) in counts.iter().take(2).enumerate() {
                    text.push_str(&format!("m/a.go:{}.1,{}.9 1 {c}\n", i + 1, i + 1));
                }
                if with_b {
                    text.push_str(&format!("m/b.go:1.1,1.9 2 {}\n", counts[2]));
                }
                let _ = acc.observe(&address, profile(&text));
                if retire {
                    acc.retire(&address).unwrap();
                }
            }
            prop_assert_eq!(round_trip(&acc), acc);
        }
    }
}
