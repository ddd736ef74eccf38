//! `environ`: the CGI-style description of one request (SPEC §2, PEP 3333).
//!
//! It is built in two layers, as in wsgiref: the server builds the keys that never change
//! ([`ServerEnviron`], once), and each request adds its own ([`Environ::from_request`]).

pub use crate::http::{decode_path, split_target};

use crate::http::{Head, RequestBody};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::ops::Index;
use std::rc::Rc;

/// The methods RFC 9110 defines, plus `PATCH`: the environ borrows these rather than copy them.
const METHODS: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

/// `SERVER_SOFTWARE`, also sent as the `Server` header.
pub const SERVER_SOFTWARE: &str = concat!("wsgi-lab/", env!("CARGO_PKG_VERSION"));

/// The request as the app sees it: string keys (`REQUEST_METHOD`, `PATH_INFO`, `HTTP_HOST`, …
/// and `wsgi.url_scheme`) plus the typed `wsgi.*` entries as methods.
///
/// ```
/// use wsgi_lab::Environ;
/// use std::io::Read;
///
/// let mut environ = Environ::new();
/// environ.set("PATH_INFO", "/hello");
/// environ.set_input(b"name=Ada".to_vec());
/// assert_eq!(&environ["PATH_INFO"], "/hello");
/// assert_eq!(environ.get("QUERY_STRING"), None);
/// let mut body = String::new();
/// environ.input().read_to_string(&mut body).unwrap();
/// assert_eq!(body, "name=Ada");
/// ```
#[derive(Clone)]
pub struct Environ {
    vars: Vars,
    input: Input,
    multithread: bool,
}

impl Environ {
    /// An environ with no keys and an empty `wsgi.input`; see also
    /// [`crate::util::setup_testing_defaults`].
    pub fn new() -> Self {
        Environ { vars: Vars::default(), input: Input::new(Box::new(io::empty())), multithread: false }
    }

    /// The value of a string key, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key)
    }

    /// Sets a string key (middleware rewrites `SCRIPT_NAME` and `PATH_INFO` this way).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(Cow::Owned(key.into()), Cow::Owned(value.into()));
    }

    /// Removes a string key and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.vars.remove(key).map(Cow::into_owned)
    }

    /// Keeps only the string keys `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.vars.0.retain(|(key, _)| keep(key));
    }

    /// The string keys and values, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut all: Vec<(&str, &str)> = self.vars.0.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
        all.sort_unstable();
        all.into_iter()
    }

    /// `wsgi.input`: the request body, already fully received. Reads end at the end of the body.
    /// Clones share one read position, as Python's file object would.
    pub fn input(&self) -> Input {
        self.input.clone()
    }

    /// Replaces `wsgi.input` with the given bytes, and sets `CONTENT_LENGTH` to match.
    pub fn set_input(&mut self, body: Vec<u8>) {
        self.set("CONTENT_LENGTH", body.len().to_string());
        self.input = Input::new(Box::new(io::Cursor::new(body)));
    }

    /// `wsgi.errors`: where the app's error output goes, the server's log (stderr).
    pub fn errors(&self) -> io::Stderr {
        io::stderr()
    }

    /// `wsgi.version`: `(1, 0)`, the WSGI version PEP 3333 describes (it requires the key, and
    /// wsgiref and waitress both set it to this tuple).
    ///
    /// ```
    /// assert_eq!(wsgi_lab::Environ::new().version(), (1, 0));
    /// ```
    pub fn version(&self) -> (u8, u8) {
        (1, 0)
    }

    /// `wsgi.multithread`: true in pool mode, where other requests run at the same time.
    pub fn multithread(&self) -> bool {
        self.multithread
    }

    /// `wsgi.multiprocess`: always false; wsgi-lab serves from one process.
    pub fn multiprocess(&self) -> bool {
        false
    }

    /// `wsgi.run_once`: always false; the app is called for many requests.
    pub fn run_once(&self) -> bool {
        false
    }

    /// Every entry as text, the typed `wsgi.*` ones included, sorted by key: what `demo_app`
    /// prints.
    pub fn describe(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> =
            self.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        all.push(("wsgi.errors".into(), "<stderr>".into()));
        all.push(("wsgi.input".into(), "<request body>".into()));
        all.push(("wsgi.multiprocess".into(), self.multiprocess().to_string()));
        all.push(("wsgi.multithread".into(), self.multithread.to_string()));
        all.push(("wsgi.run_once".into(), self.run_once().to_string()));
        let (major, minor) = self.version();
        all.push(("wsgi.version".into(), format!("({major}, {minor})")));
        all.sort();
        all
    }

    /// The environ of one request: the server's keys, then the request's (SPEC §2).
    /// `script_name` and `path_info` come from mounting ([`crate::mount`]).
    pub fn from_request(
        server: &ServerEnviron,
        head: &Head,
        body: RequestBody,
        peer: SocketAddr,
        (script_name, path_info): (&str, &str),
    ) -> io::Result<Environ> {
        let mut vars = Vars(Vec::with_capacity(server.vars.0.len() + 8 + head.headers.len()));
        vars.0.extend_from_slice(&server.vars.0);
        let (_, query) = split_target(&head.target);
        let body_len = body.len();
        // Keys no server key and no header can be: added without looking for them first.
        let protocol = if head.minor == 0 { "HTTP/1.0" } else { "HTTP/1.1" };
        let method = match METHODS.iter().find(|&&m| m == head.method) {
            Some(&method) => Cow::Borrowed(method),
            None => Cow::Owned(head.method.clone()),
        };
        let request: [(&'static str, Cow<'static, str>); 8] = [
            ("REQUEST_METHOD", method),
            ("REQUEST_URI", Cow::Owned(head.target.clone())),
            ("SCRIPT_NAME", Cow::Owned(script_name.into())),
            ("PATH_INFO", Cow::Owned(path_info.into())),
            ("QUERY_STRING", Cow::Owned(query.into())),
            ("SERVER_PROTOCOL", Cow::Borrowed(protocol)),
            ("REMOTE_ADDR", Cow::Owned(ip_text(peer.ip()))),
            ("REMOTE_PORT", Cow::Owned(itoa::Buffer::new().format(peer.port()).to_string())),
        ];
        vars.0.extend(request.map(|(key, value)| (Cow::Borrowed(key), value)));
        for (name, value) in &head.headers {
            // `X_Forwarded_For` would become the same key as `X-Forwarded-For`: a spoofing door.
            if name.contains('_') {
                continue;
            }
            let key = cgi_key(name);
            match vars.get_mut(&key) {
                Some(v) => *v = Cow::Owned(format!("{v}, {value}")),
                None => vars.insert(key, Cow::Owned(value.clone())),
            }
        }
        if head.header("transfer-encoding").is_some() {
            vars.insert("CONTENT_LENGTH".into(), Cow::Owned(body_len.to_string()));
        }
        let input = Input::new(body.into_reader()?);
        Ok(Environ { vars, input, multithread: server.multithread })
    }
}

