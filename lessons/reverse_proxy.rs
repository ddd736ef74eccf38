//! Lesson 10's reverse proxies: a real nginx started from
//! `10_behind_a_proxy.nginx.conf`, or, on a machine without nginx, the lesson's own small
//! proxy that does the same to the proxy headers.

use crate::common::OrExit;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The nginx configuration, a template with placeholders (see the file's header).
const NGINX_TEMPLATE: &str = include_str!("10_behind_a_proxy.nginx.conf");

/// The proxy in front of the backend: a real nginx, or the lesson's own.
pub enum Proxy {
    Nginx(Nginx),
    BuiltIn(MiniProxy),
}

impl Proxy {
    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        match self {
            Proxy::Nginx(nginx) => SocketAddr::from((Ipv4Addr::LOCALHOST, nginx.port)),
            Proxy::BuiltIn(mini) => mini.addr,
        }
    }

    /// Stops it.
    pub fn stop(&mut self) {
        match self {
            Proxy::Nginx(nginx) => nginx.stop(),
            Proxy::BuiltIn(mini) => mini.stop(),
        }
    }
}

/// `nginx` on the PATH, or Debian's `/usr/sbin/nginx` (often not on a user's PATH).
pub fn find_nginx() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("nginx"))
        .chain([PathBuf::from("/usr/sbin/nginx")])
        .find(|candidate| candidate.is_file())
}

/// A real nginx, in the foreground as our child, writing only inside its temporary directory.
pub struct Nginx {
    pub binary: PathBuf,
    child: Child,
    /// The free port of 127.0.0.1 it listens on.
    pub port: u16,
    /// Removed when dropped, after nginx has stopped.
    pub dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx on a free port; tries again (up to three times) if it does not come up,
    /// for the rare case where another program took the port between our check and nginx.
    pub fn start(binary: &Path, backend_port: u16) -> Result<Nginx, String> {
        Nginx::start_from(binary, NGINX_TEMPLATE, |config| {
            config.replace("@BACKEND_PORT@", &backend_port.to_string())
        })
    }

    /// [`Nginx::start`] from another configuration `template`: `@TEMP_DIR@` and `@LISTEN_PORT@`
    /// are filled in here, and `fill` fills in the template's own placeholders (lesson 12
    /// starts its `upstream` of several processes this way).
    pub fn start_from(
        binary: &Path,
        template: &str,
        fill: impl Fn(String) -> String,
    ) -> Result<Nginx, String> {
        let mut result = Nginx::try_start(binary, template, &fill);
        for _ in 0..2 {
            if result.is_ok() {
                break;
            }
            result = Nginx::try_start(binary, template, &fill);
        }
        result
    }

    fn try_start(binary: &Path, template: &str, fill: &dyn Fn(String) -> String) -> Result<Nginx, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
        // Run as root, nginx's workers drop to an unprivileged user, which must be able to
        // enter the directory to reach its temp paths.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        // A free port: bind port 0, note the port, release it for nginx.
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let temp = dir.path().display().to_string();
        let config = fill(template.replace("@TEMP_DIR@", &temp).replace("@LISTEN_PORT@", &port.to_string()));
        let config_path = dir.path().join("nginx.conf");
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        // nginx's early messages (before it reads error_log) go to stderr: keep them too.
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&config_path)
            .arg("-g")
            .arg(format!("daemon off; pid {temp}/nginx.pid;"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot run it: {e}"))?;
        let mut nginx = Nginx { binary: binary.to_path_buf(), child, port, dir };
        // Ready when it accepts connections; gone if it exited (a bad config, a taken port).
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                return Err(format!("it exited with {status}: {}", nginx.logs()));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(nginx);
            }
            if Instant::now() > deadline {
                nginx.stop();
                return Err(format!("not listening after 5 s: {}", nginx.logs()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What nginx said, for an error message.
    fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("stderr.log"), read("error.log")).trim().replace('\n', " | ")
    }

    /// SIGTERM (nginx's fast shutdown: the master stops its workers, then exits), then wait;
    /// SIGKILL if it has not exited within 5 s.
    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Nginx {
    /// Also on an error or a panic: no nginx outlives the lesson.
    fn drop(&mut self) {
        self.stop();
    }
}

/// The lesson's own reverse proxy, for machines without nginx: one request per connection,
/// one connection at a time, request bodies by Content-Length only. It does what section 3
/// needs nginx for: append the peer to X-Forwarded-For, set X-Forwarded-Proto, forward.
pub struct MiniProxy {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MiniProxy {
    pub fn start(backend: SocketAddr) -> MiniProxy {
        let listener = TcpListener::bind("127.0.0.1:0").or_exit("cannot bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let thread = std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(client) = client {
                    let _ = forward(client, backend);
                }
            }
        });
        MiniProxy { addr, stopping, thread: Some(thread) }
    }

    /// Sets the flag, then wakes the accept loop with a connection of its own.
    fn stop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One request: read the head, rewrite the proxy headers, send it and its body to the backend,
/// copy the response back until the backend closes.
fn forward(mut client: TcpStream, backend: SocketAddr) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(5)))?;
    let peer = client.peer_addr()?.ip();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n").filter(|line| !line.is_empty());
    let mut out = format!("{}\r\n", lines.next().unwrap_or_default());
    let (mut forwarded_for, mut body_length) = (Vec::new(), 0);
    for line in lines {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => {
                forwarded_for.push(value.trim().to_string());
                continue;
            }
            // Ours replace these: the scheme is what we saw, and we close after one request.
            "x-forwarded-proto" | "connection" => continue,
            "content-length" => body_length = value.trim().parse::<u64>().unwrap_or(0),
            _ => {}
        }
        out += &format!("{line}\r\n");
    }
    // nginx's $proxy_add_x_forwarded_for: whatever the client sent, then the address we saw.
    forwarded_for.push(peer.to_string());
    out += &format!(
        "X-Forwarded-For: {}\r\nX-Forwarded-Proto: http\r\nConnection: close\r\n\r\n",
        forwarded_for.join(", ")
    );
    let mut upstream = TcpStream::connect(backend)?;
    upstream.write_all(out.as_bytes())?;
    io::copy(&mut (&client).take(body_length), &mut upstream)?;
    io::copy(&mut upstream, &mut client)?;
    Ok(())
}
