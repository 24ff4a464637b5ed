//! Install, taint detection, removal and listing state against the shared hub snapshot and
//! small hub trees, each test working in its own temp dir.

use std::path::{Path, PathBuf};

use cs_hub::{Error, Hub, HubPaths, HubSource, Index, ItemType, LocalHub, Plan};

/// The shared read-only material (`../shared` from the workspace root, or `CROWDSEC_SHARED`).
fn shared_hub() -> PathBuf {
    let base = std::env::var_os("CROWDSEC_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    );
    base.join("hub")
}

/// A config dir, hub dir and data dir in `tmp`, with the source's index copied in.
fn setup(tmp: &Path, source: &dyn HubSource) -> Hub {
    let paths = HubPaths::new(tmp.join("etc"), tmp.join("data"));
    std::fs::create_dir_all(&paths.hub_dir).unwrap();
    std::fs::write(&paths.index_path, source.fetch_index().unwrap()).unwrap();
    Hub::load(paths).unwrap()
}

fn run(hub: &mut Hub, plan: &Plan, source: &dyn HubSource) -> Vec<String> {
    let mut lines = Vec::new();
    hub.execute(plan, source, &mut |l| lines.push(l)).unwrap();
    lines
}

fn install(hub: &mut Hub, source: &dyn HubSource, t: ItemType, name: &str) {
    let mut plan = Plan::default();
    hub.plan_install(&mut plan, t, name, false, false).unwrap();
    run(hub, &plan, source);
}

fn state(hub: &Hub, t: ItemType, name: &str) -> cs_hub::ItemState {
    hub.get(t, name).unwrap().state.clone()
}

#[test]
fn installing_a_collection_enables_its_dependencies() {
    let tmp = tempfile::tempdir().unwrap();
    let src = LocalHub::new(shared_hub());
    let mut hub = setup(tmp.path(), &src);
    install(&mut hub, &src, ItemType::Collections, "crowdsecurity/sshd");

    let link = tmp.path().join("etc/parsers/s01-parse/sshd-logs.yaml");
    let target = std::fs::read_link(&link).unwrap();
    assert!(target.is_absolute());
    assert!(target.ends_with("hub/parsers/s01-parse/crowdsecurity/sshd-logs.yaml"));
    for (t, n) in [
        (ItemType::Collections, "crowdsecurity/sshd"),
        (ItemType::Parsers, "crowdsecurity/sshd-logs"),
        (ItemType::Scenarios, "crowdsecurity/ssh-bf"),
        (ItemType::Contexts, "crowdsecurity/bf_base"),
    ] {
        let s = state(&hub, t, n);
        assert!(s.installed && s.downloaded && s.up_to_date, "{t}:{n} {s:?}");
        assert!(!s.tainted && !s.local, "{t}:{n}");
        let item = hub.get(t, n).unwrap();
        assert_eq!(s.local_version, item.meta.version);
        assert_eq!(item.text(), "enabled");
        assert_eq!(item.status(), "up-to-date");
    }
    // Membership counts every collection listing the item, installed or not.
    assert_eq!(
        state(&hub, ItemType::Scenarios, "crowdsecurity/ssh-bf").belongs_to_collections,
        ["crowdsecurity/sshd", "crowdsecurity/unifi"]
    );
    assert_eq!(hub.installed(ItemType::Scenarios).count(), 6);
    assert!(hub.warnings.is_empty(), "{:?}", hub.warnings);

    // Installing again changes nothing.
    let mut plan = Plan::default();
    hub.plan_install(
        &mut plan,
        ItemType::Collections,
        "crowdsecurity/sshd",
        false,
        false,
    )
    .unwrap();
    assert!(plan.is_empty(), "{plan:?}");
}

#[test]
fn install_copies_data_files_from_the_hub() {
    let tmp = tempfile::tempdir().unwrap();
    let src = LocalHub::new(shared_hub());
    let mut hub = setup(tmp.path(), &src);
    install(
        &mut hub,
        &src,
        ItemType::Scenarios,
        "crowdsecurity/http-bad-user-agent",
    );
    let copied = std::fs::read(tmp.path().join("data/bad_user_agents.regex.txt")).unwrap();
    let original = std::fs::read(shared_hub().join("data/bad_user_agents.regex.txt")).unwrap();
    assert_eq!(copied, original);
}

#[test]
fn unknown_item_suggests_the_closest_name() {
    let tmp = tempfile::tempdir().unwrap();
    let src = LocalHub::new(shared_hub());
    let hub = setup(tmp.path(), &src);
    let err = hub
        .find(ItemType::Collections, "crowdsecurity/sshdd")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "can't find 'crowdsecurity/sshdd' in collections, did you mean 'crowdsecurity/sshd'?"
    );
}

