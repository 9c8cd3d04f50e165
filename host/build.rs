//! Builds the bundled channel plugins (and the sandbox test fixtures) as `wasm32-wasip2`
//! components, so `cargo run` and `cargo test` need nothing else. Installs the target with
//! rustup when it is missing. A nested cargo uses its own target directory so it never waits
//! on the lock the outer build holds.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "plugin";
/// (package, file name in the bundle)
const BUNDLED: &[(&str, &str)] = &[
    ("inlet-plugin-telegram", "telegram"),
    ("inlet-plugin-twilio", "twilio-sms"),
    ("inlet-plugin-whatsapp", "whatsapp"),
    ("inlet-plugin-messenger", "messenger"),
];

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(manifest_dir.clone());
    println!("cargo:rerun-if-changed=build.rs");
    for dir in ["wit", "sdk", "plugins", "tests/fixtures", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    let out_dir = PathBuf::from(env("OUT_DIR"));
    let fixtures = out_dir.join("fixtures");
    std::fs::create_dir_all(&fixtures).expect("create fixture dir");

    ensure_target();
    let target_dir = root.join("target").join("plugins-build");
    let built = target_dir.join(TARGET).join(PROFILE);

    let mut packages: Vec<&str> = BUNDLED.iter().map(|(p, _)| *p).collect();
    packages.push("inlet-fixture-misbehave");
    cargo_build(&root, &target_dir, &packages, None);
    let mut bundle = String::from("/// Plugins compiled into the binary: (id, component bytes).\npub const BUNDLED: &[(&str, &[u8])] = &[\n");
    for (package, name) in BUNDLED {
        let file = out_dir.join(format!("{name}.wasm"));
        copy(&built.join(wasm_name(package)), &file);
        bundle.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            file.display().to_string()
        ));
    }
    bundle.push_str("];\n");
    copy(
        &built.join(wasm_name("inlet-fixture-misbehave")),
        &fixtures.join("misbehave-v1.wasm"),
    );
    for (feature, name) in [
        ("v2", "misbehave-v2.wasm"),
        ("broken-health", "misbehave-broken.wasm"),
        ("regional", "misbehave-regional.wasm"),
    ] {
        cargo_build(
            &root,
            &target_dir,
            &["inlet-fixture-misbehave"],
            Some(feature),
        );
        copy(
            &built.join(wasm_name("inlet-fixture-misbehave")),
            &fixtures.join(name),
        );
    }
    bundle.push_str(&format!(
        "/// Where the sandbox test fixtures were built (tests only).\n#[doc(hidden)]\npub const FIXTURE_DIR: &str = {:?};\n",
        fixtures.display().to_string()
    ));
    std::fs::write(out_dir.join("bundled.rs"), bundle).expect("write bundled.rs");
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo did not set {name}"))
}

fn wasm_name(package: &str) -> String {
    format!("{}.wasm", package.replace('-', "_"))
}

fn copy(from: &Path, to: &Path) {
    if let Err(e) = std::fs::copy(from, to) {
        panic!("copy {} to {}: {e}", from.display(), to.display());
    }
}

fn ensure_target() {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
        });
    match installed {
        Ok(true) => {}
        Ok(false) => {
            println!("cargo:warning=installing the {TARGET} target with rustup");
            let status = Command::new("rustup")
                .args(["target", "add", TARGET])
                .status();
            if !matches!(status, Ok(s) if s.success()) {
                panic!("`rustup target add {TARGET}` failed: install it by hand");
            }
        }
        // No rustup: trust that the toolchain has the target; cargo will say if not.
        Err(_) => {}
    }
}

fn cargo_build(root: &Path, target_dir: &Path, packages: &[&str], feature: Option<&str>) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--target", TARGET, "--profile", PROFILE])
        .arg("--target-dir")
        .arg(target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    if let Some(f) = feature {
        cmd.args(["--features", f]);
    }
    // The outer build's settings are not the plugins' settings.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo for the plugins");
    if !status.success() {
        panic!("building plugins {packages:?} (features {feature:?}) for {TARGET} failed; see the errors above");
    }
}
