//! IPVS state that survives a restart of dpvsd.
//!
//! keepalived never re-sends its configuration, so dpvsd must come back with
//! exactly what it had. The state directory holds two files:
//! - `ipvs.state`: a snapshot, written to a temporary file, fsynced and renamed
//!   into place (atomic), holding the requests that rebuild the whole state;
//! - `ipvs.journal`: every configuration change since that snapshot, appended
//!   (one write per change) before the change is acknowledged.
//!
//! Both are a header naming a generation followed by records
//! `[u32 length][u32 crc32][u8 command][attributes]`; a journal only counts
//! with the snapshot of its generation. Restoring replays the records through
//! the same code that serves clients. A file that fails to parse is renamed
//! `*.corrupt-<unix time>` and reported, never silently dropped.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ipvs_genl::attr::{emit_attrs, Attr};
use ipvs_genl::consts::cmd;
use ipvs_genl::ipvs::ServiceSpec;
use thiserror::Error;

use super::state::IpvsState;

const STATE_MAGIC: &[u8; 16] = b"DPVSRS-IPVS-ST1\n";
const JOURNAL_MAGIC: &[u8; 16] = b"DPVSRS-IPVS-JN1\n";
const HEADER_LEN: usize = 24;
/// Records beyond which the journal is folded into a new snapshot (or twice
/// the number of configured objects, whichever is larger).
const COMPACT_MIN_RECORDS: usize = 20_000;

/// One persisted request: the IPVS command and its attributes.
pub type Record = (u8, Vec<u8>);

/// Why the state directory could not be used at all (corrupt files are not
/// errors: they are kept aside and reported in [`Recovered::problems`]).
#[derive(Debug, Error)]
#[error("{0}")]
pub struct LoadError(#[from] io::Error);

/// The state directory.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    generation: u64,
    journal: Option<File>,
    journal_records: usize,
    /// A write failed: the next change rewrites the snapshot instead.
    needs_snapshot: bool,
}

/// What `Store::open` recovered.
#[derive(Debug, Default)]
pub struct Recovered {
    pub records: Vec<Record>,
    /// Problems found (and the files kept aside), for the operator's log.
    pub problems: Vec<String>,
}

fn crc(data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(data);
    h.finalize()
}

fn encode(records: impl IntoIterator<Item = Record>, magic: &[u8; 16], generation: u64) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.extend_from_slice(&generation.to_le_bytes());
    for (command, attrs) in records {
        push_record(&mut out, command, &attrs);
    }
    out
}

fn push_record(out: &mut Vec<u8>, command: u8, attrs: &[u8]) {
    let mut payload = Vec::with_capacity(1 + attrs.len());
    payload.push(command);
    payload.extend_from_slice(attrs);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
}

/// Decodes a file: (generation, records, the offset of the first bad byte).
fn decode(bytes: &[u8], magic: &[u8; 16]) -> Result<(u64, Vec<Record>, Option<usize>), &'static str> {
    if bytes.len() < HEADER_LEN || &bytes[..16] != magic {
        return Err("bad header");
    }
    let generation = u64::from_le_bytes(bytes[16..24].try_into().map_err(|_| "bad header")?);
    let mut records = Vec::new();
    let mut off = HEADER_LEN;
    while off < bytes.len() {
        let bad = Some(off);
        if bytes.len() - off < 9 {
            return Ok((generation, records, bad));
        }
        let len = u32::from_le_bytes(bytes[off..off + 4].try_into().map_err(|_| "bad record")?) as usize;
        let sum = u32::from_le_bytes(bytes[off + 4..off + 8].try_into().map_err(|_| "bad record")?);
        let Some(payload) = bytes.get(off + 8..off + 8 + len) else {
            return Ok((generation, records, bad));
        };
        if len == 0 || crc(payload) != sum {
            return Ok((generation, records, bad));
        }
        records.push((payload[0], payload[1..].to_vec()));
        off += 8 + len;
    }
    Ok((generation, records, None))
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn keep_aside(path: &Path) -> io::Result<PathBuf> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".corrupt-{}", now_secs()));
    let aside = PathBuf::from(aside);
    fs::rename(path, &aside)?;
    Ok(aside)
}

