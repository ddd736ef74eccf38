//! The `files` app: the static file server of `python -m http.server`, plus the cache headers a
//! browser revalidates with, and nothing outside its root.

use crate::app::{App, Body, StartResponse};
use crate::environ::Environ;
use crate::util::{request_uri, to_utf8};
use httpdate::HttpDate;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::fs::{File, Metadata};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Serves the files under `root`, as `python -m http.server` does:
///
/// - `Content-Type` by extension; `text/*` types say `charset=utf-8` (text under the root is
///   taken to be UTF-8: without a charset a browser guesses, often windows-1252, and `é` shows
///   as `Ã©`).
/// - A directory serves its `index.html`, or else a listing of its entries as links (as Python
///   does: this is a server for a lab, where seeing what is there is the point; everything
///   under the root is public, dot files too). `/dir` is first redirected to `/dir/`, so that
///   relative links in the page resolve inside the directory.
/// - The path is normalised as a URL (`/sub/../notes.txt` is `/notes.txt`), then checked: a
///   `..` that would climb above the root is a 403, and so is a symbolic link that leads
///   outside. Missing files are 404.
/// - `ETag` and `Last-Modified`, from the file's size and modification time, and
///   `Cache-Control: no-cache`, so a browser keeps the file but asks each time; an unchanged
///   file costs a `304 Not Modified` with no body.
/// - `GET` and `HEAD` only (405 for anything else): the server sends `HEAD` the headers `GET`
///   gets, and never reads the file.
///
/// ```
/// use wsgi_lab::{apps::Files, testing};
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.txt"), "hi").unwrap();
/// let app = Files::new(dir.path()).unwrap();
/// let ok = testing::get(&app, "/a.txt");
/// assert_eq!(
///     (ok.status_code(), ok.header("content-type"), ok.text().as_str()),
///     (200, Some("text/plain; charset=utf-8"), "hi")
/// );
/// assert_eq!(testing::get(&app, "/sub/../a.txt").text(), "hi");
/// assert_eq!(testing::get(&app, "/missing").status_code(), 404);
/// assert_eq!(testing::get(&app, "/%2e%2e/etc/passwd").status_code(), 403);
/// ```
pub struct Files {
    /// The root, canonical (symbolic links resolved), so prefixes can be compared.
    root: PathBuf,
}

