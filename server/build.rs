//! Builds the web UI (`ui/`, React + Vite) and embeds it in the binary, so that
//! `cargo build` on a fresh clone gives a server with its full UI.
//!
//! The UI is built with npm into `$OUT_DIR/ui` (`npm ci` when `ui/node_modules`
//! is missing, then `vite build`), and every file becomes an `include_bytes!`
//! in `$OUT_DIR/ui_assets.rs`. `OI_SESSIONS_UI_DIST=<dir>` embeds an existing
//! build instead; `OI_SESSIONS_UI_DIST=none` embeds none (the server then
//! answers the UI's routes with a page saying how to build it).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let ui_dir = manifest_dir.join("../ui");
    println!("cargo:rerun-if-env-changed=OI_SESSIONS_UI_DIST");
    for input in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
    ] {
        println!("cargo:rerun-if-changed={}", ui_dir.join(input).display());
    }

    let dist = match env::var("OI_SESSIONS_UI_DIST") {
        Ok(v) if v == "none" => None,
        Ok(v) => Some(PathBuf::from(v)),
        Err(_) => build_ui(&ui_dir, &out_dir.join("ui")),
    };
    let mut files = Vec::new();
    if let Some(dist) = &dist {
        collect(dist, dist, &mut files);
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

/// Runs npm; on failure warns and returns None (the binary then serves a page
/// explaining how to build the UI) rather than failing every server build.
fn build_ui(ui_dir: &Path, out: &Path) -> Option<PathBuf> {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    if !ui_dir.join("node_modules").is_dir() {
        let ok = Command::new(npm)
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(ui_dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            println!(
                "cargo:warning=could not install the UI's npm packages (npm ci in ui/); building without the UI"
            );
            return None;
        }
    }
    let ok = Command::new(npm)
        .args([
            "exec",
            "--",
            "vite",
            "build",
            "--logLevel",
            "warn",
            "--emptyOutDir",
            "--outDir",
        ])
        .arg(out)
        .current_dir(ui_dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        println!("cargo:warning=the UI build (vite build in ui/) failed; building without the UI");
        return None;
    }
    Some(out.to_path_buf())
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
