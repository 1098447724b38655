//! codis-admin verbs that need no dashboard, against fixtures recorded from Go's codis-admin
//! (`fixtures/README.md`) and the filesystem coordinator.

mod support;

use support::*;

const DUMP_V1: &str = "tests/fixtures/v2_config_dump_1_after_setup.min.json";
const CONVERTED: &str = include_str!("fixtures/v2_config_convert_after_setup.json");

#[test]
fn config_convert_matches_go_byte_for_byte() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DUMP_V1);
    let out = admin_ok(&[&format!("--config-convert={}", path.display())]);
    assert_eq!(out, CONVERTED);
}

#[test]
fn restore_dump_list_and_remove_lock_on_filesystem() {
    let root = temp_dir("dash-admin");
    let fs = format!("--filesystem={}", root.0.join("coord").display());
    let file = root.0.join("v3.json");
    std::fs::write(&file, CONVERTED).unwrap();
    let restore = format!("--config-restore={}", file.display());
    // Without --confirm: the checked document only.
    let preview = admin_ok(&[&restore, "--product=imported", &fs]);
    assert_eq!(preview, CONVERTED);
    admin_ok(&[&restore, "--product=imported", &fs, "--confirm"]);
    // Restoring twice is refused, with Go's words.
    let (code, _, err) = admin(&[&restore, "--product=imported", &fs, "--confirm"]);
    assert_eq!(code, 1);
    assert!(err.contains("[PANIC] product imported is not empty"), "{err}");
    // The dump gives back the same groups and slots (all 1024, offline ones included).
    let dump: serde_json::Value =
        serde_json::from_str(&admin_ok(&["--config-dump", "--product=imported", &fs])).unwrap();
    let want: serde_json::Value = serde_json::from_str(CONVERTED).unwrap();
    assert_eq!(dump["group"], want["group"]);
    assert_eq!(dump["slots"].as_array().unwrap().len(), 1024);
    assert_eq!(dump["slots"][0], want["slots"][0]);
    let (code, _, err) = admin(&["--config-dump", "--product=nothing", &fs]);
    assert_eq!(code, 1);
    assert!(err.contains("[PANIC] cann't find product = nothing [v3]"), "{err}");
    // No dashboard holds the product: an empty address.
    let list = admin_ok(&["--dashboard-list", &fs]);
    assert_eq!(list, "[\n    {\n        \"name\": \"imported\",\n        \"dashboard\": \"\"\n    }\n]\n");
    admin_ok(&["--remove-lock", "--product=imported", &fs]);
}

#[test]
fn usage_text_is_gos() {
    let (code, out, _) = admin(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Usage:\n\tcodis-admin [-v] --proxy=ADDR [--auth=AUTH] [config|model|stats|slots]\n"));
    assert!(out.ends_with("\t-g ID, --gid=ID\n"));
    let (code, _, _) = admin(&["--no-such-flag"]);
    assert_eq!(code, 1);
}
