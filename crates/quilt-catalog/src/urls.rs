//! The catalog's web URLs and `quilt+s3://` URIs, built exactly as the catalog builds them
//! (its `constants/routes.ts`, `utils/s3paths.ts` and `utils/PackageUri.ts`). Pure: no I/O.
//!
//! - bucket: `<catalog>/b/<bucket>/tree/`; prefix: `…/tree/<prefix>/`; object:
//!   `…/tree/<key>[?version=<id>]`, each key segment encoded like `encodeURIComponent`;
//! - package: `<catalog>/b/<bucket>/packages/<name>`; a revision or an entry:
//!   `…/packages/<name>/tree/<hash or latest>/<path>`;
//! - `quilt+s3://<bucket>#package=<name>[@<hash> | :<tag>][&path=<path>][&catalog=<host>]`,
//!   the path encoded like `encodeURIComponent` (so `/` is `%2F`).
//!
//! Hand-written (a few lines) because no crate implements the catalog's routes; the tests
//! in `quilt-mcp-server` open these URLs on the stand-in and resolve the URIs with quilt3.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What JavaScript's `encodeURIComponent` leaves alone: letters, digits and `-_.!~*'()`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// `encodeURIComponent(s)`.
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// The catalog's `s3paths.encode`: each `/`-separated segment through `encodeURIComponent`.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

/// A package revision in a URI or URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revision<'a> {
    /// The `latest` pointer (nothing in a URI).
    Latest,
    /// A top hash (`@<hash>`).
    Hash(&'a str),
    /// A named tag such as a revision timestamp (`:<tag>`).
    Tag(&'a str),
}

/// The catalog page of `bucket` (its root folder).
pub fn bucket_url(catalog: &str, bucket: &str) -> String {
    format!("{}/b/{bucket}/tree/", catalog.trim_end_matches('/'))
}

/// The catalog page of a folder (`prefix` is made to end with `/`).
pub fn prefix_url(catalog: &str, bucket: &str, prefix: &str) -> String {
    if prefix.is_empty() {
        return bucket_url(catalog, bucket);
    }
    let prefix = if prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    };
    format!(
        "{}/b/{bucket}/tree/{}",
        catalog.trim_end_matches('/'),
        encode_path(&prefix)
    )
}

/// The catalog page of an object (a version when given).
pub fn object_url(catalog: &str, bucket: &str, key: &str, version: Option<&str>) -> String {
    let mut url = format!(
        "{}/b/{bucket}/tree/{}",
        catalog.trim_end_matches('/'),
        encode_path(key)
    );
    if let Some(version) = version.filter(|v| !v.is_empty() && *v != "null") {
        url.push_str("?version=");
        url.push_str(&encode_component(version));
    }
    url
}

/// The catalog page of a package, a revision of it, or an entry (`path`) of a revision.
/// As the catalog does, the latest revision without a path is the package's own page.
pub fn package_url(
    catalog: &str,
    bucket: &str,
    name: &str,
    revision: Revision<'_>,
    path: Option<&str>,
) -> String {
    let catalog = catalog.trim_end_matches('/');
    let path = path.unwrap_or_default();
    let revision = match revision {
        Revision::Latest => "latest",
        Revision::Hash(h) | Revision::Tag(h) => h,
    };
    if path.is_empty() && revision == "latest" {
        return format!("{catalog}/b/{bucket}/packages/{name}");
    }
    format!(
        "{catalog}/b/{bucket}/packages/{name}/tree/{revision}/{}",
        encode_path(path)
    )
}

/// The `quilt+s3://` URI of a package, revision or entry; `catalog_host` adds
/// `&catalog=<host>` (the catalog's `window.location.host`).
pub fn quilt_uri(
    bucket: &str,
    name: &str,
    revision: Revision<'_>,
    path: Option<&str>,
    catalog_host: Option<&str>,
) -> String {
    let mut uri = format!("quilt+s3://{bucket}#package={name}");
    match revision {
        Revision::Latest => {}
        Revision::Hash(hash) => {
            uri.push('@');
            uri.push_str(hash);
        }
        Revision::Tag(tag) => {
            uri.push(':');
            uri.push_str(tag);
        }
    }
    if let Some(path) = path.filter(|p| !p.is_empty()) {
        uri.push_str("&path=");
        uri.push_str(&encode_component(path));
    }
    if let Some(host) = catalog_host.filter(|h| !h.is_empty()) {
        uri.push_str("&catalog=");
        uri.push_str(&encode_component(host));
    }
    uri
}

/// The host (and port) of a catalog URL, as `window.location.host` would give it.
pub fn host_of(catalog: &str) -> Option<&str> {
    let rest = catalog
        .strip_prefix("https://")
        .or_else(|| catalog.strip_prefix("http://"))?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalog's own examples (`PackageUri.spec.ts`).
    #[test]
    fn uris_match_the_catalogs_stringify() {
        assert_eq!(
            quilt_uri(
                "bucket-name",
                "quilt/test",
                Revision::Hash("abc1"),
                Some("sub/path"),
                Some("quilt-test")
            ),
            "quilt+s3://bucket-name#package=quilt/test@abc1&path=sub%2Fpath&catalog=quilt-test"
        );
        assert_eq!(
            quilt_uri(
                "bucket-name",
                "quilt/test",
                Revision::Tag("latest"),
                None,
                Some("quilt-test")
            ),
            "quilt+s3://bucket-name#package=quilt/test:latest&catalog=quilt-test"
        );
        assert_eq!(
            quilt_uri("b", "q/t", Revision::Latest, None, None),
            "quilt+s3://b#package=q/t"
        );
    }

    #[test]
    fn urls_follow_the_catalogs_routes() {
        let c = "https://cat.example.com/";
        assert_eq!(bucket_url(c, "b"), "https://cat.example.com/b/b/tree/");
        assert_eq!(
            prefix_url(c, "b", "a b"),
            "https://cat.example.com/b/b/tree/a%20b/"
        );
        assert_eq!(
            object_url(c, "b", "dir/ü #1.csv", Some("v1+")),
            "https://cat.example.com/b/b/tree/dir/%C3%BC%20%231.csv?version=v1%2B"
        );
        assert_eq!(
            package_url(c, "b", "u/p", Revision::Latest, None),
            "https://cat.example.com/b/b/packages/u/p"
        );
        assert_eq!(
            package_url(c, "b", "u/p", Revision::Hash("abc"), Some("d/e f.txt")),
            "https://cat.example.com/b/b/packages/u/p/tree/abc/d/e%20f.txt"
        );
        assert_eq!(
            package_url(c, "b", "u/p", Revision::Latest, Some("x")),
            "https://cat.example.com/b/b/packages/u/p/tree/latest/x"
        );
        assert_eq!(host_of("http://127.0.0.1:9/x"), Some("127.0.0.1:9"));
    }
}
