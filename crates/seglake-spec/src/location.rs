use std::fmt;
use std::path::{Path, PathBuf};

use url::Url;

/// Where a source or output lives: a local folder, or an object store URL.
///
/// Local paths are made absolute when the spec is validated, so a job runs
/// the same whatever the working directory of the process that runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    Url(Url),
}

/// URL schemes this build can read and write. Others are refused when the
/// spec is validated rather than failing half way through a run.
pub const SUPPORTED_SCHEMES: &[&str] = &["file", "s3"];

/// Why URLs that carry credentials are refused: the message never repeats
/// the URL, which holds the secret.
const CREDENTIALS_IN_URL: &str = "the URL carries credentials (user:password@ or a query \
string); credentials never go in a job file: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
(or AWS_PROFILE) in the environment";

impl Location {
    /// Parses `text` as a URL when it has a scheme, and otherwise as a path
    /// relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        if let Some((scheme, rest)) = text.split_once("://") {
            // Checked before parsing, so that not even a parse error can
            // echo a secret.
            let authority = rest.split('/').next().unwrap_or_default();
            if authority.contains('@') || text.contains('?') {
                return Err(CREDENTIALS_IN_URL.to_string());
            }
            // Checked on the text: parsing would resolve them silently.
            if scheme != "file" && rest.split('/').any(|s| s == ".." || s == ".") {
                return Err(format!(
                    "`{text}` has a `.` or `..` segment; object store paths are taken literally, \
                     so write the prefix without them"
                ));
            }
            let url = Url::parse(text).map_err(|e| format!("`{text}` is not a valid URL: {e}"))?;
            if !SUPPORTED_SCHEMES.contains(&scheme) {
                return Err(format!(
                    "scheme `{scheme}` in `{text}` is not supported; supported: {}, or a local path",
                    SUPPORTED_SCHEMES.join(", ")
                ));
            }
            if scheme == "file" {
                let path = url
                    .to_file_path()
                    .map_err(|_| format!("`{text}` is not a valid file URL"))?;
                return Ok(Location::Local(normalise(&path)));
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!(
                    "`{text}` names no bucket (expected {scheme}://BUCKET/PREFIX)"
                ));
            }
            return Ok(Location::Url(url));
        }
        if text.is_empty() {
            return Err("the location is empty".to_string());
        }
        let path = Path::new(text);
        let abs = if path.is_absolute() {
            path.to_path_buf()
        } else {
            base.join(path)
        };
        Ok(Location::Local(normalise(&abs)))
    }

    /// The location as a URL (`file:///...` for local folders).
    pub fn to_url(&self) -> Url {
        match self {
            Location::Local(p) => Url::from_directory_path(p).expect("validated absolute path"),
            Location::Url(u) => u.clone(),
        }
    }

    /// A child location, e.g. a table under the output root.
    pub fn join(&self, name: &str) -> Location {
        match self {
            Location::Local(p) => Location::Local(p.join(name)),
            Location::Url(u) => {
                let mut u = u.clone();
                let path = format!("{}/{}", u.path().trim_end_matches('/'), name);
                u.set_path(&path);
                Location::Url(u)
            }
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Url(u) => write!(f, "{u}"),
        }
    }
}

/// Removes `.` and `..` components without touching the file system (the
/// folder may not exist yet: an output root is created by the first run).
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_against_the_base() {
        let loc = Location::parse("../lake/raw", Path::new("/repo/jobs")).unwrap();
        assert_eq!(loc, Location::Local(PathBuf::from("/repo/lake/raw")));
    }

    #[test]
    fn unsupported_scheme_lists_the_supported_ones() {
        let err = Location::parse("gopher://x/y", Path::new("/")).unwrap_err();
        assert!(
            err.contains("gopher") && err.contains("file") && err.contains("s3"),
            "{err}"
        );
    }

    #[test]
    fn s3_urls_are_kept_as_urls() {
        let loc = Location::parse("s3://bank-lake/prod/raw/tx", Path::new("/")).unwrap();
        assert_eq!(loc.to_string(), "s3://bank-lake/prod/raw/tx");
        assert_eq!(
            loc.join("segments").to_string(),
            "s3://bank-lake/prod/raw/tx/segments"
        );
    }

    #[test]
    fn urls_with_credentials_are_refused_without_repeating_them() {
        for url in [
            "s3://AKIAEXAMPLE:hunter2secret@bank-lake/raw",
            "s3://bank-lake/raw?X-Amz-Signature=hunter2secret",
        ] {
            let err = Location::parse(url, Path::new("/")).unwrap_err();
            assert!(err.contains("credentials"), "{err}");
            assert!(!err.contains("hunter2secret"), "{err}");
        }
    }

    #[test]
    fn dot_dot_in_an_object_store_path_is_refused() {
        let err = Location::parse("s3://bank-lake/lake/../other", Path::new("/")).unwrap_err();
        assert!(err.contains(".."), "{err}");
        assert!(Location::parse("s3:///lake", Path::new("/")).is_err());
    }

    #[test]
    fn file_urls_become_local_paths() {
        let loc = Location::parse("file:///data/x", Path::new("/")).unwrap();
        assert_eq!(loc, Location::Local(PathBuf::from("/data/x")));
    }
}
