//! Merging profiles of the same build (replicas, restarts, several test runs).

// Keys are file names from the input: foldhash (randomly seeded) hashes them several times faster
// than SipHash.
use foldhash::HashMap;
use foldhash::HashMapExt as _;

use super::{Block, FileProfile, Profile, ProfileError, range_text};

/// Merges named profiles: set mode ORs counts, count/atomic sum them.
///
/// Files may differ between inputs (a union is taken), but a file present in two inputs must
/// have exactly the same blocks (ranges and statement counts) in both: anything else means two
/// different builds, and merging them would be silently wrong, so it is an error naming the file
/// and the first mismatching block. Returns `None` for an empty input list.
pub fn merge(inputs: &[(&str, &Profile)]) -> Result<Option<Profile>, ProfileError> {
    let Some(&(first_name, first)) = inputs.first() else {
        return Ok(None);
    };
    let mode = first.mode;
    // file name -> (index of the input that brought it, blocks)
    let mut acc: HashMap<&str, (usize, Vec<Block>)> = HashMap::new();
    for (idx, &(input, profile)) in inputs.iter().enumerate() {
        if profile.mode != mode {
            return Err(ProfileError::ModeMismatch {
                input: input.to_string(),
                found: profile.mode,
                first: first_name.to_string(),
                expected: mode,
            });
        }
        for file in &profile.files {
            match acc.get_mut(file.name.as_str()) {
                None => {
                    acc.insert(&file.name, (idx, file.blocks.clone()));
                }
                Some((owner, blocks)) => {
                    let owner_name = inputs[*owner].0;
                    add_counts(input, owner_name, &file.name, mode, blocks, &file.blocks)?;
                }
            }
        }
    }
    let mut files: Vec<FileProfile> = acc
        .into_iter()
        .map(|(name, (_, blocks))| FileProfile {
            name: name.to_string(),
            blocks,
        })
        .collect();
    files.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    Ok(Some(Profile { mode, files }))
}

fn add_counts(
    input: &str,
    owner: &str,
    file: &str,
    mode: super::Mode,
    into: &mut [Block],
    from: &[Block],
) -> Result<(), ProfileError> {
    let mismatch = |detail: String| ProfileError::BlockMismatch {
        input: input.to_string(),
        first: owner.to_string(),
        file: file.to_string(),
        detail,
    };
    for (i, (a, b)) in into.iter_mut().zip(from).enumerate() {
        if a.range() != b.range() || a.num_stmt != b.num_stmt {
            return Err(mismatch(format!(
                "block #{}: {} with {} statements vs {} with {} statements",
                i + 1,
                range_text(b),
                b.num_stmt,
                range_text(a),
                a.num_stmt
            )));
        }
        a.count = mode
            .combine(a.count, b.count)
            .ok_or_else(|| ProfileError::Overflow {
                input: input.to_string(),
                file: file.to_string(),
                range: range_text(b),
            })?;
    }
    if into.len() != from.len() {
        let n = into.len().min(from.len());
        let extra = into.get(n).or_else(|| from.get(n)).map(range_text);
        return Err(mismatch(format!(
            "block #{}: {} blocks vs {} blocks (first unmatched: {})",
            n + 1,
            from.len(),
            into.len(),
            extra.unwrap_or_default()
        )));
    }
    Ok(())
}
