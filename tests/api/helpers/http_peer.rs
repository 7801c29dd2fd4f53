//! The one fake HTTP peer of the tests: a loopback server that records every request and
//! answers what the test scripted (a back-channel logout receiver, a CRL or OCSP responder, the
//! RPPS download, and next the Pro Santé Connect endpoints).

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use super::wait;

/// A request the peer received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first value of a header (names compared without case).
    #[allow(dead_code)]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the peer answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Reply {
    /// An empty answer with this status.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            content_type: "text/plain".to_owned(),
            body: Vec::new(),
        }
    }

    /// A 200 answer with this body.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            content_type: content_type.to_owned(),
            body: body.into(),
        }
    }
}

type Script = Box<dyn Fn(&Request) -> Reply + Send + Sync>;

struct Shared {
    requests: Mutex<Vec<Request>>,
    script: Mutex<Script>,
}

/// A scripted HTTP server on 127.0.0.1 (port 0), alive until the test ends.
pub struct HttpPeer {
    base: String,
    shared: Arc<Shared>,
}

impl HttpPeer {
    /// Starts a peer answering every request with `script(request)`.
    pub async fn start(script: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> HttpPeer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(Box::new(script)),
        });
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .default_service(web::to(answer))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        HttpPeer {
            base: format!("http://127.0.0.1:{port}"),
            shared,
        }
    }

    /// The absolute URL of `path` on this peer.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answers the next requests with `script` instead.
    #[allow(dead_code)]
    pub fn answer(&self, script: impl Fn(&Request) -> Reply + Send + Sync + 'static) {
        *self.shared.script.lock().unwrap() = Box::new(script);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// How many requests were received so far.
    pub fn count(&self) -> usize {
        self.shared.requests.lock().unwrap().len()
    }

    /// Waits until `n` requests arrived (bounded by [`wait::LIMIT`]); all requests so far.
    pub async fn wait_for(&self, n: usize) -> Vec<Request> {
        wait::until(&format!("{n} requests at {}", self.base), || async {
            self.count() >= n
        })
        .await;
        self.requests()
    }
}

async fn answer(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let request = Request {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let reply = (shared.script.lock().unwrap())(&request);
    shared.requests.lock().unwrap().push(request);
    let status = actix_web::http::StatusCode::from_u16(reply.status).expect("a valid status");
    HttpResponse::build(status)
        .content_type(reply.content_type)
        .body(reply.body)
}
