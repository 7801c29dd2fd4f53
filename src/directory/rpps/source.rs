//! Opens an extraction: the `.txt` itself, or the zip the ANS distributes (the
//! `PS_LibreAcces_Personne_activite_*.txt` entry is read as a stream, never unpacked to disk).

use anyhow::{Context, bail};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

const BUFFER: usize = 1 << 20;

/// Calls `f` with a buffered reader over the extraction and its uncompressed size in bytes.
pub fn with_source<T>(
    path: &Path,
    f: impl FnOnce(&mut dyn std::io::BufRead, u64) -> T,
) -> anyhow::Result<T> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut magic = [0u8; 4];
    let is_zip = file.read_exact(&mut magic).is_ok() && magic == *b"PK\x03\x04";
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    if !is_zip {
        let size = file
            .metadata()
            .with_context(|| format!("cannot read the size of {}", path.display()))?
            .len();
        let mut reader = BufReader::with_capacity(BUFFER, file);
        return Ok(f(&mut reader, size));
    }
    let mut archive = zip::ZipArchive::new(BufReader::new(file))
        .with_context(|| format!("{} is not a readable zip", path.display()))?;
    let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    let Some(name) = names
        .iter()
        .find(|n| n.contains("Personne_activite") && n.ends_with(".txt"))
        .or_else(|| {
            let txt: Vec<&String> = names.iter().filter(|n| n.ends_with(".txt")).collect();
            (txt.len() == 1).then(|| txt[0])
        })
    else {
        bail!(
            "{} holds no PS_LibreAcces_Personne_activite_*.txt file",
            path.display()
        );
    };
    let entry = archive
        .by_name(name)
        .with_context(|| format!("cannot read {name} in {}", path.display()))?;
    let size = entry.size();
    let mut reader = BufReader::with_capacity(BUFFER, entry);
    Ok(f(&mut reader, size))
}
