//! Embeds the web UI's built files in the binary: every file becomes an
//! `include_bytes!` in `$OUT_DIR/ui_assets.rs`. It never runs npm; the UI is
//! built by an explicit step, `scripts/build-ui.sh` (or `npm --prefix ui run
//! build`), into `ui/dist`.
//!
//! What is embedded: the directory `OI_SESSIONS_UI_DIST` names
//! (`OI_SESSIONS_UI_DIST=none`: nothing), else `ui/dist` when it exists, else
//! nothing, with a warning. A server without UI says so at start-up, in
//! `/healthz` and on the UI's routes.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

const HOW_TO: &str =
    "build it with scripts/build-ui.sh (or npm --prefix ui run build), then rebuild the server";

fn main() {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let ui_dir = manifest_dir.join("../ui");
    let default_dist = ui_dir.join("dist");
    println!("cargo:rerun-if-env-changed=OI_SESSIONS_UI_DIST");

    let dist = match env::var("OI_SESSIONS_UI_DIST") {
        Ok(v) if v == "none" => None,
        Ok(v) => {
            let dist = PathBuf::from(v);
            assert!(
                dist.is_dir(),
                "OI_SESSIONS_UI_DIST={} is not a directory (`none` builds without the UI)",
                dist.display()
            );
            println!("cargo:rerun-if-changed={}", dist.display());
            Some(dist)
        }
        Err(_) if default_dist.is_dir() => {
            // A directory is watched recursively: a rebuilt UI is re-embedded.
            println!("cargo:rerun-if-changed={}", default_dist.display());
            Some(default_dist)
        }
        Err(_) => {
            // ui/dist does not exist yet: cargo would rerun for a missing path on
            // every build, so watch ui/ instead, which changes when it appears.
            println!("cargo:rerun-if-changed={}", ui_dir.display());
            println!("cargo:warning=this oi-sessions has no web UI (no ui/dist): {HOW_TO}");
            None
        }
    };
    let mut files = Vec::new();
    if let Some(dist) = &dist {
        collect(dist, dist, &mut files);
        if !files.iter().any(|(rel, _)| rel == "index.html") {
            println!(
                "cargo:warning=no index.html in {}: the UI is incomplete; {HOW_TO}",
                dist.display()
            );
        }
    }
    files.sort();
    let mut code = String::from(
        "/// The embedded UI: (path, bytes), sorted by path.\npub static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for (rel, abs) in &files {
        writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    fs::write(out_dir.join("ui_assets.rs"), code).expect("write ui_assets.rs");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            files.push((rel, fs::canonicalize(&path).unwrap_or(path)));
        }
    }
}
