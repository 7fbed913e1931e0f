//! The Quilt catalog stand-in for the catalog tools' tests: `tests/catalog/standin.py`
//! (graphql-core serving the catalog's real schema, resolvers answering from moto) started
//! on a free loopback port and killed when dropped. It sits beside `moto.rs::Catalog`, the
//! smaller stand-in of the registry's credential exchange; this one is the catalog's web
//! side (`config.json`, `/graphql`, the web routes) and records every request it receives.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running stand-in.
pub struct CatalogStandIn {
    pub url: String,
    child: Child,
    dir: PathBuf,
}

/// The Tabulator data catalog the stand-in's `config.json` names.
pub const TABULATOR_CATALOG: &str = "quilt-standin-tabulator";

impl CatalogStandIn {
    /// Starts a stand-in on moto at `moto_url` that accepts HS256 tokens signed with
    /// `secret`; `buckets` (bucket configs: name, title, description, tags, relevanceScore)
    /// are the buckets it knows (empty: every bucket in moto).
    pub fn start(moto_url: &str, secret: &str, buckets: &Value) -> Self {
        let python = root().join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run `make venv`",
            python.display()
        );
        let dir = std::env::temp_dir().join(format!("catalog-standin-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let buckets_file = dir.join("buckets.json");
        std::fs::write(&buckets_file, buckets.to_string()).expect("buckets file");
        let mut child = Command::new(python)
            .arg(root().join("tests/catalog/standin.py"))
            .args(["--moto-url", moto_url, "--secret", secret])
            .args(["--tabulator-catalog", TABULATOR_CATALOG])
            .arg("--buckets-file")
            .arg(&buckets_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the catalog stand-in");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the stand-in's port");
        let port = serde_json::from_str::<Value>(&line).expect("port line")["port"]
            .as_u64()
            .expect("port");
        Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
            dir,
        }
    }

    /// Every request the stand-in received, in order.
    pub async fn records(&self) -> Vec<Value> {
        let r = reqwest::get(format!("{}/__record", self.url))
            .await
            .expect("records");
        r.json::<Vec<Value>>().await.expect("records json")
    }

    /// The GraphQL requests it received (operation, token, accepted).
    pub async fn graphql(&self) -> Vec<Value> {
        self.records()
            .await
            .into_iter()
            .filter(|r| r["path"] == "/graphql")
            .collect()
    }

    /// The administration state it holds (users, roles, policies, default role, SSO
    /// configuration, open query, password resets done).
    pub async fn admin_state(&self) -> Value {
        let r = reqwest::get(format!("{}/__admin", self.url))
            .await
            .expect("admin state");
        r.json::<Value>().await.expect("admin state json")
    }

    /// Sets fault modes: `delay_s`, `html`, `graphql_error`, `ignore_buckets`.
    pub async fn control(&self, modes: Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/__control", self.url))
            .json(&modes)
            .send()
            .await
            .expect("control");
        assert!(r.status().is_success());
    }

    /// GETs a catalog web URL on the stand-in: (status, what the page shows).
    pub async fn open(&self, url: &str) -> (u16, Value) {
        assert!(url.starts_with(&self.url), "{url} is not on the stand-in");
        let r = reqwest::get(url).await.expect("open");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for CatalogStandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
