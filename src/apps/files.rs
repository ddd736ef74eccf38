//! The `files` app: static files under a root directory, and nothing outside it.

use crate::util::to_utf8;
use crate::{App, Body, Environ, StartResponse};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Serves the files under `root`: `Content-Type` by extension, `index.html` for a directory,
/// 404 for what is not there, 403 for any way out of the root (`..`, also percent-encoded,
/// and symbolic links that lead outside).
///
/// ```
/// use wsgi_lab::{apps::Files, testing};
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.txt"), "hi").unwrap();
/// let app = Files::new(dir.path()).unwrap();
/// let ok = testing::get(&app, "/a.txt");
/// assert_eq!((ok.status_code(), ok.header("content-type"), ok.text().as_str()), (200, Some("text/plain"), "hi"));
/// assert_eq!(testing::get(&app, "/missing").status_code(), 404);
/// assert_eq!(testing::get(&app, "/%2e%2e/etc/passwd").status_code(), 403);
/// ```
pub struct Files {
    /// The root, canonical (symbolic links resolved), so prefixes can be compared.
    root: PathBuf,
}

impl Files {
    /// Serves `root`, which must be a directory.
    pub fn new(root: impl AsRef<Path>) -> std::io::Result<Self> {
        let root = root.as_ref().canonicalize()?;
        if !root.is_dir() {
            return Err(std::io::Error::other(format!("{} is not a directory", root.display())));
        }
        Ok(Files { root })
    }

    /// The file a decoded URL path names, or the status that refuses it.
    fn resolve(&self, path_info: &str) -> Result<PathBuf, (&'static str, String)> {
        let path = to_utf8(path_info);
        let mut candidate = self.root.clone();
        for segment in path.split('/') {
            match segment {
                "" | "." => {}
                ".." => return Err(("403 Forbidden", format!("{path} climbs out of the served directory"))),
                s if s.contains('\0') || s.contains('\\') => {
                    return Err(("403 Forbidden", format!("{path} is not a plain path")));
                }
                s => candidate.push(s),
            }
        }
        if candidate.is_dir() {
            candidate.push("index.html");
        }
        // The real location, links resolved: a link inside the root may point outside it.
        let real = candidate.canonicalize().map_err(|_| ("404 Not Found", format!("{path} not found")))?;
        if !real.starts_with(&self.root) {
            return Err(("403 Forbidden", format!("{path} leads outside the served directory")));
        }
        Ok(real)
    }
}

impl App for Files {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let opened = self.resolve(environ.get("PATH_INFO").unwrap_or("/")).and_then(|path| {
            File::open(&path).map(|f| (path, f)).map_err(|e| ("404 Not Found", e.to_string()))
        });
        let (path, mut file) = match opened {
            Ok(found) => found,
            Err((status, message)) => {
                start_response(status, vec![("Content-Type", "text/plain; charset=utf-8")]);
                return Body::from(format!("{message}\n"));
            }
        };
        let length = file.metadata().map(|m| m.len()).unwrap_or(0).to_string();
        let mime = mime_guess::from_path(&path).first_or_octet_stream();
        start_response("200 OK", vec![("Content-Type", mime.essence_str()), ("Content-Length", &length)]);
        // One 64 KiB chunk at a time: memory stays constant whatever the file's size. That size
        // is the operator's choice (what is under the root), never the client's; the client only
        // names a path, bounded by the server's request head limit.
        Body::stream(std::iter::from_fn(move || {
            let mut chunk = vec![0u8; 64 * 1024];
            match file.read(&mut chunk) {
                Ok(n) if n > 0 => {
                    chunk.truncate(n);
                    Some(chunk)
                }
                _ => None,
            }
        }))
    }
}
