//! Links the `goc-adapter` executable at a fixed address (not as a position-independent
//! executable) on Linux, unless `GOC_ADAPTER_PIE=1` is set when building.
//!
//! Why: in a position-independent executable the dynamic loader rewrites the pointers in its
//! read-only-after-start data (about 34,000: vtables, panic locations, string tables) at every
//! start, copying about 150 pages: half a millisecond of every command (`goc-adapter --version`
//! 1.7 -> 1.2 ms, a tenth of a 10-profile merge). The code is still compiled position
//! independent, and heap, stack and shared libraries are still placed at random; only the
//! executable's own image is not, as with Go's default linux/amd64 binaries (goc itself, most
//! Kubernetes tools). Whoever wants that image randomized too builds with `GOC_ADAPTER_PIE=1`.
//!
//! The executable the image ships is also linked statically (`scripts/build-release.sh`, which
//! passes the flags that needs); the C library is then part of that fixed image.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GOC_ADAPTER_PIE");
    println!("cargo::rustc-check-cfg=cfg(xdl_hash_wrapped)");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if linux {
        // xdiff's line hash, replaced by src/source/xdiff_hash.rs (which says why) in every
        // executable this package links: the linker's --wrap sends xdiff's calls there.
        println!("cargo:rustc-link-arg=-Wl,--wrap=xdl_hash_record");
        println!("cargo:rustc-cfg=xdl_hash_wrapped");
    }
    let pie = std::env::var("GOC_ADAPTER_PIE").is_ok_and(|v| v == "1");
    if linux && !pie {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