fn read_if_exists(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match File::open(path) {
        Ok(mut f) => {
            let mut v = Vec::new();
            f.read_to_end(&mut v)?;
            Ok(Some(v))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

/// The requests that rebuild `st` from nothing.
pub fn snapshot_records(st: &IpvsState) -> Vec<Record> {
    let mut v = vec![(cmd::SET_CONFIG, emit_attrs(&st.timeouts.to_attrs()))];
    for d in st.daemons() {
        v.push((cmd::NEW_DAEMON, emit_attrs(&[d.to_attr()])));
    }
    for svc in st.services.values() {
        let spec = svc.entry().to_spec();
        v.push((cmd::NEW_SERVICE, emit_attrs(&[spec.to_attr()])));
        let key_only: Attr = ServiceSpec { key: svc.key, params: None }.to_attr();
        // Oldest first, so that replaying restores the kernel's newest-first order.
        for d in svc.dests.iter().rev() {
            v.push((cmd::NEW_DEST, emit_attrs(&[key_only.clone(), d.entry().to_spec().to_attr()])));
        }
    }
    v
}

impl Store {
    /// Opens (creating) the state directory and reads what it holds.
    pub fn open(dir: &Path) -> Result<(Store, Recovered), LoadError> {
        fs::create_dir_all(dir)?;
        let mut rec = Recovered::default();
        let state_path = dir.join("ipvs.state");
        let journal_path = dir.join("ipvs.journal");
        let mut generation = 0;
        let mut snapshot_ok = true;
        if let Some(bytes) = read_if_exists(&state_path)? {
            match decode(&bytes, STATE_MAGIC) {
                Ok((g, records, None)) => {
                    generation = g;
                    rec.records = records;
                }
                other => {
                    let offset = match other {
                        Ok((_, _, Some(o))) => o,
                        _ => 0,
                    };
                    snapshot_ok = false;
                    let aside = keep_aside(&state_path)?;
                    rec.problems.push(format!(
                        "state file {} is corrupt (at byte {offset}); kept as {}; starting with an empty IPVS table",
                        state_path.display(),
                        aside.display()
                    ));
                }
            }
        }
        if let Some(bytes) = read_if_exists(&journal_path)? {
            match decode(&bytes, JOURNAL_MAGIC) {
                Ok((g, records, bad)) if g == generation && snapshot_ok => {
                    let n = records.len();
                    rec.records.extend(records);
                    if let Some(offset) = bad {
                        let aside = keep_aside(&journal_path)?;
                        rec.problems.push(format!(
                            "journal {} is corrupt at byte {offset}; restored the {n} records before it; kept as {}",
                            journal_path.display(),
                            aside.display()
                        ));
                    }
                }
                Ok(_) if snapshot_ok => {
                    // A journal of an older generation: the snapshot already holds it.
                    fs::remove_file(&journal_path)?;
                }
                _ => {
                    let aside = keep_aside(&journal_path)?;
                    rec.problems.push(format!(
                        "journal {} is unusable (bad header, or its snapshot was corrupt); kept as {}",
                        journal_path.display(),
                        aside.display()
                    ));
                }
            }
        }
        let store = Store { dir: dir.to_path_buf(), generation, journal: None, journal_records: 0, needs_snapshot: true };
        Ok((store, rec))
    }

    /// Writes a new snapshot of `st` and starts an empty journal for it.
    pub fn snapshot(&mut self, st: &IpvsState) -> io::Result<()> {
        let generation = self.generation + 1;
        write_atomic(&self.dir, "ipvs.state", &encode(snapshot_records(st), STATE_MAGIC, generation))?;
        write_atomic(&self.dir, "ipvs.journal", &encode(Vec::new(), JOURNAL_MAGIC, generation))?;
        self.journal = Some(OpenOptions::new().append(true).open(self.dir.join("ipvs.journal"))?);
        self.generation = generation;
        self.journal_records = 0;
        self.needs_snapshot = false;
        Ok(())
    }

    /// Records one applied change (snapshotting instead when due).
    pub fn record(&mut self, st: &IpvsState, command: u8, attrs: &[u8]) -> io::Result<()> {
        let limit = COMPACT_MIN_RECORDS.max(2 * (st.services.len() + st.dest_count()));
        if self.needs_snapshot || self.journal_records >= limit {
            return self.snapshot(st).inspect_err(|_| self.needs_snapshot = true);
        }
        let mut buf = Vec::with_capacity(9 + attrs.len());
        push_record(&mut buf, command, attrs);
        let result = match self.journal.as_mut() {
            Some(f) => f.write_all(&buf),
            None => Err(io::Error::other("journal not open")),
        };
        match result {
            Ok(()) => {
                self.journal_records += 1;
                Ok(())
            }
            Err(e) => {
                self.needs_snapshot = true;
                Err(e)
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_corruption_is_located() {
        let bytes = encode(vec![(1, vec![1, 2, 3]), (5, vec![])], JOURNAL_MAGIC, 7);
        let (g, r, bad) = decode(&bytes, JOURNAL_MAGIC).unwrap();
        assert_eq!((g, bad), (7, None));
        assert_eq!(r, vec![(1, vec![1, 2, 3]), (5, vec![])]);
        let mut broken = bytes.clone();
        let last = broken.len() - 1;
        broken[last] ^= 0xff;
        let (_, r, bad) = decode(&broken, JOURNAL_MAGIC).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(bad, Some(HEADER_LEN + 8 + 4));
        assert!(decode(b"garbage", JOURNAL_MAGIC).is_err());
    }
}
