//! crds/coveragetarget.yaml must be exactly what `goc-adapter crd` generates from the type.

#[test]
fn committed_crd_matches_the_type() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_goc-adapter"))
        .arg("crd")
        .output()
        .expect("run goc-adapter crd");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = env!("CARGO_MANIFEST_DIR");
    let committed = std::fs::read_to_string(format!("{root}/crds/coveragetarget.yaml"))
        .expect("crds/coveragetarget.yaml");
    assert!(
        committed == String::from_utf8_lossy(&out.stdout),
        "crds/coveragetarget.yaml drifted from the CoverageTarget type: run `cargo run -- crd > crds/coveragetarget.yaml`"
    );
}
