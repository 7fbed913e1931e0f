//! Catalog administration through the server, against the catalog stand-in
//! (`catalog_standin.rs`, graphql-core on the catalog's real schema with admin resolvers;
//! seeded admin `ann`, user `bob`): a non-admin — or an admin without `quilt:admin` — has no
//! admin tool in `tools/list` and a call is answered exactly like an unknown tool; an admin's
//! round trip through every write tool, with the stand-in's own state read back after each;
//! read tools answer what the stand-in holds; bad inputs get specific errors and change
//! nothing; audit lines name the target; a client with elicitation is asked before an admin
//! write and before `tabulator_table_delete` (declined → still there, accepted → gone);
//! the `tools/list` bytes the admin tools add.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::catalog_standin::CatalogStandIn;
use crate::support::*;

const ADMIN_SCOPES: &str = "quilt:read quilt:write athena:query quilt:admin";

fn with_scopes(sub: &str, scope: &str) -> String {
    hs256(&claims(sub, json!({"scope": scope})), SECRET)
}

async fn setup() -> (CatalogStandIn, TestServer) {
    // No S3 behind these tools: the stand-in needs a moto URL only for bucket listings, and
    // knows its one bucket from the configs.
    let standin = CatalogStandIn::start(
        "http://127.0.0.1:9",
        SECRET,
        &json!([{"name": "adm-data", "title": "Data"}]),
    );
    let url = standin.url.clone();
    let server = TestServer::start(move |c| c.catalog_url = Some(url)).await;
    (standin, server)
}

