//! A real nginx (Debian's package) started per test on a free loopback port: it terminates
//! TLS with `ssl_verify_client optional` against the test PKI's CAs and forwards the card
//! certificate to Trousseau in a header (`$ssl_client_escaped_cert`), as a hospital's reverse
//! proxy does (docs/cps.md).

use crate::helpers::skip::skip;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NGINX: &str = "/usr/sbin/nginx";

pub struct Nginx {
    pub port: u16,
    /// The PEM of nginx's server certificate (for the client's roots).
    pub server_pem: String,
    child: Option<Child>,
    _dir: tempfile::TempDir,
    /// The TLS files of `start`, kept as long as nginx runs.
    _files: Option<tempfile::TempDir>,
}

impl Nginx {
    /// Starts nginx in front of `upstream` (`127.0.0.1:port`), with `client_cas` (PEM bundle)
    /// as the CAs it asks client certificates from, forwarding them in `header`.
    ///
    /// `None` when nginx is missing, after a `SKIP` line (under `CI=true` or
    /// `TROUSSEAU_REQUIRE_PEERS=1` it panics).
    pub fn start(upstream: &str, client_cas: &str, header: &str) -> Option<Nginx> {
        if !Path::new(NGINX).exists() {
            skip(&format!(
                "{NGINX} is missing: the reverse-proxy card login is NOT tested \
                 (apt-get install nginx)"
            ));
            return None;
        }
        let server =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                .expect("server certificate");
        let server_pem = server.cert.pem();
        let files = tempfile::Builder::new()
            .prefix("trousseau-nginx-tls-")
            .tempdir()
            .expect("temp dir");
        let f = files.path();
        std::fs::write(f.join("server.pem"), &server_pem).expect("write");
        std::fs::write(f.join("server.key"), server.signing_key.serialize_pem()).expect("write");
        std::fs::write(f.join("client_cas.pem"), client_cas).expect("write");
        let http = format!(
            "server {{\n    listen 127.0.0.1:{{port}} ssl;\n\
             ssl_certificate {f}/server.pem;\n    ssl_certificate_key {f}/server.key;\n\
             ssl_client_certificate {f}/client_cas.pem;\n    ssl_verify_client optional;\n\
             ssl_verify_depth 3;\n\
             location / {{\n      proxy_pass http://{upstream};\n\
             proxy_set_header Host $host;\n\
             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
             proxy_set_header {header} $ssl_client_escaped_cert;\n    }}\n  }}\n",
            f = f.display()
        );
        let mut nginx = Nginx::with_http(&http, server_pem);
        nginx._files = Some(files);
        Some(nginx)
    }

    /// Starts nginx as a plain HTTP round-robin load balancer in front of `upstreams`
    /// (`127.0.0.1:port` each), as a hospital puts several nodes behind its proxy: no affinity,
    /// a failed node skipped (`proxy_next_upstream`, POSTs included), and the node that
    /// answered named in the `X-Upstream` response header.
    ///
    /// `None` when nginx is missing, after a `SKIP` line (under `CI=true` it panics).
    pub fn round_robin(upstreams: &[String]) -> Option<Nginx> {
        if !Path::new(NGINX).exists() {
            skip(&format!(
                "{NGINX} is missing: several nodes behind a load balancer are NOT tested \
                 (apt-get install nginx)"
            ));
            return None;
        }
        let servers: String = upstreams
            .iter()
            .map(|u| format!("    server {u} max_fails=1 fail_timeout=30s;\n"))
            .collect();
        let http = format!(
            "upstream trousseau {{\n{servers}  }}\n\
             server {{\n    listen 127.0.0.1:{{port}};\n\
             location / {{\n      proxy_pass http://trousseau;\n\
             proxy_set_header Host $http_host;\n\
             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
             proxy_next_upstream error timeout non_idempotent;\n\
             proxy_connect_timeout 2s;\n\
             add_header X-Upstream $upstream_addr always;\n    }}\n  }}\n"
        );
        Some(Nginx::with_http(&http, String::new()))
    }

    /// Runs nginx with `http` as its `http` block's servers (`{port}` is the listening port).
    fn with_http(http: &str, server_pem: String) -> Nginx {
        let dir = tempfile::Builder::new()
            .prefix("trousseau-nginx-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        for sub in ["body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"] {
            std::fs::create_dir_all(d.join(sub)).expect("dir");
        }
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let conf = format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
                 error_log {d}/logs/error.log info;\nevents {{ worker_connections 256; }}\n\
                 http {{\n  access_log {d}/logs/access.log;\n\
                 client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
                 fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
                 scgi_temp_path {d}/scgi;\n{servers}}}\n",
                d = d.display(),
                servers = http.replace("{port}", &port.to_string())
            );
            let conf_file = d.join("nginx.conf");
            std::fs::write(&conf_file, conf).expect("write conf");
            let mut child = Command::new(NGINX)
                .arg("-p")
                .arg(d)
                .arg("-c")
                .arg(&conf_file)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nginx starts");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Nginx {
                        port,
                        server_pem,
                        child: Some(child),
                        _dir: dir,
                        _files: None,
                    };
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(d.join("logs/error.log")).unwrap_or_default();
        panic!("nginx did not start: {log}");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