impl Default for Environ {
    fn default() -> Self {
        Self::new()
    }
}

impl Index<&str> for Environ {
    type Output = str;

    /// `environ["KEY"]`, which panics on a missing key as Python's `KeyError` would stop the app.
    fn index(&self, key: &str) -> &str {
        match self.vars.get(key) {
            Some(value) => value,
            None => panic!("environ has no key {key:?}; use environ.get({key:?}) when it may be absent"),
        }
    }
}

impl fmt::Debug for Environ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.describe()).finish()
    }
}

/// `wsgi.input`: a reader over the request body. Cloning shares the position.
#[derive(Clone)]
pub struct Input(Rc<RefCell<Box<dyn Read>>>);

impl Input {
    fn new(reader: Box<dyn Read>) -> Self {
        Input(Rc::new(RefCell::new(reader)))
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

/// The keys every request of one server shares (wsgiref's `setup_environ`): built once.
#[derive(Debug, Clone)]
pub struct ServerEnviron {
    vars: Vars,
    multithread: bool,
}

impl ServerEnviron {
    /// The server-level keys for a server bound to `addr`.
    pub fn new(addr: SocketAddr, multithread: bool) -> Self {
        let mut vars = Vars::default();
        vars.insert("SERVER_NAME".into(), Cow::Owned(addr.ip().to_string()));
        vars.insert("SERVER_PORT".into(), Cow::Owned(addr.port().to_string()));
        vars.insert("SERVER_SOFTWARE".into(), SERVER_SOFTWARE.into());
        vars.insert("GATEWAY_INTERFACE".into(), "CGI/1.1".into());
        vars.insert("wsgi.url_scheme".into(), "http".into());
        ServerEnviron { vars, multithread }
    }
}

/// An address as text. An IPv4 address is written octet by octet: `format!` and `Display`
/// (which support padding) cost more than the rest of the environ together.
fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut text = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                text.push_str(if i == 0 { "" } else { "." });
                text.push_str(itoa::Buffer::new().format(octet));
            }
            text
        }
        IpAddr::V6(v6) => v6.to_string(),
    }
}

/// `Content-Type` → `CONTENT_TYPE`, `X-Token` → `HTTP_X_TOKEN` (CGI's rule, PEP 3333).
fn cgi_key(name: &str) -> Cow<'static, str> {
    let content = name.eq_ignore_ascii_case("content-type") || name.eq_ignore_ascii_case("content-length");
    let mut key = String::with_capacity(5 + name.len());
    key.push_str(if content { "" } else { "HTTP_" });
    key.extend(name.bytes().map(|b| if b == b'-' { '_' } else { b.to_ascii_uppercase() as char }));
    Cow::Owned(key)
}

/// The string keys of an environ. A vector searched from the front rather than a map: an
/// environ holds about twenty keys and is built for every request, and one allocation for all
/// of them costs less than a tree's nodes (or a hash of every key). Keys and values known when
/// the program is built are `&'static str`s, not copies. [`Environ::iter`] sorts.
#[derive(Debug, Clone, Default)]
struct Vars(Vec<(Cow<'static, str>, Cow<'static, str>)>);

impl Vars {
    fn find(&self, key: &str) -> Option<usize> {
        self.0.iter().position(|(k, _)| k == key)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.find(key).map(|i| self.0[i].1.as_ref())
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Cow<'static, str>> {
        self.find(key).map(|i| &mut self.0[i].1)
    }

    fn insert(&mut self, key: Cow<'static, str>, value: Cow<'static, str>) {
        match self.find(&key) {
            Some(i) => self.0[i].1 = value,
            None => self.0.push((key, value)),
        }
    }

    fn remove(&mut self, key: &str) -> Option<Cow<'static, str>> {
        self.find(key).map(|i| self.0.swap_remove(i).1)
    }
}