async fn tool_names(server: &TestServer, token: &str) -> BTreeSet<String> {
    let r = rpc(&server.mcp(), Some(token), LEGACY, "tools/list", json!({})).await;
    r.result()["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect()
}

const WRITES: [&str; 13] = [
    "admin_user_create",
    "admin_user_delete",
    "admin_user_set_email",
    "admin_user_set_admin",
    "admin_user_set_active",
    "admin_user_reset_password",
    "admin_user_set_role",
    "admin_user_add_roles",
    "admin_user_remove_roles",
    "admin_role_set_default",
    "admin_sso_config_set",
    "admin_sso_config_remove",
    "admin_tabulator_open_query_set",
];
const READS: [&str; 9] = [
    "admin_users_list",
    "admin_user_get",
    "admin_roles_list",
    "admin_role_get",
    "admin_default_role_get",
    "admin_policies_list",
    "admin_policy_get",
    "admin_sso_config_get",
    "admin_tabulator_open_query_get",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_catalog_admins_with_the_admin_scope_see_or_call_admin_tools() {
    let (standin, server) = setup().await;
    let ann = with_scopes("ann", ADMIN_SCOPES);
    let bob = with_scopes("bob", ADMIN_SCOPES);
    let ann_unscoped = token("ann");

    let for_ann = tool_names(&server, &ann).await;
    for tool in WRITES.iter().chain(&READS) {
        assert!(for_ann.contains(*tool), "{tool} not listed for the admin");
    }
    assert!(for_ann.contains("search_catalog"));
    for t in [&bob, &ann_unscoped] {
        let listed = tool_names(&server, t).await;
        assert!(listed.contains("search_catalog"), "{listed:?}");
        let admin: Vec<_> = listed.iter().filter(|n| n.starts_with("admin_")).collect();
        assert!(
            admin.is_empty(),
            "admin tools listed for a non-admin: {admin:?}"
        );
    }
    // Annotations are honest.
    let r = rpc(&server.mcp(), Some(&ann), LEGACY, "tools/list", json!({})).await;
    let tools = r.result()["tools"].as_array().expect("tools").clone();
    let annotations = |name: &str| {
        tools
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["annotations"].clone())
            .expect(name)
    };
    for name in READS {
        assert_eq!(annotations(name)["readOnlyHint"], true, "{name}");
    }
    for name in WRITES {
        assert_eq!(annotations(name)["readOnlyHint"], false, "{name}");
    }
    assert_eq!(annotations("admin_user_delete")["destructiveHint"], true);
    assert_eq!(annotations("admin_user_create")["destructiveHint"], false);
    assert_eq!(annotations("admin_user_create")["idempotentHint"], false);
    assert_eq!(
        annotations("admin_user_add_roles")["destructiveHint"],
        false
    );
    assert_eq!(
        annotations("admin_user_reset_password")["idempotentHint"],
        false
    );

    // A direct call by a non-admin (or without the scope): the same answer as a tool that
    // does not exist, and nothing reaches the catalog but the `me` question.
    let before = standin.admin_state().await;
    let unknown = call_tool(&server.mcp(), Some(&bob), "admin_no_such_tool", json!({})).await;
    for t in [&bob, &ann_unscoped] {
        let r = call_tool(
            &server.mcp(),
            Some(t),
            "admin_user_delete",
            json!({"name": "ann"}),
        )
        .await;
        assert_eq!(r.status, unknown.status);
        assert_eq!(
            r.body["error"]["code"], unknown.body["error"]["code"],
            "{}",
            r.body
        );
        assert_eq!(
            r.body["error"]["message"], "unknown tool: admin_user_delete",
            "{}",
            r.body
        );
        assert_eq!(
            unknown.body["error"]["message"],
            "unknown tool: admin_no_such_tool"
        );
    }
    assert_eq!(
        standin.admin_state().await,
        before,
        "a refused call changed the catalog"
    );
    let operations: BTreeSet<String> = standin
        .graphql()
        .await
        .iter()
        .filter_map(|r| r["operation"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        operations,
        BTreeSet::from(["me".to_owned()]),
        "{operations:?}"
    );

    // The catalog's answer is cached per token: many lists, a few `me` questions.
    let me_before = standin.graphql().await.len();
    for _ in 0..5 {
        tool_names(&server, &bob).await;
    }
    assert_eq!(
        standin.graphql().await.len(),
        me_before,
        "me asked again within the cache time"
    );

    // A slow catalog: the admin tools hide (never fail open), the list is not held longer than
    // the check's time limit, and the failure is remembered briefly.
    standin.control(json!({"delay_s": 6})).await;
    let slow_ann = hs256(
        &claims("ann", json!({"scope": ADMIN_SCOPES, "jti": "slow"})),
        SECRET,
    );
    let started = std::time::Instant::now();
    let listed = tool_names(&server, &slow_ann).await;
    assert!(
        !listed.iter().any(|n| n.starts_with("admin_")),
        "{listed:?}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let started = std::time::Instant::now();
    tool_names(&server, &slow_ann).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    standin.control(json!({"delay_s": 0})).await;
}

/// Runs `tool` as the admin and returns its structured result.
async fn admin(server: &TestServer, tool: &str, args: Value) -> Value {
    let ann = with_scopes("ann", ADMIN_SCOPES);
    ok(&call_as(server, &ann, tool, args).await).clone()
}

#[tokio::test]
async fn an_admin_round_trips_every_write_and_the_catalog_holds_the_result() {
    let (audit, _guard) = AuditLog::capture();
    let (standin, server) = setup().await;
    let state = || standin.admin_state();

    let created = admin(
        &server,
        "admin_user_create",
        json!({"name": "carol", "email": "carol@example.com", "role": "ReadQuiltBucket", "extra_roles": ["LegacyRole"]}),
    )
    .await;
    assert_eq!(created["user"]["name"], "carol");
    let s = state().await;
    assert_eq!(s["users"]["carol"]["email"], "carol@example.com");
    assert_eq!(s["users"]["carol"]["role"], "ReadQuiltBucket");
    assert_eq!(s["users"]["carol"]["extraRoles"], json!(["LegacyRole"]));

    admin(
        &server,
        "admin_user_set_email",
        json!({"name": "carol", "email": "carol@new.example.org"}),
    )
    .await;
    assert_eq!(
        state().await["users"]["carol"]["email"],
        "carol@new.example.org"
    );
    admin(
        &server,
        "admin_user_set_admin",
        json!({"name": "carol", "admin": true}),
    )
    .await;
    assert_eq!(state().await["users"]["carol"]["isAdmin"], true);
    admin(
        &server,
        "admin_user_set_active",
        json!({"name": "carol", "active": false}),
    )
    .await;
    assert_eq!(state().await["users"]["carol"]["isActive"], false);
    let reset = admin(
        &server,
        "admin_user_reset_password",
        json!({"name": "carol"}),
    )
    .await;
    assert_eq!(reset["done"], "password_reset");
    assert_eq!(state().await["password_resets"], json!(["carol"]));
    admin(&server, "admin_user_set_role", json!({"name": "carol", "role": "ReadWriteQuiltBucket", "extra_roles": [], "append": false})).await;
    let s = state().await;
    assert_eq!(
        (
            &s["users"]["carol"]["role"],
            &s["users"]["carol"]["extraRoles"]
        ),
        (&json!("ReadWriteQuiltBucket"), &json!([]))
    );
    admin(
        &server,
        "admin_user_add_roles",
        json!({"name": "carol", "roles": ["LegacyRole", "ReadQuiltBucket"]}),
    )
    .await;
    assert_eq!(
        state().await["users"]["carol"]["extraRoles"],
        json!(["LegacyRole", "ReadQuiltBucket"])
    );
    let removed = admin(
        &server,
        "admin_user_remove_roles",
        json!({"name": "carol", "roles": ["ReadWriteQuiltBucket"], "fallback": "ReadQuiltBucket"}),
    )
    .await;
    assert_eq!(removed["user"]["role"], "ReadQuiltBucket");
    let s = state().await;
    assert_eq!(
        (
            &s["users"]["carol"]["role"],
            &s["users"]["carol"]["extraRoles"]
        ),
        (&json!("ReadQuiltBucket"), &json!(["LegacyRole"]))
    );
    let default = admin(
        &server,
        "admin_role_set_default",
        json!({"id_or_name": "LegacyRole"}),
    )
    .await;
    assert_eq!(default["role"]["name"], "LegacyRole");
    assert_eq!(state().await["default_role"], "r-legacy");
    const SSO: &str = "version: \"1.0\"\nmappings:\n  - to: ReadQuiltBucket\n    conditions: {}\n";
    let set = admin(&server, "admin_sso_config_set", json!({"config": SSO})).await;
    assert_eq!(set["sso_config"]["uploader"], "ann");
    assert_eq!(state().await["sso"]["text"], SSO);
    admin(&server, "admin_sso_config_remove", json!({})).await;
    assert_eq!(state().await["sso"], Value::Null);
    let on = admin(
        &server,
        "admin_tabulator_open_query_set",
        json!({"enabled": true}),
    )
    .await;
    assert_eq!(on["open_query_enabled"], true);
    assert_eq!(state().await["open_query"], true);

    // Read tools answer what the stand-in holds.
    let s = state().await;
    let users = admin(&server, "admin_users_list", json!({})).await;
    let names: Vec<&str> = users["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["name"].as_str())
        .collect();
    let mut held: Vec<&str> = s["users"]
        .as_object()
        .expect("users")
        .keys()
        .map(String::as_str)
        .collect();
    held.sort_unstable();
    assert_eq!(names, held);
    let carol = admin(&server, "admin_user_get", json!({"name": "carol"})).await;
    assert_eq!(carol["user"]["email"], s["users"]["carol"]["email"]);
    assert_eq!(
        carol["user"]["extra_roles"],
        s["users"]["carol"]["extraRoles"]
    );
    let roles = admin(&server, "admin_roles_list", json!({})).await;
    assert_eq!(
        roles["roles"].as_array().map(Vec::len),
        s["roles"].as_object().map(|r| r.len())
    );
    let rw = admin(&server, "admin_role_get", json!({"id_or_name": "r-rw"})).await;
    assert_eq!(rw["role"]["name"], s["roles"]["r-rw"]["name"]);
    assert_eq!(rw["role"]["policies"], json!(["ReadData", "WriteData"]));
    assert_eq!(
        rw["role"]["permissions"][1],
        json!({"bucket": "adm-data", "level": "READ_WRITE"})
    );
    let default = admin(&server, "admin_default_role_get", json!({})).await;
    assert_eq!(default["role"]["name"], s["roles"]["r-legacy"]["name"]);
    assert_eq!(default["role"]["managed"], false);
    let policies = admin(&server, "admin_policies_list", json!({})).await;
    assert_eq!(
        policies["policies"].as_array().map(Vec::len),
        s["policies"].as_object().map(|p| p.len())
    );
    let write = admin(
        &server,
        "admin_policy_get",
        json!({"id_or_title": "WriteData"}),
    )
    .await;
    assert_eq!(write["policy"]["id"], "p-write");
    assert_eq!(write["policy"]["roles"], json!(["ReadWriteQuiltBucket"]));
    assert_eq!(
        admin(&server, "admin_sso_config_get", json!({})).await["sso_config"],
        Value::Null
    );
    assert_eq!(
        admin(&server, "admin_tabulator_open_query_get", json!({})).await["open_query_enabled"],
        s["open_query"]
    );

    admin(&server, "admin_user_delete", json!({"name": "carol"})).await;
    assert!(
        state().await["users"].get("carol").is_none(),
        "carol was not deleted"
    );

    // Audit lines name the target of each write.
    let lines = audit.lines();
    let target = |tool: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l["tool"] == tool)
            .map(|l| l["acted_on"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    for tool in [
        "admin_user_create",
        "admin_user_set_email",
        "admin_user_set_admin",
        "admin_user_set_active",
        "admin_user_reset_password",
        "admin_user_set_role",
        "admin_user_add_roles",
        "admin_user_remove_roles",
        "admin_user_delete",
    ] {
        assert_eq!(target(tool), ["user:carol"], "{tool}");
    }
    assert_eq!(target("admin_role_set_default"), ["role:LegacyRole"]);
    assert_eq!(target("admin_sso_config_set"), ["sso_config"]);
    assert_eq!(target("admin_sso_config_remove"), ["sso_config"]);
    assert_eq!(
        target("admin_tabulator_open_query_set"),
        ["tabulator_open_query"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_admin_inputs_get_specific_errors_and_change_nothing() {
    let (standin, server) = setup().await;
    let ann = with_scopes("ann", ADMIN_SCOPES);
    let before = standin.admin_state().await;
    let sent = || async {
        standin
            .graphql()
            .await
            .iter()
            .filter(|r| r["operation"] != "me")
            .count()
    };

    // Refused here: nothing is sent to the catalog.
    let n = sent().await;
    for (tool, args, code, needle) in [
        (
            "admin_user_set_email",
            json!({"name": "bob", "email": "not-an-email"}),
            "invalid_argument",
            "not an email address",
        ),
        (
            "admin_user_create",
            json!({"name": "dan", "email": "dan@example", "role": "ReadQuiltBucket"}),
            "invalid_argument",
            "not an email address",
        ),
        (
            "admin_user_create",
            json!({"name": "bad name", "email": "d@example.com", "role": "ReadQuiltBucket"}),
            "invalid_argument",
            "user name",
        ),
        (
            "admin_sso_config_set",
            json!({"config": "mappings: [unclosed"}),
            "invalid_argument",
            "not valid YAML",
        ),
        (
            "admin_sso_config_set",
            json!({"config": "- a list\n- not a mapping\n"}),
            "invalid_argument",
            "YAML mapping",
        ),
        (
            "admin_user_add_roles",
            json!({"name": "bob", "roles": []}),
            "invalid_argument",
            "1 to 64 roles",
        ),
        (
            "admin_user_add_roles",
            json!({"name": "bob", "roles": ["LegacyRole", "LegacyRole"]}),
            "invalid_argument",
            "twice",
        ),
        (
            "admin_user_get",
            json!({"name": "bob", "extra": 1}),
            "invalid_argument",
            "unknown field",
        ),
    ] {
        let (c, m) = err(&call_as(&server, &ann, tool, args.clone()).await);
        assert_eq!(c, code, "{tool} {args}: {m}");
        assert!(m.contains(needle), "{tool} {args}: {m}");
    }
    assert_eq!(sent().await, n, "a refused input reached the catalog");

    // Refused by the catalog: each arm of its answer is a specific error.
    for (tool, args, code, needle) in [
        (
            "admin_user_get",
            json!({"name": "nobody"}),
            "not_found",
            "no user \"nobody\"",
        ),
        (
            "admin_user_delete",
            json!({"name": "nobody"}),
            "not_found",
            "no user \"nobody\"",
        ),
        (
            "admin_user_set_active",
            json!({"name": "nobody", "active": false}),
            "not_found",
            "no user",
        ),
        (
            "admin_user_create",
            json!({"name": "dan", "email": "dan@example.com", "role": "NoSuchRole"}),
            "invalid_argument",
            "RoleDoesNotExist",
        ),
        (
            "admin_user_set_role",
            json!({"name": "bob", "role": "NoSuchRole"}),
            "invalid_argument",
            "RoleDoesNotExist",
        ),
        (
            "admin_user_create",
            json!({"name": "bob", "email": "b2@example.com", "role": "ReadQuiltBucket"}),
            "invalid_argument",
            "exists",
        ),
        (
            "admin_role_set_default",
            json!({"id_or_name": "NoSuchRole"}),
            "not_found",
            "no role",
        ),
        (
            "admin_role_get",
            json!({"id_or_name": "NoSuchRole"}),
            "not_found",
            "no role",
        ),
        (
            "admin_policy_get",
            json!({"id_or_title": "NoSuchPolicy"}),
            "not_found",
            "no policy",
        ),
        (
            "admin_user_set_admin",
            json!({"name": "ann", "admin": false}),
            "conflict",
            "LastAdmin",
        ),
        (
            "admin_user_remove_roles",
            json!({"name": "bob", "roles": ["ReadQuiltBucket"]}),
            "invalid_argument",
            "FallbackRequired",
        ),
    ] {
        let (c, m) = err(&call_as(&server, &ann, tool, args.clone()).await);
        assert_eq!(c, code, "{tool} {args}: {m}");
        assert!(m.contains(needle), "{tool} {args}: {m}");
    }
    // SSO sets the default role: the catalog's SsoConfigConflict arm.
    admin(
        &server,
        "admin_sso_config_set",
        json!({"config": "mappings: []\n"}),
    )
    .await;
    let (c, m) = err(&call_as(
        &server,
        &ann,
        "admin_role_set_default",
        json!({"id_or_name": "ReadWriteQuiltBucket"}),
    )
    .await);
    assert_eq!(c, "conflict", "{m}");
    assert!(m.contains("SsoConfigConflict"), "{m}");
    admin(&server, "admin_sso_config_remove", json!({})).await;
    assert_eq!(
        standin.admin_state().await,
        before,
        "a refused call changed the catalog"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_write_asks_a_client_with_elicitation_first() {
    let (standin, server) = setup().await;
    let ann = with_scopes("ann", ADMIN_SCOPES);
    let delete = json!([{"tool": "admin_user_delete", "arguments": {"name": "bob"}}]);

    let out = crate::confirm::python(&server.mcp(), &ann, "auto", "decline", delete.clone()).await;
    assert_eq!(out["protocol_version"], MODERN, "{out}");
    assert_eq!(
        out["questions"],
        json!(["Delete catalog user bob."]),
        "{out}"
    );
    assert_eq!(
        out["results"][0]["structuredContent"]["error"]["code"], "declined",
        "{out}"
    );
    assert!(
        standin.admin_state().await["users"].get("bob").is_some(),
        "a declined delete deleted"
    );

    let out = crate::confirm::python(&server.mcp(), &ann, "auto", "accept", delete).await;
    assert_eq!(out["results"][0]["isError"], false, "{out}");
    assert_eq!(out["questions"].as_array().map(Vec::len), Some(1), "{out}");
    assert!(
        standin.admin_state().await["users"].get("bob").is_none(),
        "an accepted delete did not delete"
    );

    // tabulator_table_delete asks too (any caller with quilt:write, not only admins).
    const TABLE: &str = "schema:\n  - name: a\n    type: STRING\nsource:\n  type: quilt-packages\n  package_name: \"^t/p$\"\n  logical_key: \"x\\\\.csv$\"\nparser:\n  format: csv\n";
    let alice = token("alice");
    ok(&call_as(
        &server,
        &alice,
        "tabulator_table_set",
        json!({"bucket": "adm-data", "table_name": "t1", "config": TABLE}),
    )
    .await);
    let tables = || async {
        let listed = call_as(
            &server,
            &alice,
            "tabulator_tables_list",
            json!({"bucket": "adm-data"}),
        )
        .await;
        ok(&listed)["tables"]
            .as_array()
            .map(Vec::len)
            .unwrap_or_default()
    };
    let drop_table = json!([{"tool": "tabulator_table_delete", "arguments": {"bucket": "adm-data", "table_name": "t1"}}]);
    let out =
        crate::confirm::python(&server.mcp(), &alice, "auto", "decline", drop_table.clone()).await;
    assert_eq!(
        out["questions"],
        json!(["Delete Tabulator table t1 of bucket adm-data."]),
        "{out}"
    );
    assert_eq!(
        out["results"][0]["structuredContent"]["error"]["code"], "declined",
        "{out}"
    );
    assert_eq!(tables().await, 1, "a declined table delete deleted");
    let out = crate::confirm::python(&server.mcp(), &alice, "auto", "accept", drop_table).await;
    assert_eq!(out["results"][0]["isError"], false, "{out}");
    assert_eq!(tables().await, 0, "an accepted table delete did not delete");
}

/// What the admin tools add to an admin's `tools/list` (figures for docs/PERFORMANCE.md with
/// `--no-capture`; the bound only catches a runaway description).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_bytes_of_the_admin_tools() {
    let (_standin, server) = setup().await;
    let list = |t: String| {
        let url = server.mcp();
        async move {
            let r = rpc(&url, Some(&t), LEGACY, "tools/list", json!({})).await;
            r.result()["tools"].as_array().expect("tools").clone()
        }
    };
    let admin = list(with_scopes("ann", ADMIN_SCOPES)).await;
    let user = list(with_scopes("bob", ADMIN_SCOPES)).await;
    let bytes = |v: &[Value]| serde_json::to_vec(v).expect("json").len();
    let added: Vec<Value> = admin
        .iter()
        .filter(|t| t["name"].as_str().is_some_and(|n| n.starts_with("admin_")))
        .cloned()
        .collect();
    println!(
        "admin tools: {} ({} bytes); tools/list for a non-admin {} bytes, for an admin {} bytes",
        added.len(),
        bytes(&added),
        bytes(&user),
        bytes(&admin)
    );
    assert_eq!(added.len(), 22);
    // An admin sees every product tool: each has a human title (tools/titles.rs), and no two
    // share one (the test tools of support.rs aside).
    let mut titles: Vec<&str> = Vec::new();
    for tool in &admin {
        let name = tool["name"].as_str().expect("name");
        if name.starts_with("test_") || name == "count_calls" {
            continue;
        }
        let title = tool["title"].as_str().unwrap_or_default();
        assert!(
            !title.is_empty() && title != name && !title.contains('_'),
            "{name} has no human title: {tool}"
        );
        titles.push(title);
    }
    let listed = titles.len();
    titles.sort_unstable();
    titles.dedup();
    assert_eq!(titles.len(), listed, "two tools share a title");
    assert!(bytes(&admin) > bytes(&user) + bytes(&added) / 2);
    assert!(bytes(&added) < 32 * 1024, "{}", bytes(&added));
}
