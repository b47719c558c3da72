//! Embeds the web UI's built files in the binary: every file becomes an
//! `include_bytes!` in `$OUT_DIR/ui_assets.rs`. It never runs npm; the UI is
//! built by an explicit step, `scripts/build-ui.sh` (or `npm --prefix ui run
//! build`), into `ui/dist`.
//!
//! What is embedded: the directory `OI_SESSIONS_UI_DIST` names
//! (`OI_SESSIONS_UI_DIST=none`: nothing), else `ui/dist` when it exists, else
//! nothing, with a warning. A server without UI says so at start-up, in
//! `/healthz` and on the UI's routes.
//!
//! It also stamps the build with its commit, for `oi-sessions --version`
//! (`VERSION` in the library): `OI_SESSIONS_BUILD` is `<short sha> <commit
//! date>` from git in a checkout of this repository, else the sha that `cargo
//! package` recorded in `.cargo_vcs_info.json` (a crate tarball), else
//! `unknown`.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const HOW_TO: &str =
    "build it with scripts/build-ui.sh (or npm --prefix ui run build), then rebuild the server";

fn main() {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let ui_dir = manifest_dir.join("../ui");
    let default_dist = ui_dir.join("dist");
    println!("cargo:rerun-if-env-changed=OI_SESSIONS_UI_DIST");
    stamp_build(&manifest_dir);

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

/// Sets `OI_SESSIONS_BUILD` (see the module's doc) and asks cargo to rerun when
/// this checkout's HEAD moves.
fn stamp_build(manifest_dir: &Path) {
    let root = manifest_dir.join("..");
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        (out.status.success() && !text.is_empty()).then_some(text)
    };
    // Only our own checkout counts: a crate unpacked inside another repository
    // (or in target/package while `cargo package` verifies it) is not that commit.
    let checkout = git(&["rev-parse", "--show-toplevel"])
        .is_some_and(|top| fs::canonicalize(top).ok() == fs::canonicalize(&root).ok());
    let build = if checkout {
        // HEAD changes on checkout, its reflog on every commit, reset or checkout
        // (per worktree); a path that does not exist would rerun every build.
        for name in ["HEAD", "logs/HEAD"] {
            if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", name])
                .filter(|p| Path::new(p).exists())
            {
                println!("cargo:rerun-if-changed={path}");
            }
        }
        git(&["log", "-1", "--format=%h %cs"])
    } else {
        fs::read_to_string(manifest_dir.join(".cargo_vcs_info.json"))
            .ok()
            .and_then(|info| vcs_sha(&info))
    };
    println!(
        "cargo:rustc-env=OI_SESSIONS_BUILD={}",
        build.as_deref().unwrap_or("unknown")
    );
}

/// The short sha in `.cargo_vcs_info.json` (`{"git": {"sha1": "..."}, ...}`).
fn vcs_sha(info: &str) -> Option<String> {
    let rest = &info[info.find("\"sha1\"")? + "\"sha1\"".len()..];
    let sha = rest.split('"').nth(1)?;
    (sha.len() >= 7 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then(|| sha[..7].to_owned())
}