/// A refusal: the status and a one-line reason for the body.
type Refusal = (&'static str, String);

impl Files {
    /// Serves `root`, which must be a directory.
    pub fn new(root: impl AsRef<Path>) -> std::io::Result<Self> {
        let root = root.as_ref().canonicalize()?;
        if !root.is_dir() {
            return Err(std::io::Error::other(format!("{} is not a directory", root.display())));
        }
        Ok(Files { root })
    }

    /// What `files` serves, in a line for the command line to print under the server's startup
    /// line. Without `--root` it serves the current directory, and says so by name, because a
    /// `.` in a terminal tells the reader nothing.
    ///
    /// ```
    /// use wsgi_lab::apps::Files;
    /// let dir = tempfile::tempdir().unwrap();
    /// let real = dir.path().canonicalize().unwrap();
    /// assert_eq!(Files::serving(Some(dir.path())), format!("Files from {}", real.display()));
    /// assert!(Files::serving(None).starts_with("Files from the current directory, /"));
    /// ```
    pub fn serving(root: Option<&Path>) -> String {
        let given = root.unwrap_or(Path::new("."));
        let shown = given.canonicalize().unwrap_or_else(|_| given.to_path_buf());
        match root {
            Some(_) => format!("Files from {}", shown.display()),
            None => format!("Files from the current directory, {} (--root DIR for another)", shown.display()),
        }
    }

    /// The real path a decoded URL path names, or the refusal. The path is normalised first,
    /// as a URL (RFC 3986's dot segments), so a `..` that stays inside is harmless and one that
    /// would climb above the root is refused; then, with links resolved, it must still be
    /// under the root.
    fn resolve(&self, path: &str) -> Result<PathBuf, Refusal> {
        let mut candidate = self.root.clone();
        for segment in path.split('/') {
            match segment {
                "" | "." => {}
                // Never above the root: `pop` would happily climb out of it.
                ".." if candidate == self.root => {
                    return Err(("403 Forbidden", format!("{path} climbs out of the served directory")));
                }
                ".." => _ = candidate.pop(),
                s if s.contains(['\0', '\\']) => {
                    return Err(("403 Forbidden", format!("{path} is not a plain path")));
                }
                s => candidate.push(s),
            }
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
        let method = environ.get("REQUEST_METHOD").unwrap_or("GET");
        if method != "GET" && method != "HEAD" {
            start_response("405 Method Not Allowed", vec![("Allow", "GET, HEAD"), ("Content-Type", TEXT)]);
            return Body::from(format!("{method} is not allowed: files are only read (GET, HEAD)\n"));
        }
        let path = to_utf8(environ.get("PATH_INFO").unwrap_or(""));
        let real = match self.resolve(&path) {
            Ok(real) => real,
            Err(refusal) => return refuse(start_response, refusal),
        };
        if !real.is_dir() {
            return send_file(environ, start_response, &real);
        }
        if !path.ends_with('/') {
            // In a page at `/css`, the link `site.css` means `/site.css`: send the browser to
            // `/css/` first (as Python's server does).
            let mut location = request_uri(environ, false) + "/";
            if let Some(query) = environ.get("QUERY_STRING").filter(|q| !q.is_empty()) {
                location = format!("{location}?{query}");
            }
            start_response("301 Moved Permanently", vec![("Location", &location), ("Content-Type", TEXT)]);
            return Body::from(format!("{location}\n"));
        }
        match self.resolve(&format!("{path}index.html")) {
            Ok(index) if index.is_file() => send_file(environ, start_response, &index),
            Err(refusal @ ("403 Forbidden", _)) => refuse(start_response, refusal),
            _ => {
                let shown = to_utf8(environ.get("SCRIPT_NAME").unwrap_or("")) + &path;
                listing(start_response, &real, &shown)
            }
        }
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

fn refuse(start_response: StartResponse, (status, message): Refusal) -> Body {
    start_response(status, vec![("Content-Type", TEXT)]);
    Body::from(format!("{message}\n"))
}

/// A file, or a 304 when the client's copy is still current.
fn send_file(environ: &Environ, start_response: StartResponse, path: &Path) -> Body {
    let (meta, mut file) = match File::open(path).and_then(|file| Ok((file.metadata()?, file))) {
        Ok(opened) => opened,
        // The OS's reason, never the path on disk: where the root is is the operator's business.
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            return refuse(start_response, ("403 Forbidden", format!("cannot read the file: {e}")));
        }
        Err(e) => return refuse(start_response, ("404 Not Found", format!("cannot open the file: {e}"))),
    };
    // no-cache is "store it, but ask me each time": a student who edits a file sees the edit on
    // the next reload, and an unchanged file costs a 304. Without it a browser guesses how long
    // the file stays fresh, and shows an old copy without asking.
    let mut headers = vec![("Cache-Control", "no-cache")];
    let validators = Validators::of(&meta);
    let stamps = validators.as_ref().map(Validators::headers);
    headers.extend(stamps.iter().flatten().map(|(name, value)| (*name, value.as_str())));
    if validators.is_some_and(|v| v.still_current(environ)) {
        // No body and no Content-Type: 304 is one of the bodyless statuses, which the server
        // frames by one rule (`status_has_body`) and the validator checks by the same.
        start_response("304 Not Modified", headers);
        return Body::empty();
    }
    let (mime, length) = (content_type(path), meta.len().to_string());
    headers.extend([("Content-Type", mime.as_str()), ("Content-Length", length.as_str())]);
    start_response("200 OK", headers);
    // One 64 KiB chunk at a time: memory stays constant whatever the file's size. That size
    // is the operator's choice (what is under the root), never the client's; the client only
    // names a path, bounded by the server's request head limit. For `HEAD` the server never
    // asks for a chunk, so the file is not read.
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

/// The type by extension; text types with `charset=utf-8` (see [`Files`]).
fn content_type(path: &Path) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    if mime.type_() == mime_guess::mime::TEXT {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.essence_str().to_string()
    }
}

/// What a client may send back to ask "has it changed?", made from the file's size and
/// modification time, as nginx and Apache make theirs.
struct Validators {
    /// Weak (`W/"…"`): equal size and time do not prove equal bytes (a file rewritten at the
    /// same size within one tick of the clock keeps both), and RFC 9110 §8.8.1 keeps strong
    /// tags for byte-for-byte identity. `If-None-Match` compares weakly anyway, so browsers
    /// get their 304s; only byte ranges need a strong tag, and this app serves none.
    etag: String,
    modified: HttpDate,
}

impl Validators {
    /// None when the file system keeps no time, or a time `HttpDate` cannot hold (before 1970
    /// or after 9999; `touch -d` can set either): httpdate would panic on it.
    fn of(meta: &Metadata) -> Option<Self> {
        let modified = meta.modified().ok()?;
        let age = modified.duration_since(UNIX_EPOCH).ok().filter(|age| age.as_secs() < 253_402_300_800)?;
        let etag = format!("W/\"{:x}-{:x}\"", meta.len(), age.as_nanos());
        Some(Validators { etag, modified: HttpDate::from(modified) })
    }

    fn headers(&self) -> [(&'static str, String); 2] {
        [("ETag", self.etag.clone()), ("Last-Modified", self.modified.to_string())]
    }

    /// RFC 9110 §13.2.2's order: `If-None-Match` when sent (`If-Modified-Since` is then
    /// ignored), else `If-Modified-Since`.
    fn still_current(&self, environ: &Environ) -> bool {
        if let Some(tags) = environ.get("HTTP_IF_NONE_MATCH") {
            // The weak comparison (§8.8.3.2): `W/` does not count, the quoted tag must match.
            let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
            return tags.split(',').any(|tag| tag.trim() == "*" || opaque(tag) == opaque(&self.etag));
        }
        // Compared as HTTP dates, whole seconds: the file's time has nanoseconds, the date the
        // client echoes has none, and the file would look modified forever.
        let since = environ.get("HTTP_IF_MODIFIED_SINCE").and_then(|date| date.parse::<HttpDate>().ok());
        since.is_some_and(|since| self.modified <= since)
    }
}

/// What a file name may keep in a link; everything else is percent-encoded, so that a `#` or
/// `?` in a name is not read as a fragment or a query.
const NAME_SAFE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A directory without `index.html`: its entries, sorted, as links relative to the directory
/// (directories end in `/`).
fn listing(start_response: StartResponse, dir: &Path, shown: &str) -> Body {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return refuse(start_response, ("403 Forbidden", format!("{shown} cannot be listed: {e}"))),
    };
    let mut names: Vec<(String, bool)> = entries
        .filter_map(Result::ok)
        .map(|entry| (entry.file_name().to_string_lossy().into_owned(), entry.path().is_dir()))
        .collect();
    names.sort();
    let title = escape(&format!("Index of {shown}"));
    let mut page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body><h1>{title}</h1>\n<ul>\n"
    );
    for (name, is_dir) in names {
        let slash = if is_dir { "/" } else { "" };
        let href = utf8_percent_encode(&name, NAME_SAFE);
        page += &format!("<li><a href=\"{href}{slash}\">{}{slash}</a></li>\n", escape(&name));
    }
    page += "</ul></body></html>\n";
    start_response("200 OK", vec![("Content-Type", "text/html; charset=utf-8")]);
    Body::from(page)
}

/// Text for HTML: a file may be named `<script>`.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