#[test]
fn local_modification_taints_the_item_and_its_collection() {
    let tmp = tempfile::tempdir().unwrap();
    let src = LocalHub::new(shared_hub());
    let mut hub = setup(tmp.path(), &src);
    install(&mut hub, &src, ItemType::Collections, "crowdsecurity/sshd");

    let file = tmp
        .path()
        .join("etc/hub/scenarios/crowdsecurity/ssh-bf.yaml");
    let mut content = std::fs::read_to_string(&file).unwrap();
    content.push_str("\n# edited\n");
    std::fs::write(&file, content).unwrap();
    hub.sync().unwrap();

    let item = hub
        .get(ItemType::Scenarios, "crowdsecurity/ssh-bf")
        .unwrap();
    assert!(item.state.tainted);
    assert_eq!(item.state.local_version, "?");
    assert_eq!(item.text(), "enabled,tainted");
    assert_eq!(item.status(), "tainted");
    let coll = hub
        .get(ItemType::Collections, "crowdsecurity/sshd")
        .unwrap();
    assert!(coll.state.tainted);
    assert_eq!(coll.state.tainted_by, ["scenarios:crowdsecurity/ssh-bf"]);

    // A tainted item is neither overwritten nor removed without --force.
    let mut plan = Plan::default();
    hub.plan_upgrade(
        &mut plan,
        ItemType::Scenarios,
        "crowdsecurity/ssh-bf",
        false,
    )
    .unwrap();
    assert!(plan.is_empty());
    assert_eq!(
        plan.warnings,
        ["scenarios:crowdsecurity/ssh-bf is tainted, use '--force' to overwrite"]
    );
    let err = hub
        .plan_remove(
            &mut Plan::default(),
            ItemType::Collections,
            "crowdsecurity/sshd",
            false,
            false,
        )
        .unwrap_err();
    assert!(matches!(err, Error::Tainted(_)), "{err}");

    // --force restores the hub version.
    let mut plan = Plan::default();
    hub.plan_upgrade(&mut plan, ItemType::Scenarios, "crowdsecurity/ssh-bf", true)
        .unwrap();
    run(&mut hub, &plan, &src);
    assert!(!state(&hub, ItemType::Scenarios, "crowdsecurity/ssh-bf").tainted);
    assert!(!state(&hub, ItemType::Collections, "crowdsecurity/sshd").tainted);
}

#[test]
fn removing_a_collection_disables_its_members() {
    let tmp = tempfile::tempdir().unwrap();
    let src = LocalHub::new(shared_hub());
    let mut hub = setup(tmp.path(), &src);
    install(&mut hub, &src, ItemType::Collections, "crowdsecurity/sshd");

    // A member is kept while its collection is installed...
    let mut plan = Plan::default();
    hub.plan_remove(
        &mut plan,
        ItemType::Scenarios,
        "crowdsecurity/ssh-bf",
        false,
        false,
    )
    .unwrap();
    assert!(plan.is_empty());
    assert_eq!(
        plan.warnings[0],
        "crowdsecurity/ssh-bf belongs to collections: [crowdsecurity/sshd]"
    );

    // ...and its forced removal taints the collection.
    let mut plan = Plan::default();
    hub.plan_remove(
        &mut plan,
        ItemType::Scenarios,
        "crowdsecurity/ssh-bf",
        false,
        true,
    )
    .unwrap();
    run(&mut hub, &plan, &src);
    assert!(!state(&hub, ItemType::Scenarios, "crowdsecurity/ssh-bf").installed);
    let coll = state(&hub, ItemType::Collections, "crowdsecurity/sshd");
    assert!(coll.tainted);
    assert_eq!(coll.tainted_by, ["scenarios:crowdsecurity/ssh-bf"]);

    let mut plan = Plan::default();
    hub.plan_remove(
        &mut plan,
        ItemType::Collections,
        "crowdsecurity/sshd",
        true,
        true,
    )
    .unwrap();
    run(&mut hub, &plan, &src);
    for t in [
        ItemType::Parsers,
        ItemType::Scenarios,
        ItemType::Contexts,
        ItemType::Collections,
    ] {
        assert_eq!(hub.installed(t).count(), 0, "{t}");
    }
    assert!(
        !tmp.path()
            .join("etc/parsers/s01-parse/sshd-logs.yaml")
            .exists()
    );
    assert!(
        !tmp.path()
            .join("etc/hub/parsers/s01-parse/crowdsecurity/sshd-logs.yaml")
            .exists()
    );
}

