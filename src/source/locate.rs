//! Where the files of a profile live in the repository, with the module that owns each.

use super::{SourceError, SourceTree};
use crate::profile::Profile;
use crate::report::diff::Located;

impl SourceTree {
    /// Locates every file of `profile` (aligned with `profile.files`): its repository path and
    /// the directory of the module that owns it; `None` where it does not resolve.
    pub fn locate(&self, profile: &Profile) -> Vec<Option<Located>> {
        profile
            .files
            .iter()
            .map(|f| {
                let path = self.resolve(&f.name)?;
                let module_dir = self
                    .modules()
                    .iter()
                    .find(|m| {
                        f.name
                            .strip_prefix(m.path.as_str())
                            .and_then(|r| r.strip_prefix('/'))
                            .is_some_and(|rest| join(&m.dir, rest) == path)
                    })
                    .map(|m| m.dir.clone());
                Some(Located { path, module_dir })
            })
            .collect()
    }

    /// Reads the sources at the given indices of `located` (others stay `None`), aligned with
    /// `located`; contents already at hand (`known`, by repository path) are moved over, not
    /// read again (nor copied: for a large change they are megabytes).
    pub fn read_located(
        &self,
        located: &[Option<Located>],
        indices: &[usize],
        mut known: foldhash::HashMap<String, Vec<u8>>,
    ) -> Result<Vec<Option<Vec<u8>>>, SourceError> {
        let mut out = vec![None; located.len()];
        for &i in indices {
            if let Some(Some(loc)) = located.get(i) {
                // A path wanted twice (two import paths of one file) is read again the second time.
                out[i] = match known.remove(&loc.path) {
                    Some(text) => Some(text),
                    None => self.read(&loc.path)?,
                };
            }
        }
        Ok(out)
    }
}

fn join(dir: &str, rest: &str) -> String {
    if dir.is_empty() {
        rest.to_string()
    } else {
        format!("{dir}/{rest}")
    }
}
