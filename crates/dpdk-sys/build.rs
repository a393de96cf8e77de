//! Finds the system DPDK with pkg-config, generates bindings with bindgen and compiles the shim
//! for DPDK's `static inline` functions. See the crate documentation for why and how.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// The oldest DPDK whose API and ABI these bindings and the shim are written for.
const MIN_DPDK: &str = "22.11";

fn main() {
    println!("cargo:rerun-if-changed=src/shim.c");
    println!("cargo:rerun-if-changed=src/shim.h");
    println!("cargo:rerun-if-changed=src/wrapper.h");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG");

    // Emits the -L and -l of `pkg-config --libs libdpdk` for rustc.
    let lib = pkg_config::Config::new()
        .atleast_version(MIN_DPDK)
        .probe("libdpdk")
        .unwrap_or_else(|e| {
            panic!(
                "dpdk-sys needs DPDK >= {MIN_DPDK} development files (Debian: apt-get install \
                 libdpdk-dev pkg-config; scripts/setup.sh does it): {e}"
            )
        });
    println!("cargo:version={}", lib.version);
    println!("cargo:rustc-env=DPDK_SYS_VERSION={}", lib.version);
    println!(
        "cargo:rustc-env=DPDK_SYS_DRIVER_DIR={}",
        driver_dir(&lib.link_paths)
    );

    // The compile flags verbatim: libdpdk's include `-include rte_config.h` and `-march=...`,
    // which the pkg-config crate's parsed view does not carry.
    let cflags = pkg_config_cflags();

    let mut build = cc::Build::new();
    build
        .file("src/shim.c")
        .include("src")
        .warnings(true)
        .opt_level(3);
    for flag in &cflags {
        build.flag(flag);
    }
    build.compile("dpdk_sys_shim");

    let bindings = bindgen::Builder::default()
        .header("src/wrapper.h")
        .clang_args(cflags.iter().map(String::as_str))
        .clang_arg("-Isrc")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .allowlist_function(
            "rte_eal_.*|rte_lcore_.*|rte_get_main_lcore|rte_get_next_lcore|rte_socket_id\
             |rte_mempool_(create|free|lookup|avail_count|in_use_count|dump)\
             |rte_pktmbuf_pool_create|rte_pktmbuf_free_bulk\
             |rte_eth_(dev_|rx_queue_setup|tx_queue_setup|stats_|link_get|macaddr_get|promiscuous_)\
             .*|rte_eth_link_get_nowait\
             |rte_ring_(create|free|lookup)|rte_flow_(validate|create|destroy|flush)\
             |rte_strerror|rte_exit|shim_.*",
        )
        .allowlist_type("rte_eth_conf|rte_eth_stats|rte_eth_link|rte_eth_dev_info|rte_ether_addr")
        .allowlist_type("rte_mbuf|rte_mempool|rte_ring|lcore_function_t")
        // rte_flow basics: the rule, the patterns a load balancer steers by, queue/drop actions.
        .allowlist_type(
            "rte_flow|rte_flow_(attr|item|action|error|item_type|action_type|error_type)\
             |rte_flow_item_(eth|vlan|ipv4|ipv6|tcp|udp)|rte_flow_action_(queue|rss)",
        )
        .opaque_type("rte_l2tpv2_.*")
        .allowlist_var(
            "RTE_MBUF_DEFAULT_.*|RTE_PKTMBUF_HEADROOM|RTE_MAX_LCORE|RTE_MAX_ETHPORTS|SOCKET_ID_ANY\
             |LCORE_ID_ANY|RING_F_.*|RTE_ETH_LINK_.*|RTE_ETH_SPEED_NUM_.*|RTE_ETHER_.*\
             |RTE_MEMPOOL_CACHE_MAX_SIZE|RTE_ETH_NAME_MAX_LEN",
        )
        .derive_default(true)
        .derive_debug(false)
        .layout_tests(true)
        .generate_comments(false)
        .prepend_enum_name(false)
        .generate()
        .expect("bindgen could not generate the DPDK bindings (is libclang-dev installed?)");

    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("writing bindings.rs");
}

fn pkg_config_cflags() -> Vec<String> {
    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_owned());
    let output = Command::new(&pkg_config)
        .args(["--cflags", "libdpdk"])
        .output()
        .unwrap_or_else(|e| panic!("running {pkg_config}: {e}"));
    assert!(
        output.status.success(),
        "{pkg_config} --cflags libdpdk: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("pkg-config output is not UTF-8");
    let mut flags = Vec::new();
    let mut words = text.split_whitespace();
    while let Some(word) = words.next() {
        // `-include FILE` is two words that must stay together and in order.
        if word == "-include" {
            if let Some(file) = words.next() {
                flags.push(format!("-include{file}"));
            }
        } else {
            flags.push(word.to_owned());
        }
    }
    flags
}

/// EAL's plugin directory, `<libdir>/dpdk/pmds-<abi>`, where a shared DPDK build keeps its
/// drivers (Debian: `/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0`); empty if there is none.
fn driver_dir(link_paths: &[PathBuf]) -> String {
    let mut libdirs: Vec<PathBuf> = link_paths.to_vec();
    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_owned());
    if let Ok(out) = Command::new(pkg_config)
        .args(["--variable=libdir", "libdpdk"])
        .output()
    {
        libdirs.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    for libdir in libdirs {
        let Ok(entries) = std::fs::read_dir(libdir.join("dpdk")) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_pmds = entry.file_name().to_string_lossy().starts_with("pmds-");
            if is_pmds && path.is_dir() {
                return path.display().to_string();
            }
        }
    }
    println!("cargo:warning=no DPDK driver directory (<libdir>/dpdk/pmds-*) found");
    String::new()
}