/// Writes a file, creating its directory.
fn put(root: &Path, rel: &str, content: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

/// Two collections sharing a parser, a parent collection, and no `.index.json`.
fn small_hub(root: &Path) {
    put(
        root,
        "parsers/s01-parse/a/p1.yaml",
        "name: a/p1\ndescription: first\n",
    );
    put(root, "parsers/s01-parse/a/shared.yaml", "name: a/shared\n");
    put(
        root,
        "scenarios/a/s2.yaml",
        "name: a/s2\ndata:\n  - source_url: https://example.invalid/words.txt\n    dest_file: sub/words.txt\n    type: string\n",
    );
    put(root, "data/sub/words.txt", "foo\nbar\n");
    put(
        root,
        "collections/a/one.yaml",
        "name: a/one\nparsers:\n  - a/p1\n  - a/shared\n",
    );
    put(
        root,
        "collections/a/two.yaml",
        "name: a/two\nparsers:\n  - a/shared\nscenarios:\n  - a/s2\n",
    );
    put(
        root,
        "collections/a/parent.yaml",
        "name: a/parent\ncollections:\n  - a/one\n",
    );
}

#[test]
fn index_is_built_from_a_hub_tree_without_index() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hub-src");
    small_hub(&root);
    let index = Index::build_from_dir(&root).unwrap();
    let one = index.get(ItemType::Collections, "a/one").unwrap();
    assert_eq!(one.deps.parsers, ["a/p1", "a/shared"]);
    let p1 = index.get(ItemType::Parsers, "a/p1").unwrap();
    assert_eq!(p1.stage, "s01-parse");
    assert_eq!(p1.path, "parsers/s01-parse/a/p1.yaml");
    assert_eq!(p1.description, "first");
    // The serialized form loads back to the same index.
    let back = Index::from_slice(index.to_json().as_bytes(), Path::new("built")).unwrap();
    assert_eq!(back, index);
}

#[test]
fn shared_members_stay_while_an_unrelated_collection_needs_them() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hub-src");
    small_hub(&root);
    let src = LocalHub::new(&root);
    let mut hub = setup(tmp.path(), &src);
    install(&mut hub, &src, ItemType::Collections, "a/parent");
    install(&mut hub, &src, ItemType::Collections, "a/two");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("data/sub/words.txt")).unwrap(),
        "foo\nbar\n"
    );
    assert!(state(&hub, ItemType::Collections, "a/one").installed);

    let mut plan = Plan::default();
    hub.plan_remove(&mut plan, ItemType::Collections, "a/parent", false, false)
        .unwrap();
    let steps: Vec<String> = plan.steps.iter().map(ToString::to_string).collect();
    assert_eq!(
        steps,
        [
            "disable parsers:a/p1",
            "disable collections:a/one",
            "disable collections:a/parent"
        ]
    );
    run(&mut hub, &plan, &src);
    assert!(!state(&hub, ItemType::Parsers, "a/p1").installed);
    assert!(state(&hub, ItemType::Parsers, "a/shared").installed);
    assert!(state(&hub, ItemType::Collections, "a/two").installed);
    assert!(!state(&hub, ItemType::Collections, "a/two").tainted);
}

#[test]
fn regular_files_in_the_config_dir_are_local_items() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hub-src");
    small_hub(&root);
    let src = LocalHub::new(&root);
    let mut hub = setup(tmp.path(), &src);
    put(
        tmp.path(),
        "etc/scenarios/mine.yaml",
        "name: me/mine\ndescription: custom\n",
    );
    put(
        tmp.path(),
        "etc/parsers/s02-enrich/noname.yaml",
        "filter: true\n",
    );
    hub.sync().unwrap();

    let mine = hub.get(ItemType::Scenarios, "me/mine").unwrap();
    assert!(mine.state.local && mine.state.installed);
    assert_eq!(mine.text(), "enabled,local");
    assert_eq!(mine.status(), "local");
    assert_eq!(mine.meta.description, "custom");
    let noname = hub.get(ItemType::Parsers, "noname.yaml").unwrap();
    assert_eq!(noname.meta.stage, "s02-enrich");

    // Local items are never removed by the hub.
    let mut plan = Plan::default();
    hub.plan_remove(&mut plan, ItemType::Scenarios, "me/mine", true, true)
        .unwrap();
    assert!(plan.is_empty());
    assert_eq!(
        plan.warnings,
        ["scenarios:me/mine is a local item, please delete manually"]
    );
}
