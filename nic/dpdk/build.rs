//! Build script of mptfo-dpdk: finds the system DPDK (>= 22.11) with
//! pkg-config, generates Rust declarations for exactly the functions and
//! types we call (bindgen with an allowlist), compiles the C shim with the
//! same flags, and links DPDK dynamically (EAL then loads every PMD in its
//! plugin directory by itself).
//!
//! When DPDK, pkg-config or libclang is missing, the build does not fail:
//! it warns and sets `cfg(mptfo_no_dpdk)`, under which the crate compiles
//! with the same API and `Eal::init` returns `DpdkError::NotInstalled`.
//! `MPTFO_NO_DPDK=1` forces that variant (to check that it builds).

use std::env;
use std::path::PathBuf;
use std::process::Command;

const INSTALL_HINT: &str = "apt-get install libdpdk-dev pkg-config libclang-dev";

/// Exported DPDK functions the Rust side calls (everything else goes
/// through the shim).
const FUNCTIONS: &[&str] = &[
    "rte_eal_init",
    "rte_eal_cleanup",
    "rte_strerror",
    "rte_socket_id",
    "rte_thread_register",
    "rte_thread_unregister",
    "rte_pktmbuf_pool_create_by_ops",
    "rte_mempool_free",
    "rte_mempool_avail_count",
    "rte_mempool_in_use_count",
    "rte_eth_dev_count_avail",
    "rte_eth_dev_get_port_by_name",
    "rte_eth_dev_get_name_by_port",
    "rte_eth_dev_is_valid_port",
    "rte_eth_dev_start",
    "rte_eth_dev_stop",
    "rte_eth_dev_close",
    "rte_eth_macaddr_get",
    "rte_eth_dev_get_mtu",
    "rte_eth_stats_get",
    "rte_eth_promiscuous_enable",
    "rte_dev_probe",
    "rte_eal_hotplug_remove",
    // The hand-written shim (shim/shim.h).
    "mptfo_.*",
];

/// Where Debian's libdpdk-dev puts its pkg-config file: watched, so that
/// installing DPDK later makes cargo run this script again (a missing
/// watched file makes cargo rerun it on every build, which is cheap here).
fn watch_pc_file() {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".into());
    println!("cargo:rerun-if-changed=/usr/lib/{arch}-linux-gnu/pkgconfig/libdpdk.pc");
}

fn without_dpdk(why: &str) {
    println!("cargo:warning=mptfo-dpdk: building WITHOUT DPDK ({why}); Eal::init will fail. To enable: {INSTALL_HINT}");
    println!("cargo:rustc-cfg=mptfo_no_dpdk");
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(mptfo_no_dpdk)");
    for f in ["build.rs", "shim/shim.c", "shim/shim.h", "shim/wrapper.h"] {
        println!("cargo:rerun-if-changed={f}");
    }
    for v in [
        "MPTFO_NO_DPDK",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG",
        "LIBCLANG_PATH",
    ] {
        println!("cargo:rerun-if-env-changed={v}");
    }
    watch_pc_file();
    if env::var_os("MPTFO_NO_DPDK").is_some_and(|v| !v.is_empty() && v != "0") {
        without_dpdk("MPTFO_NO_DPDK is set");
        return;
    }

    // 1. Is DPDK there? (No link flags yet: only once everything worked.)
    if let Err(e) = pkg_config::Config::new()
        .atleast_version("22.11")
        .cargo_metadata(false)
        .probe("libdpdk")
    {
        let first = e.to_string();
        let first = first
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("pkg-config failed");
        without_dpdk(&format!("pkg-config cannot find libdpdk >= 22.11: {first}"));
        return;
    }
    // The pkg-config crate keeps only -I/-D; DPDK's cflags also carry
    // "-include rte_config.h" and "-march=...", which bindgen and cc must
    // both see, verbatim.
    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
    let cflags = match Command::new(&pkg_config)
        .args(["--cflags", "libdpdk"])
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>(),
        _ => {
            without_dpdk("`pkg-config --cflags libdpdk` failed");
            return;
        }
    };

    // 2. Rust declarations for the allowlisted functions and types.
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let mut builder = bindgen::Builder::default()
        .header("shim/wrapper.h")
        .clang_args(&cflags)
        .clang_arg("-Ishim")
        .allowlist_type("rte_mbuf|rte_ether_addr|rte_eth_stats|mptfo_.*")
        .allowlist_var("MPTFO_.*|RTE_PKTMBUF_HEADROOM|RTE_MAX_ETHPORTS|RTE_MEMPOOL_CACHE_MAX_SIZE")
        // Only ever behind a pointer: keep its hundreds of fields out.
        .opaque_type("rte_mempool")
        .derive_default(true)
        .derive_debug(false)
        .layout_tests(false)
        .generate_comments(false)
        .prepend_enum_name(false);
    for f in FUNCTIONS {
        builder = builder.allowlist_function(f);
    }
    // bindgen panics (rather than erring) when libclang cannot be loaded.
    let generated =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || builder.generate()));
    let bindings = match generated {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            without_dpdk(&format!("bindgen failed on the DPDK headers: {e}"));
            return;
        }
        Err(_) => {
            without_dpdk("bindgen could not run (is libclang installed?)");
            return;
        }
    };
    bindings
        .write_to_file(out_dir.join("bindings.rs"))
        .expect("write bindings.rs");

    // 3. The shim, compiled with DPDK's own flags.
    cc::Build::new()
        .file("shim/shim.c")
        .include("shim")
        .flags(&cflags)
        .opt_level(3)
        .warnings(true)
        .extra_warnings(false)
        .compile("mptfo_dpdk_shim");

    // 4. Link DPDK dynamically (the shim's static archive comes first).
    if let Err(e) = pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
    {
        panic!("pkg-config found libdpdk once but not twice: {e}");
    }
}
