//! What a lab made, recorded as it is made (`<state dir>/<lab>/state.json`,
//! by default under /run/mptfo-lab), so that `mptfo lab down` can undo a
//! lab that was only half built when its builder crashed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The default folder of the state files.
pub const STATE_ROOT: &str = "/run/mptfo-lab";

/// A process a run started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proc {
    /// Its PID.
    pub pid: u32,
    /// Its start time (clock ticks since boot), so a reused PID is not
    /// mistaken for it.
    pub started: u64,
    /// What it is, e.g. `a-tfo/1 server`.
    pub name: String,
    /// Its command line.
    pub command: String,
}

/// A veth pair the lab made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Veth {
    /// The namespace of its first end.
    pub ns: String,
    /// The first end's name.
    pub ifname: String,
    /// The peer end: namespace and name.
    pub peer_ns: String,
    /// The peer end's name.
    pub peer_ifname: String,
}

/// Everything the lab made, in the order made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The lab's name.
    pub lab: String,
    /// The lab file it was built from.
    pub config: Option<PathBuf>,
    /// Network namespaces made.
    pub namespaces: Vec<String>,
    /// veth pairs made.
    pub veths: Vec<Veth>,
    /// The 2 MiB hugepage count before the lab changed it.
    pub hugepages_before: Option<u64>,
    /// The count the lab set.
    pub hugepages_set: Option<u64>,
    /// hugetlbfs was mounted by the lab (unmounted by `down`).
    pub hugetlbfs_mounted: bool,
    /// Processes started by `run` (removed once they have ended).
    pub processes: Vec<Proc>,
    /// Files and folders made for DPDK (runtime folders, memif sockets),
    /// removed with their contents.
    pub paths: Vec<PathBuf>,
    /// Folders made to hold memif sockets, deepest first: removed when
    /// empty.
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
    /// The lab is complete (`up` finished).
    pub complete: bool,
}

/// The state file of a lab, read and written as the lab changes.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    /// What it records.
    pub state: State,
}

impl StateFile {
    /// The state folder of lab `name` under `root`.
    pub fn dir(root: &Path, name: &str) -> PathBuf {
        root.join(name)
    }

    /// Reads the state of lab `name`, if there is one.
    pub fn open(root: &Path, name: &str) -> Result<Option<StateFile>> {
        let path = Self::dir(root, name).join("state.json");
        match std::fs::read_to_string(&path) {
            Ok(s) => {
                let state: State = serde_json::from_str(&s)
                    .with_context(|| format!("{}: not a lab state file", path.display()))?;
                Ok(Some(StateFile { path, state }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Reads the state of lab `name`, or starts an empty one (written at
    /// once, so that a crash right after leaves a trace).
    pub fn open_or_create(root: &Path, name: &str, config: Option<&Path>) -> Result<StateFile> {
        if let Some(s) = Self::open(root, name)? {
            return Ok(s);
        }
        let dir = Self::dir(root, name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut s = StateFile {
            path: dir.join("state.json"),
            state: State {
                lab: name.to_owned(),
                config: config.map(Path::to_path_buf),
                ..State::default()
            },
        };
        s.save()?;
        Ok(s)
    }

    /// Writes the state (to a temporary file renamed over the old one, so
    /// a crash mid-write leaves the previous state whole).
    pub fn save(&mut self) -> Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&self.state)? + "\n";
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("writing {}", self.path.display()))?;
        Ok(())
    }

    /// Changes the state and writes it.
    pub fn update(&mut self, f: impl FnOnce(&mut State)) -> Result<()> {
        f(&mut self.state);
        self.save()
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the state file and its folder (when empty).
    pub fn remove(self) -> Result<()> {
        std::fs::remove_file(&self.path)
            .with_context(|| format!("removing {}", self.path.display()))?;
        // The lab's folder, then the folder of all labs, when empty.
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir(dir);
            if let Some(root) = dir.parent() {
                let _ = std::fs::remove_dir(root);
            }
        }
        Ok(())
    }
}
