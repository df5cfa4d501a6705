//! Embeds the web app (`web/app/`) in the binary: writes a table of its files, each
//! through `include_bytes!`, so `cargo run` serves the app with no JavaScript toolchain.

use std::path::{Path, PathBuf};

/// Files of `web/app/` that are tooling, not the app.
const NOT_SERVED: &[&str] = &["package.json", "package-lock.json", "vendor.sh", "node_modules"];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let app = manifest.join("../../web/app");
    println!("cargo:rerun-if-changed={}", app.display());
    let mut files = Vec::new();
    collect(&app, &app, &mut files);
    files.sort();
    let mut table = String::from(
        "/// `(path under /app/, contents)` of every file of the web app.\npub const FILES: &[(&str, &[u8])] = &[\n",
    );
    for (relative, absolute) in files {
        table.push_str(&format!(
            "    ({relative:?}, include_bytes!({:?})),\n",
            absolute.display().to_string()
        ));
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("web_app_files.rs");
    std::fs::write(out, table).expect("OUT_DIR is writable");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if NOT_SERVED.contains(&name.as_str()) || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let relative = path
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/");
            let absolute = path.canonicalize().unwrap_or(path);
            files.push((relative, absolute));
        }
    }
}
