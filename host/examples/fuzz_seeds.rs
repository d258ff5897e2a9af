//! Writes the sample models' blobs as the fuzz seed corpus
//! (`fuzz/corpus/parse_run/<name>.mote`).
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/parse_run");
    std::fs::create_dir_all(&dir)?;
    for (name, graph) in mote_host::sample::all()? {
        let bytes = mote_host::blob::export(&graph)?;
        let path = dir.join(format!("{name}.mote"));
        std::fs::write(&path, &bytes)?;
        println!("{} ({} bytes)", path.display(), bytes.len());
    }
    Ok(())
}
